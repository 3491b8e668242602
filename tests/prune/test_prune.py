"""Structured pruning reaches the MAC target with consistent depthwise/residual couplings; unstructured only masks."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from edgekd.errors import ConfigError
from edgekd.prune.prune import (
    UNSTRUCTURED_NOTE,
    classifier_layers,
    make_permanent,
    prune_structured,
    prune_unstructured,
    sparsity,
)
from edgekd.students import count_params_macs

SHAPE = (3, 16, 16)
CLASSES = 5


class ResDW(nn.Module):
    """Stem, an inverted-residual block (expand, depthwise, project, + skip), pool, classifier."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 16, 3, padding=1, bias=False), nn.BatchNorm2d(16), nn.ReLU())
        self.block = nn.Sequential(
            nn.Conv2d(16, 32, 1, bias=False), nn.BatchNorm2d(32), nn.ReLU6(),
            nn.Conv2d(32, 32, 3, padding=1, groups=32, bias=False), nn.BatchNorm2d(32), nn.ReLU6(),
            nn.Conv2d(32, 16, 1, bias=False), nn.BatchNorm2d(16))
        self.head = nn.Linear(16, CLASSES)

    def forward(self, x):
        x = self.stem(x)
        x = x + self.block(x)  # residual coupling: stem and project must keep the same channels
        return self.head(x.mean((2, 3)))


def test_structured_reaches_target_and_keeps_couplings():
    torch.manual_seed(0)
    model = ResDW()
    info = prune_structured(model, SHAPE, CLASSES, 0.5)
    assert info["macs_after"] <= 0.5 * info["macs_before"]
    assert info["macs_after"] > 0.3 * info["macs_before"]  # close to the target, not far below it
    assert info["params_after"] < info["params_before"]
    dw = model.block[3]
    assert dw.groups == dw.in_channels == dw.out_channels  # depthwise stays depthwise
    assert model.stem[0].out_channels == model.block[6].out_channels  # residual add still matches
    assert model.head.out_features == CLASSES
    assert model(torch.randn(2, *SHAPE)).shape == (2, CLASSES)
    assert count_params_macs(model, SHAPE)[1] == info["macs_after"]


def test_structured_rejects_ratio_outside_unit_interval():
    with pytest.raises(ConfigError, match="target_macs_ratio"):
        prune_structured(ResDW(), SHAPE, CLASSES, 1.0)


def test_classifier_is_ignored():
    model = ResDW()
    assert classifier_layers(model, CLASSES) == [model.head]


def test_unstructured_zeroes_weights_but_keeps_shapes_and_macs():
    torch.manual_seed(0)
    model = ResDW()
    params0, macs0 = count_params_macs(model, SHAPE)
    masks = prune_unstructured(model, 0.6, CLASSES)
    make_permanent(masks)
    assert count_params_macs(model, SHAPE) == (params0, macs0)  # dense cost unchanged
    assert 0.5 < sparsity(model) < 0.65  # the classifier stays dense, so a little under 0.6
    assert float((model.head.weight == 0).float().mean()) == 0.0
    assert "does not reduce dense latency" in UNSTRUCTURED_NOTE
