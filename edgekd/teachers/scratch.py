"""A small plain CNN teacher, trained on the spot (the embedded default's teacher)."""

from __future__ import annotations

import torch
from torch import nn


def _conv(cin: int, cout: int, stride: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class ScratchCNN(nn.Module):
    """VGG-like CNN: four 3×3 conv blocks (w, 2w, 4w, 4w channels; two stride-2), GAP, linear."""

    def __init__(self, in_channels: int, num_classes: int, width: int = 32):
        super().__init__()
        self.features = nn.Sequential(
            _conv(in_channels, width, 1),
            _conv(width, 2 * width, 2),
            _conv(2 * width, 4 * width, 2),
            _conv(4 * width, 4 * width, 1),
        )
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(4 * width, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # noqa: D102
        return self.classifier(torch.flatten(self.pool(self.features(x)), 1))


class MeanLogits(nn.Module):
    """Several teachers as one: the mean of their logits (``teacher.members``).

    An ensemble of independently seeded networks generalises better than its members (Hinton et
    al. 2015 distil exactly such an ensemble); averaging logits keeps it one torch module, so the
    distillation objective, the soft-label cache and the measure stage treat it as any teacher.
    """

    def __init__(self, members: list[nn.Module]):
        super().__init__()
        self.members = nn.ModuleList(members)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # noqa: D102
        return torch.stack([m(x) for m in self.members]).mean(0)
