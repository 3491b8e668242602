"""Device fitting (`edgekd targets fit`): micro-benchmarks and timed networks that fit a profile's figures."""
