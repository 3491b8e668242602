"""Golden values for the distillation losses (worked by hand in the comments)."""

import math

import pytest
import torch

from edgekd.distill.losses import hinton_kd_loss

S = torch.tensor([[1.0, 2.0, 3.0]])
T_LOGITS = torch.tensor([[3.0, 2.0, 1.0]])
Y = torch.tensor([0])


def test_hinton_golden_value():
    # T=2: p_t = softmax([1.5, 1, .5]) = [.5065, .3072, .1863], p_s = softmax([.5, 1, 1.5]) = reversed.
    # KL(p_t || p_s) = 0.320157; × T² = 1.280627. CE(s, y=0) = -log softmax(s)[0] = 2.407606.
    # alpha=0.5 → 0.5·1.280627 + 0.5·2.407606 = 1.844116.
    loss = hinton_kd_loss(S, T_LOGITS, Y, temperature=2.0, alpha=0.5)
    assert float(loss) == pytest.approx(1.844116317881803, abs=1e-6)


def test_hinton_alpha_extremes_are_pure_terms():
    assert float(hinton_kd_loss(S, T_LOGITS, Y, 2.0, 0.0)) == pytest.approx(2.40760596444438, abs=1e-6)
    assert float(hinton_kd_loss(S, T_LOGITS, Y, 2.0, 1.0)) == pytest.approx(1.2806266713192258, abs=1e-6)


def test_hinton_zero_when_student_equals_teacher_and_alpha_one():
    logits = torch.randn(8, 10)
    assert float(hinton_kd_loss(logits, logits.clone(), torch.zeros(8, dtype=torch.long), 4.0, 1.0)) == \
        pytest.approx(0.0, abs=1e-6)


def test_hinton_gradient_flows_to_student_only():
    student = S.clone().requires_grad_(True)
    teacher = T_LOGITS.clone().requires_grad_(True)
    hinton_kd_loss(student, teacher, Y, 4.0, 0.7).backward()
    assert student.grad is not None and torch.count_nonzero(student.grad) > 0
    assert teacher.grad is None
    assert math.isfinite(float(student.grad.abs().sum()))
