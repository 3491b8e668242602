"""EMA of the weights: the update worked by hand, buffers, and swapping in for evaluation."""

import pytest
import torch
from torch import nn

from edgekd.distill.ema import WeightEMA


def test_update_matches_the_hand_worked_average():
    model = nn.Linear(1, 1, bias=False)
    with torch.no_grad():
        model.weight.fill_(1.0)
    ema = WeightEMA(model, decay=0.9)
    for value in (3.0, 5.0):
        with torch.no_grad():
            model.weight.fill_(value)
        ema.update(model)
    # 0.9·1 + 0.1·3 = 1.2, then 0.9·1.2 + 0.1·5 = 1.58
    assert ema.shadow["weight"].item() == pytest.approx(1.58, abs=1e-6)
    assert model.weight.item() == 5.0  # the model itself is untouched


def test_batchnorm_statistics_are_averaged_and_the_counter_copied():
    model = nn.BatchNorm1d(2)
    ema = WeightEMA(model, decay=0.5)
    model.train()
    model(torch.tensor([[1.0, 3.0], [3.0, 5.0]]))  # running_mean 0 → 0.1·(2, 4) = (0.2, 0.4)
    ema.update(model)
    assert torch.allclose(ema.shadow["running_mean"], torch.tensor([0.1, 0.2]))  # 0.5·0 + 0.5·(0.2, 0.4)
    assert int(ema.shadow["num_batches_tracked"]) == 1


def test_applied_swaps_weights_in_and_back():
    model = nn.Linear(1, 1, bias=False)
    with torch.no_grad():
        model.weight.fill_(2.0)
    ema = WeightEMA(model, decay=0.5)
    with torch.no_grad():
        model.weight.fill_(4.0)
    ema.update(model)  # 3.0
    with ema.applied(model) as averaged:
        assert averaged(torch.ones(1, 1)).item() == 3.0
    assert model.weight.item() == 4.0
    restored = WeightEMA(model, decay=0.5)
    restored.load_state_dict(ema.state_dict())
    assert restored.shadow["weight"].item() == 3.0


def test_decay_must_be_a_fraction():
    with pytest.raises(ValueError, match="decay"):
        WeightEMA(nn.Linear(1, 1), decay=1.0)
