"""Mixup and CutMix between the images of a batch, with the labels mixed in the same proportion.

Used by the trainer after the per-sample augmentation and before the model, so the student,
the teacher (which gets the same ``inputs``) and the hard-label loss all see the mixed batch:
that is "function matching" (Beyer et al. 2022), and for the hard-label baseline the usual
mixup/CutMix of Zhang et al. 2018 and Yun et al. 2019.

Randomness comes only from the generator the trainer passes (the epoch's generator), so an
epoch replayed after a resume mixes the same pairs with the same proportions.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch


@dataclass(frozen=True)
class MixSpec:
    """How batches are mixed.

    Attributes:
        num_classes: Width of the mixed (soft) label vectors.
        mixup: Beta(a, a) parameter of mixup's proportion; 0 = no mixup.
        cutmix: Beta(a, a) parameter of CutMix's kept area; 0 = no CutMix.
    """

    num_classes: int
    mixup: float = 0.0
    cutmix: float = 0.0

    @property
    def active(self) -> bool:
        return self.mixup > 0 or self.cutmix > 0


def mix_batch(x: torch.Tensor, labels: torch.Tensor, spec: MixSpec,
              generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Mix each sample with another one of the batch (a seeded permutation).

    When both mixup and CutMix are on, each batch uses one of them with probability 1/2.

    Args:
        x: ``(N, C, H, W)`` batch (CutMix needs the two spatial axes; mixup takes any shape).
        labels: ``(N,)`` integer labels.
        spec: Mixing settings.
        generator: Source of every random draw.

    Returns:
        The mixed batch (same shape) and ``(N, num_classes)`` label probabilities:
        ``lam · onehot(y) + (1 − lam) · onehot(y[perm])``, with ``lam`` the share of the
        original image (for CutMix, the exact area left outside the pasted box).
    """
    n = x.shape[0]
    perm = torch.randperm(n, generator=generator)
    use_cutmix = spec.cutmix > 0 and (spec.mixup <= 0 or bool(torch.rand((), generator=generator) < 0.5))
    lam = _beta(spec.cutmix if use_cutmix else spec.mixup, generator)
    if use_cutmix:
        mixed, lam = _paste_box(x, x[perm], lam, generator)
    else:
        mixed = lam * x + (1.0 - lam) * x[perm]
    onehot = torch.nn.functional.one_hot(labels, spec.num_classes).to(x.dtype)
    return mixed, lam * onehot + (1.0 - lam) * onehot[perm]


def _beta(a: float, generator: torch.Generator) -> float:
    # torch's Beta sampler takes no generator; a numpy generator seeded from ours keeps the
    # draw reproducible and tied to the epoch's stream.
    seed = int(torch.randint(0, 2**62, (), generator=generator))
    return float(np.random.default_rng(seed).beta(a, a))


def _paste_box(x: torch.Tensor, other: torch.Tensor, lam: float,
               generator: torch.Generator) -> tuple[torch.Tensor, float]:
    """Paste a box of ``other`` covering about ``1 - lam`` of the area; return the exact kept share."""
    h, w = x.shape[-2:]
    cut = math.sqrt(1.0 - lam)
    cut_h, cut_w = int(round(h * cut)), int(round(w * cut))
    cy = int(torch.randint(0, h, (), generator=generator))
    cx = int(torch.randint(0, w, (), generator=generator))
    y0, y1 = max(cy - cut_h // 2, 0), min(cy + cut_h - cut_h // 2, h)
    x0, x1 = max(cx - cut_w // 2, 0), min(cx + cut_w - cut_w // 2, w)
    mixed = x.clone()
    mixed[..., y0:y1, x0:x1] = other[..., y0:y1, x0:x1]
    return mixed, 1.0 - (y1 - y0) * (x1 - x0) / float(h * w)
