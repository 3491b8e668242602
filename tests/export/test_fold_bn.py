"""fold_batchnorm: Conv+BN folded for the converter, same outputs; untraceable or training modules untouched."""

from __future__ import annotations

import torch
from torch import nn

from edgekd.export.fold_bn import fold_batchnorm
from edgekd.students import build_student


def _randomise_bn(model: nn.Module) -> nn.Module:
    torch.manual_seed(0)
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 2.0)
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.uniform_(-0.2, 0.2)
    return model.eval()


def test_student_bn_is_folded_and_outputs_agree():
    model = _randomise_bn(build_student("mobilenetv2", 10, (3, 32, 32), width=0.35))
    folded = fold_batchnorm(model)
    assert not any(isinstance(m, nn.BatchNorm2d) for m in folded.modules())
    assert any(isinstance(m, nn.BatchNorm2d) for m in model.modules())  # the caller's module is untouched
    x = torch.randn(4, 3, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(folded(x), model(x), atol=1e-5, rtol=1e-5)


class _DataDependent(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv, self.bn = nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4)

    def forward(self, x):
        if x.sum() > 0:  # torch.fx cannot trace a branch on a tensor value
            return self.bn(self.conv(x))
        return self.conv(x)


def test_untraceable_and_training_modules_are_returned_as_is():
    untraceable = _DataDependent().eval()
    assert fold_batchnorm(untraceable) is untraceable
    training = _randomise_bn(build_student("mobilenetv2", 10, (3, 32, 32), width=0.35)).train()
    assert fold_batchnorm(training) is training
