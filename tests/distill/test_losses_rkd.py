"""Relational KD (Park et al. 2019): golden values worked by hand, and the invariances."""

import math

import pytest
import torch

from edgekd.distill.losses import rkd_angle_loss, rkd_distance_loss

# Teacher: a 3-4-5 right triangle; student: a unit right isosceles triangle (both right-angled at 0).
T = torch.tensor([[0.0, 0.0], [3.0, 0.0], [0.0, 4.0]], dtype=torch.float64)
S = torch.tensor([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]], dtype=torch.float64)


def _rotation(dim: int, seed: int = 0) -> torch.Tensor:
    q, _ = torch.linalg.qr(torch.randn(dim, dim, generator=torch.Generator().manual_seed(seed), dtype=torch.float64))
    return q


def test_distance_golden_value():
    # Teacher distances d01=3, d02=4, d12=5; mean 4 -> normalised 0.75, 1, 1.25.
    # Student distances 1, 1, sqrt2; mean (2+sqrt2)/3 -> 3/(2+sqrt2) = 0.878680 (twice), 3(sqrt2-1) = 1.242641.
    # Differences 0.128680, -0.121320, -0.007359, all < 1 so Huber = x^2/2:
    # 0.5*(0.0165585 + 0.0147186 + 0.0000541) = 0.0156656 per triangle of the matrix; each pair appears
    # twice among the 3x3 = 9 entries (diagonal 0 - 0): loss = 2 * 0.0156656 / 9 = 0.00348125.
    a, b = 3 / (2 + math.sqrt(2)), 3 * (math.sqrt(2) - 1)
    hand = 2 * 0.5 * ((a - 0.75) ** 2 + (a - 1.0) ** 2 + (b - 1.25) ** 2) / 9
    assert hand == pytest.approx(0.0034812488, abs=1e-9)
    assert float(rkd_distance_loss(S, T)) == pytest.approx(hand, abs=1e-9)


def test_angle_golden_value():
    # Cosine at vertex a between b and c. Teacher: at 0 -> 0 (right angle); at (3,0): (-3,0).(-3,4)/(3*5) = 0.6;
    # at (0,4): (0,-4).(3,-4)/(4*5) = 0.8. Student: at 0 -> 0; at (1,0) and (0,1): 1/sqrt2 = 0.707107.
    # Each vertex has 2 entries (b,c) and (c,b) with the angle; b == c entries are 1 for both, others 0.
    # Huber x^2/2: 2*0.5*(0.707107-0.6)^2 + 2*0.5*(0.707107-0.8)^2 = 0.0114719 + 0.0086291 = 0.0201010
    # averaged over 3^3 = 27 entries: 0.000744482.
    c = 1 / math.sqrt(2)
    hand = (2 * 0.5 * (c - 0.6) ** 2 + 2 * 0.5 * (c - 0.8) ** 2) / 27
    assert hand == pytest.approx(0.000744482, abs=1e-9)
    assert float(rkd_angle_loss(S, T)) == pytest.approx(hand, abs=1e-9)


def test_huber_is_linear_beyond_one():
    # Cosines that differ by 2 (student -1, teacher +1) cost Huber 2 - 0.5 = 1.5, not 2^2/2 = 2.
    teacher = torch.tensor([[0.0], [1.0], [2.0]], dtype=torch.float64)   # 0 between 1 and 2: cos(angle at 0) = +1
    student = torch.tensor([[0.0], [1.0], [-1.0]], dtype=torch.float64)  # 0 between 1 and -1: cos = -1
    # Vertex 0: (1,2),(2,1) differ by 2 -> 1.5 each. Vertex 1: teacher (0,2) from 1 = -1,+1 -> cos -1;
    # student from 1: -1, -2 -> cos +1: 2 entries of 1.5. Vertex 2: teacher from 2: -2, -1 -> +1;
    # student from -1: +1, +2 -> +1: 0. Total 4 * 1.5 = 6 over 27 entries.
    assert float(rkd_angle_loss(student, teacher)) == pytest.approx(6 / 27, abs=1e-9)


def test_distance_loss_is_zero_for_a_scaled_copy():
    teacher = torch.randn(6, 5, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    assert float(rkd_distance_loss(3.7 * teacher, teacher)) == pytest.approx(0.0, abs=1e-12)
    assert float(rkd_distance_loss(3.7 * teacher @ _rotation(5) + 2.0, teacher)) == pytest.approx(0.0, abs=1e-12)
    assert float(rkd_distance_loss(teacher.flip(0), teacher)) > 1e-4  # a different arrangement costs something


def test_angle_loss_is_zero_for_a_rotated_scaled_copy():
    teacher = torch.randn(6, 4, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    student = 0.25 * teacher @ _rotation(4, seed=3)
    assert float(rkd_angle_loss(student, teacher)) == pytest.approx(0.0, abs=1e-12)
    assert float(rkd_angle_loss(student.flip(0), teacher)) > 1e-4


def test_widths_may_differ_and_gradient_reaches_student_only():
    gen = torch.Generator().manual_seed(4)
    student = torch.randn(8, 16, generator=gen, requires_grad=True)
    teacher = torch.randn(8, 64, generator=gen, requires_grad=True)
    (rkd_distance_loss(student, teacher) + 2 * rkd_angle_loss(student, teacher)).backward()
    assert student.grad is not None and torch.isfinite(student.grad).all() and student.grad.abs().sum() > 0
    assert teacher.grad is None


def test_coincident_points_keep_gradients_finite():
    student = torch.tensor([[1.0, 1.0], [1.0, 1.0], [0.0, 2.0]], requires_grad=True)
    loss = rkd_distance_loss(student, T.float()) + rkd_angle_loss(student, T.float())
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(student.grad).all()


def test_a_single_sample_is_rejected():
    with pytest.raises(ValueError, match="at least 2"):
        rkd_distance_loss(torch.ones(1, 3), torch.ones(1, 3))
