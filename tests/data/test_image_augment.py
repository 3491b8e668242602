"""The random-resized crop: a zoomed, in-bounds, optionally mirrored view; seeded; config rules."""

import numpy as np
import pytest
import torch

from edgekd.config import load_config
from edgekd.data.images import ImageAugmenter
from edgekd.errors import ConfigError


def _ramp(n=32, side=16):
    """Every row rises left to right from 0 to 1: a crop keeps the slope, a flip reverses it."""
    row = torch.linspace(0, 1, side)
    return row.expand(n, 3, side, side).contiguous()


def _augmenter(flip, scale=(0.3, 1.0)):
    return ImageAugmenter(np.zeros(3, np.float32), np.ones(3, np.float32), 0, flip, scale)


def test_resized_crop_zooms_inside_the_image():
    x = _ramp()
    out = _augmenter(flip=False)(x, torch.Generator().manual_seed(0))
    assert out.shape == x.shape
    assert float(out.min()) >= 0.0 and float(out.max()) <= 1.0  # samples only inside the image
    rows = out[:, 0, 0]  # (N, W)
    assert bool((rows[:, 1:] >= rows[:, :-1] - 1e-6).all())  # no flip: still rising
    spans = rows[:, -1] - rows[:, 0]
    assert float(spans.min()) < 0.9  # some crops are narrower than the image (a zoom)


def test_flip_is_folded_into_the_crop_and_draws_are_seeded():
    x = _ramp()
    aug = _augmenter(flip=True)
    out = aug(x, torch.Generator().manual_seed(1))
    slopes = out[:, 0, 0, -1] - out[:, 0, 0, 0]
    assert (slopes > 0).any() and (slopes < 0).any()
    assert torch.equal(out, aug(x, torch.Generator().manual_seed(1)))
    assert aug.describe()["resized_crop"]["area"] == [0.3, 1.0]


@pytest.mark.parametrize("bad", ["data.augment.resized_crop_scale=[0.5, 1.5]",
                                 "data.augment.resized_crop_scale=[0.8, 0.5]"])
def test_resized_crop_keys_validate(bad):
    base = ["data.kind=image_folder", "data.root=/nowhere"]
    with pytest.raises(ConfigError):
        load_config(None, [*base, bad])
    with pytest.raises(ConfigError, match="either"):
        load_config(None, [*base, "data.augment.resized_crop_scale=[0.5, 1]", "data.augment.random_crop_padding=4"])
