"""FitNets hint loss: golden values worked by hand, spatial matching, gradient routing."""

import pytest
import torch

from edgekd.distill.losses import FitNetsHint

# Student map, 2 channels of 2x2: channel 0 = [[1,2],[3,4]], channel 1 = all ones.
S = torch.tensor([[[[1.0, 2.0], [3.0, 4.0]], [[1.0, 1.0], [1.0, 1.0]]]])


def _hint(pairs: int) -> FitNetsHint:
    hint = FitNetsHint([2] * pairs, [1] * pairs)
    with torch.no_grad():
        for adapter in hint.adapters:  # 1x1 conv 2->1 with weights [2, 1]: out = 2*ch0 + ch1
            adapter.weight.copy_(torch.tensor([2.0, 1.0]).view(1, 2, 1, 1))
    return hint


def test_same_size_golden_value():
    # adapter(S) = 2*[[1,2],[3,4]] + 1 = [[3,5],[7,9]]; teacher [[3,4],[8,9]]
    # differences 0, 1, -1, 0 -> MSE = (0 + 1 + 1 + 0) / 4 = 0.5
    teacher = torch.tensor([[[[3.0, 4.0], [8.0, 9.0]]]])
    assert _hint(1)([S], [teacher]).item() == pytest.approx(0.5, abs=1e-6)


def test_larger_student_map_is_pooled_to_the_teacher_size():
    # adapter(S) = [[3,5],[7,9]] pooled to 1x1 = (3+5+7+9)/4 = 6; teacher [[4]] -> (6-4)^2 = 4
    # two pairs: pair 1 = 0.5 (as above), pair 2 = 4 -> mean over pairs (0.5 + 4) / 2 = 2.25
    t_same = torch.tensor([[[[3.0, 4.0], [8.0, 9.0]]]])
    t_small = torch.tensor([[[[4.0]]]])
    assert _hint(2)([S, S], [t_same, t_small]).item() == pytest.approx(2.25, abs=1e-6)


def test_larger_teacher_map_is_pooled_to_the_student_size():
    # student 1x1 map: ch0 = 1, ch1 = 1 -> adapter = 2*1 + 1 = 3; teacher [[1,2],[3,6]] pooled = 3 -> 0
    student = torch.ones(1, 2, 1, 1)
    teacher = torch.tensor([[[[1.0, 2.0], [3.0, 6.0]]]])
    assert _hint(1)([student], [teacher]).item() == pytest.approx(0.0, abs=1e-6)
    # teacher [[1,2],[3,10]] pooled = 4 -> (3 - 4)^2 = 1
    assert _hint(1)([student], [teacher + torch.tensor([0, 0, 0, 4.0]).view(1, 1, 2, 2)]).item() == \
        pytest.approx(1.0, abs=1e-6)


def test_gradients_reach_adapters_and_student_not_teacher():
    torch.manual_seed(0)
    hint = FitNetsHint([8, 4], [16, 6])
    s1, s2 = torch.randn(2, 8, 8, 8, requires_grad=True), torch.randn(2, 4, 4, 4, requires_grad=True)
    t1, t2 = torch.randn(2, 16, 4, 4, requires_grad=True), torch.randn(2, 6, 4, 4, requires_grad=True)
    hint([s1, s2], [t1, t2]).backward()
    assert all(a.weight.grad is not None and a.weight.grad.abs().sum() > 0 for a in hint.adapters)
    assert s1.grad.abs().sum() > 0 and s2.grad.abs().sum() > 0
    assert t1.grad is None and t2.grad is None


def test_mismatched_pair_counts_are_rejected():
    with pytest.raises(ValueError, match="as many student as teacher"):
        FitNetsHint([8, 4], [16])
    with pytest.raises(ValueError, match="expected 1 student and teacher maps"):
        _hint(1)([S, S], [S])
