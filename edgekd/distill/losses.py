"""Distillation losses: Hinton KD on logits, FitNets hints on feature maps, RKD on embeddings."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn


def hinton_kd_loss(student_logits: torch.Tensor, teacher_logits: torch.Tensor, labels: torch.Tensor,
                   temperature: float, alpha: float) -> torch.Tensor:
    """Hinton et al. (2015) knowledge distillation loss.

    ``alpha · T² · KL(softmax(t/T) ‖ softmax(s/T)) + (1 − alpha) · CE(s, y)``. The T² factor keeps
    the soft term's gradient scale independent of T, as in the paper.

    Args:
        student_logits: (N, K) raw student outputs.
        teacher_logits: (N, K) raw teacher outputs (no gradient needed).
        labels: (N,) integer class labels, or (N, K) class probabilities (mixed labels of mixup/CutMix).
        temperature: Softening temperature T > 0.
        alpha: Weight of the soft term in [0, 1].

    Returns:
        The scalar loss (batch mean).
    """
    t = float(temperature)
    soft = F.kl_div(F.log_softmax(student_logits / t, dim=1), F.log_softmax(teacher_logits.detach() / t, dim=1),
                    reduction="batchmean", log_target=True) * (t * t)
    hard = F.cross_entropy(student_logits, labels)
    return alpha * soft + (1.0 - alpha) * hard


class FitNetsHint(nn.Module):
    """FitNets hint loss (Romero et al., 2015): regress teacher feature maps from student ones.

    One 1×1 convolution (no bias) per hinted pair maps the student's channels to the teacher's;
    when the spatial sizes differ, the larger map is brought to the smaller size with adaptive
    average pooling (pooling can only shrink). The loss is the MSE between adapted student and
    (detached) teacher maps, averaged over the pairs. The adapters are trainable: give this
    module's parameters to the student's optimiser.

    Args:
        student_channels: Channels of each hinted student feature map.
        teacher_channels: Channels of the matching teacher feature maps (same length).

    Raises:
        ValueError: Different numbers of student and teacher maps, or none.
    """

    def __init__(self, student_channels: Sequence[int], teacher_channels: Sequence[int]):
        super().__init__()
        if len(student_channels) != len(teacher_channels) or not student_channels:
            raise ValueError(f"FitNetsHint needs as many student as teacher maps (at least one), got "
                             f"{len(student_channels)} and {len(teacher_channels)}")
        self.adapters = nn.ModuleList(nn.Conv2d(int(s), int(t), kernel_size=1, bias=False)
                                      for s, t in zip(student_channels, teacher_channels))

    def forward(self, student_feats: Sequence[torch.Tensor], teacher_feats: Sequence[torch.Tensor]) -> torch.Tensor:
        """Mean over pairs of ``MSE(adapter(student_map), teacher_map)``.

        Args:
            student_feats: ``(N, C_s, H_s, W_s)`` maps, in the order of ``student_channels``.
            teacher_feats: ``(N, C_t, H_t, W_t)`` maps, in the order of ``teacher_channels``.

        Returns:
            The scalar loss.
        """
        if len(student_feats) != len(self.adapters) or len(teacher_feats) != len(self.adapters):
            raise ValueError(f"expected {len(self.adapters)} student and teacher maps, got {len(student_feats)} and "
                             f"{len(teacher_feats)}")
        total = student_feats[0].new_zeros(())
        for adapter, s, t in zip(self.adapters, student_feats, teacher_feats):
            a, t = adapter(s), t.detach()
            if a.shape[-2:] != t.shape[-2:]:
                size = (min(a.shape[-2], t.shape[-2]), min(a.shape[-1], t.shape[-1]))
                a = F.adaptive_avg_pool2d(a, size) if tuple(a.shape[-2:]) != size else a
                t = F.adaptive_avg_pool2d(t, size) if tuple(t.shape[-2:]) != size else t
            total = total + F.mse_loss(a, t)
        return total / len(self.adapters)


def _pair(student_emb: torch.Tensor, teacher_emb: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Flattened ``(N, D)`` embeddings of one batch; RKD needs at least two samples."""
    s, t = student_emb.flatten(1), teacher_emb.detach().flatten(1).to(student_emb.dtype)
    if len(s) != len(t) or len(s) < 2:
        raise ValueError(f"RKD needs the same batch of at least 2 samples, got {len(s)} and {len(t)}")
    return s, t


def _pairwise_distances(emb: torch.Tensor) -> torch.Tensor:
    """Euclidean distance matrix ``[N, N]`` with an exact zero diagonal.

    Squared distances are clamped before the square root so its gradient stays finite for
    coincident points (as in the authors' code).
    """
    sq = emb.pow(2).sum(1)
    d2 = (sq.unsqueeze(0) + sq.unsqueeze(1) - 2 * emb @ emb.t()).clamp_min(1e-12)
    return d2.sqrt() * (1 - torch.eye(len(emb), dtype=emb.dtype, device=emb.device))


def _normalised_distances(emb: torch.Tensor) -> torch.Tensor:
    d = _pairwise_distances(emb)
    return d / d[d > 0].mean()


def rkd_distance_loss(student_emb: torch.Tensor, teacher_emb: torch.Tensor) -> torch.Tensor:
    """Relational KD, distance term (Park et al., 2019).

    Each embedding's pairwise Euclidean distances are divided by their mean (over distinct
    pairs), so only the *shape* of the batch matters, not its scale; the loss is the
    smooth-L1 (Huber, δ=1) difference, averaged over all ``N × N`` entries of the distance
    matrix (diagonal included, as in the authors' code). Embedding widths may differ.

    Args:
        student_emb: ``(N, D_s)`` student embeddings (more dims are flattened).
        teacher_emb: ``(N, D_t)`` teacher embeddings (no gradient flows into them).

    Returns:
        The scalar loss.
    """
    s, t = _pair(student_emb, teacher_emb)
    with torch.no_grad():
        target = _normalised_distances(t)
    return F.smooth_l1_loss(_normalised_distances(s), target, beta=1.0)


def _angles(emb: torch.Tensor) -> torch.Tensor:
    """``[N, N, N]`` cosines: entry (a, b, c) is the cosine of angle b-a-c (0 where a coincides with b or c)."""
    diff = F.normalize(emb.unsqueeze(0) - emb.unsqueeze(1), p=2, dim=2)  # diff[a, b] = e_b - e_a, unit length
    return torch.bmm(diff, diff.transpose(1, 2))


def rkd_angle_loss(student_emb: torch.Tensor, teacher_emb: torch.Tensor) -> torch.Tensor:
    """Relational KD, angle term (Park et al., 2019).

    For every triplet (a, b, c) the cosine of the angle at ``a`` between ``b`` and ``c``; the
    loss is the smooth-L1 (Huber, δ=1) difference of student and teacher cosines averaged
    over all ``N³`` entries (as in the authors' code). Invariant to rotation, scale and
    translation of either embedding.

    Args:
        student_emb: ``(N, D_s)`` student embeddings (more dims are flattened).
        teacher_emb: ``(N, D_t)`` teacher embeddings (no gradient flows into them).

    Returns:
        The scalar loss.
    """
    s, t = _pair(student_emb, teacher_emb)
    with torch.no_grad():
        target = _angles(t)
    return F.smooth_l1_loss(_angles(s), target, beta=1.0)
