"""A tiny Conv-BN-ReLU / depthwise / pointwise / pool / linear CNN trained on a separable task.

Shared by tests/export and tests/quantize (their conftest.py files load it by path).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

SHAPE = (1, 3, 16, 16)
CLASSES = 4


class TinyNet(nn.Module):
    """Conv-BN-ReLU, depthwise Conv-BN-ReLU6, pointwise Conv-ReLU, global pool, Linear."""

    def __init__(self, classes: int = CLASSES):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 8, 3, padding=1, bias=False), nn.BatchNorm2d(8), nn.ReLU(),
            nn.Conv2d(8, 8, 3, padding=1, groups=8, bias=False), nn.BatchNorm2d(8), nn.ReLU6(),
            nn.Conv2d(8, 16, 1), nn.ReLU(),
            nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.head = nn.Linear(16, classes)

    def forward(self, x):
        return self.head(self.features(x))


def synthetic(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Class k: a 6x6 patch in quadrant k, bright on channel k (k < 3) or dark on channel 0 (k = 3), plus noise.

    Separable after global pooling (the channel and sign differ), structured in space.
    """
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, CLASSES, n)
    x = rng.normal(0.0, 0.3, (n, *SHAPE[1:])).astype(np.float32)
    for i, k in enumerate(labels):
        r, c = (k // 2) * 8 + 1, (k % 2) * 8 + 1
        x[i, k % 3, r:r + 6, c:c + 6] += -1.5 if k == 3 else 1.5
    return x, labels.astype(np.int64)


def trained_model(steps: int = 50) -> TinyNet:
    """TinyNet after ``steps`` Adam steps on :func:`synthetic` (eval mode)."""
    torch.manual_seed(0)
    model = TinyNet()
    x, y = synthetic(512, seed=1)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    gen = torch.Generator().manual_seed(0)
    model.train()
    for _ in range(steps):
        idx = torch.randint(0, len(x), (32,), generator=gen)
        opt.zero_grad()
        nn.functional.cross_entropy(model(xt[idx]), yt[idx]).backward()
        opt.step()
    return model.eval()


def torch_logits(model: nn.Module, x: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        return model(torch.from_numpy(x)).numpy()


class SvdNet(nn.Module):
    """Uses torch.linalg.svd, which neither litert-torch, coremltools nor torch.onnx (opset 17) supports."""

    def forward(self, x):
        return torch.linalg.svd(x.flatten(1)[:, :4].reshape(-1, 2, 2))[1]


def leftovers(folder) -> list[str]:
    """Temporary names edgekd.atomic would leave behind (``.*.tmp-*``)."""
    return sorted(p.name for p in folder.iterdir() if ".tmp-" in p.name)
