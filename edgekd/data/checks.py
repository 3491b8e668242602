"""Checks every loaded dataset passes before a build uses it: no empty split, no non-finite input.

A NaN input does not stop training or measurement: it flows through to NaN logits, NaN
metrics and a report that cannot be written. An empty val split fails deep inside the
trainer. Both are the user's data to fix, so they are refused here, once, for every kind.
"""

from __future__ import annotations

import numpy as np
import torch

from ..errors import DataError
from .bundle import DataBundle

# Fewest samples each split needs: one is enough to train, select an epoch and measure.
MIN_SAMPLES = {"train": 1, "val": 1, "test": 1, "representative": 1}
_SHOWN = 5  # sample indices named in a message


def check_bundle(bundle: DataBundle, source: str) -> DataBundle:
    """Return ``bundle`` if every split is non-empty and finite.

    Args:
        bundle: The loaded dataset.
        source: The data file or folder (for messages).

    Raises:
        DataError: a split below its minimum size, or inputs with NaN/±inf (naming the
            split, the counts and the first samples).
    """
    for name in ("train", "val", "test", "representative"):
        split = getattr(bundle, name)
        if len(split) < MIN_SAMPLES[name]:
            raise DataError(f"{source}: the {name} split has {len(split)} samples (needs at least "
                            f"{MIN_SAMPLES[name]})", fix=f"add samples or change data.split so {name} gets some")
        problem = non_finite_summary(split.x)
        if problem:
            raise DataError(f"{source}: the {name} split has non-finite inputs: {problem}",
                            fix="replace or drop those samples (e.g. numpy.nan_to_num) before building")
    return bundle


def non_finite_summary(x: torch.Tensor | np.ndarray) -> str | None:
    """``"3 NaN, 1 +inf in 2 of 40 samples (sample 4, 9)"`` for an array with non-finite values; else None."""
    arr = x.numpy() if isinstance(x, torch.Tensor) else np.asarray(x)
    if arr.dtype.kind != "f" or len(arr) == 0:
        return None
    bad = ~np.isfinite(arr)
    if not bad.any():
        return None
    counts = {"NaN": int(np.isnan(arr).sum()), "+inf": int(np.isposinf(arr).sum()), "-inf": int(np.isneginf(arr).sum())}
    per_sample = bad.reshape(len(arr), -1).any(axis=1)
    samples = np.flatnonzero(per_sample)
    shown = ", ".join(str(int(i)) for i in samples[:_SHOWN]) + (", …" if len(samples) > _SHOWN else "")
    values = ", ".join(f"{n} {kind}" for kind, n in counts.items() if n)
    return f"{values} in {len(samples)} of {len(arr)} samples (sample {shown})"
