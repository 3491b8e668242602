"""CIFAR-10 ResNets (He et al. 2016, CIFAR variant), as a user's own teacher model file.

Matches the pretrained checkpoints in ``../shared/data/cifar10-resnet`` (Yerlan Idelbayev,
BSD-2-Clause): conv3x3(3→16)+BN+ReLU, three stages of BasicBlocks at 16/32/64 channels
(stride 2 at the first block of stages 2 and 3) with "option A" shortcuts (identity,
stride-2 subsampling and zero-padded channels: no weights), global average pool, linear.
Depth = 6n + 2 (20, 32, 44, 56, 110).

Use it as an edgekd teacher::

    teacher:
      kind: torch
      factory: benchmarks/models/cifar_resnet.py:make_model
      factory_kwargs: {depth: 20}
      weights: ../shared/data/cifar10-resnet/resnet20-12fca82f.th
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class BasicBlock(nn.Module):
    """Two 3×3 conv+BN layers with an option-A (parameter-free) shortcut."""

    def __init__(self, cin: int, cout: int, stride: int = 1):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.pad = cout - cin  # channels to zero-pad onto the shortcut
        self.stride = stride

    def shortcut(self, x: torch.Tensor) -> torch.Tensor:
        """Identity, or every other pixel with the extra channels zero-padded (split evenly, as in the paper)."""
        if self.stride == 1 and self.pad == 0:
            return x
        x = x[:, :, ::self.stride, ::self.stride]
        return F.pad(x, (0, 0, 0, 0, self.pad // 2, self.pad - self.pad // 2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # noqa: D102
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + self.shortcut(x))


class CifarResNet(nn.Module):
    """ResNet for 32×32 inputs; ``n`` BasicBlocks per stage."""

    def __init__(self, n: int, num_classes: int = 10):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 16, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        self.layer1 = self._stage(16, 16, n, 1)
        self.layer2 = self._stage(16, 32, n, 2)
        self.layer3 = self._stage(32, 64, n, 2)
        self.linear = nn.Linear(64, num_classes)

    @staticmethod
    def _stage(cin: int, cout: int, n: int, stride: int) -> nn.Sequential:
        return nn.Sequential(*[BasicBlock(cin if i == 0 else cout, cout, stride if i == 0 else 1) for i in range(n)])

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # noqa: D102
        x = F.relu(self.bn1(self.conv1(x)))
        x = self.layer3(self.layer2(self.layer1(x)))
        return self.linear(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


def make_model(depth: int = 20, num_classes: int = 10) -> CifarResNet:
    """Build a CIFAR ResNet of ``depth`` = 6n + 2 layers (20 → n=3, 56 → n=9).

    Raises:
        ValueError: ``depth`` is not of the form 6n + 2.
    """
    if (depth - 2) % 6 or depth < 8:
        raise ValueError(f"depth must be 6n + 2 (20, 32, 44, 56, 110), got {depth}")
    return CifarResNet((depth - 2) // 6, num_classes)
