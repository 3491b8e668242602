"""Measurement on this host: accuracy, probability calibration (ECE), parity, latency, RSS."""
