"""count_params_macs: exact on hand-computed models and side-effect free."""

from __future__ import annotations

import torch
from torch import nn

from edgekd.students import count_params_macs


def test_conv_and_linear_exact():
    model = nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1),  # 8 x 8 x 8 outputs, 3 * 9 MACs each
        nn.BatchNorm2d(8),
        nn.ReLU(),
        nn.Flatten(),
        nn.Linear(8 * 8 * 8, 10),
    )
    params, macs = count_params_macs(model, (3, 8, 8))
    assert macs == 8 * 3 * 9 * 64 + 512 * 10
    assert params == (8 * 3 * 9 + 8) + (8 + 8) + (512 * 10 + 10)


def test_depthwise_strided_and_conv1d():
    depthwise = nn.Conv2d(8, 8, 3, stride=2, padding=1, groups=8, bias=False)  # 4 x 4 outputs
    grouped = nn.Conv2d(8, 16, 1, groups=2, bias=False)  # 4 input channels per output
    assert count_params_macs(nn.Sequential(depthwise, grouped), (8, 8, 8)) == (
        8 * 9 + 16 * 4, 8 * 9 * 16 + 16 * 4 * 16)
    conv1d = nn.Conv1d(2, 4, 5)  # length 20 -> 16
    assert count_params_macs(conv1d, (2, 20)) == (4 * 2 * 5 + 4, 4 * 16 * 2 * 5)


class _Shared(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(6, 6)

    def forward(self, x):
        return self.fc(torch.relu(self.fc(x)))


def test_reused_layer_counts_every_call_and_params_once():
    assert count_params_macs(_Shared(), (6,)) == (42, 2 * 36)


def test_leaves_model_state_unchanged():
    model = nn.Sequential(nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4), nn.Dropout(0.5), nn.Flatten(),
                          nn.Linear(4 * 4 * 4, 2))
    model.train()
    model[2].eval()  # mixed modes must come back exactly as they were
    before = {k: v.clone() for k, v in model.state_dict().items()}
    count_params_macs(model, (1, 6, 6))
    assert [m.training for m in model.modules()] == [True, True, True, False, True, True]
    after = model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert not any(m._forward_hooks for m in model.modules()), "hooks must be removed"


def test_hooks_removed_when_forward_fails():
    model = nn.Sequential(nn.Linear(3, 3))
    try:
        count_params_macs(model, (5,))  # wrong shape: the forward raises
    except RuntimeError:
        pass
    assert not model[0]._forward_hooks and model.training
