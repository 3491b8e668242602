"""Distillation losses."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def hinton_kd_loss(student_logits: torch.Tensor, teacher_logits: torch.Tensor, labels: torch.Tensor,
                   temperature: float, alpha: float) -> torch.Tensor:
    """Hinton et al. (2015) knowledge distillation loss.

    ``alpha · T² · KL(softmax(t/T) ‖ softmax(s/T)) + (1 − alpha) · CE(s, y)``. The T² factor keeps
    the soft term's gradient scale independent of T, as in the paper.

    Args:
        student_logits: (N, K) raw student outputs.
        teacher_logits: (N, K) raw teacher outputs (no gradient needed).
        labels: (N,) integer class labels.
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
