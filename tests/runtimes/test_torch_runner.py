"""TorchRunner: eval mode, inference mode, threads restored."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from edgekd.runtimes import TorchRunner


def test_torch_runner_uses_eval_mode_and_returns_float32():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(12, 4), nn.Dropout(0.9)).train()
    runner = TorchRunner(model, threads=1)
    x = np.ones((3, 3, 2, 2), np.float32)
    a, b = runner.predict(x), runner.predict(x)
    assert not model.training
    assert a.dtype == np.float32 and a.shape == (3, 4)
    np.testing.assert_array_equal(a, b)  # dropout off: deterministic


def test_torch_runner_restores_thread_count():
    before = torch.get_num_threads()
    other = 1 if before != 1 else 2
    runner = TorchRunner(nn.Flatten(), threads=other)
    seen = []
    runner.module.register_forward_hook(lambda *_: seen.append(torch.get_num_threads()))
    runner.predict(np.zeros((2, 1, 2, 2), np.float32))
    runner.run_once(runner.prepare(np.zeros((1, 1, 2, 2), np.float32)))
    assert seen == [other, other]
    assert torch.get_num_threads() == before


def test_torch_runner_takes_first_of_tuple_outputs():
    class Two(nn.Module):
        def forward(self, x):
            return x.flatten(1) * 2, x

    out = TorchRunner(Two()).predict(np.ones((2, 1, 1, 3), np.float32))
    np.testing.assert_array_equal(out, np.full((2, 3), 2.0, np.float32))
