"""The embedded default dataset: scikit-learn's bundled handwritten digits.

1,797 real 8×8 grey-level scans (UCI "Optical Recognition of Handwritten Digits"),
shipped inside scikit-learn, so the default build needs no download.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from .bundle import DataBundle, Split
from .schema import DigitsData

# Raw pixels are counts 0..16; mapping to [-1, 1] keeps the inputs centred.
_PIXEL_MAX = 16.0


def load_digits_bundle(cfg: DigitsData, seed: int) -> DataBundle:
    """Load, upsample and split the digits with a fixed, stratified split.

    Args:
        cfg: The data section of the config.
        seed: Seeds the split and the representative subset.

    Returns:
        A :class:`DataBundle` with 1×R×R images in [-1, 1].
    """
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    images = torch.from_numpy(digits.images.astype(np.float32))[:, None] / _PIXEL_MAX * 2.0 - 1.0
    images = F.interpolate(images, size=(cfg.resolution, cfg.resolution), mode="bilinear", align_corners=False)
    labels = torch.from_numpy(digits.target.astype(np.int64))
    index = np.arange(len(labels))
    rest, test_idx = train_test_split(index, test_size=cfg.test_fraction, stratify=digits.target,
                                      random_state=seed)
    val_share = cfg.val_fraction / (1.0 - cfg.test_fraction)
    train_idx, val_idx = train_test_split(rest, test_size=val_share, stratify=digits.target[rest],
                                          random_state=seed)
    rng = np.random.default_rng(seed)
    representative_idx = rng.choice(train_idx, size=min(cfg.representative_samples, len(train_idx)), replace=False)

    def take(idx: np.ndarray) -> Split:
        idx_t = torch.from_numpy(np.sort(idx))
        return Split(images[idx_t].contiguous(), labels[idx_t].contiguous())

    return DataBundle(
        name="sklearn-digits",
        task="image",
        class_names=tuple(str(d) for d in range(10)),
        input_shape=(1, cfg.resolution, cfg.resolution),
        train=take(train_idx),
        val=take(val_idx),
        test=take(test_idx),
        representative=take(representative_idx),
        preprocessing={
            "source": "8x8 grey levels 0..16 (sklearn.datasets.load_digits)",
            "resize": {"size": [cfg.resolution, cfg.resolution], "mode": "bilinear"},
            "scale": "x / 16 * 2 - 1",
            "layout": "NCHW",
        },
    )
