"""Deploy bundles: the chosen model packaged for the target's runtime (see :mod:`edgekd.deploy.stage`)."""
