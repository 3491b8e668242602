"""Pruning to a device latency target (issue 13, item 6): the same predictor the gate uses decides when to stop."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch

from edgekd.config import load_config
from edgekd.data.bundle import DataBundle, Split
from edgekd.errors import ConfigError
from edgekd.prune.prune import prune_to_latency
from edgekd.prune.stage import _latency_of, run
from edgekd.state import BuildState
from edgekd.students import build_student, count_params_macs

from .test_prune import CLASSES, SHAPE, ResDW
from .test_prune_stage import _artifacts, make_ctx


def _macs_latency(model) -> float:
    """A stand-in predictor for the loop's logic: 1 ms per million MACs plus 0.05 ms of overhead."""
    return count_params_macs(model, SHAPE)[1] / 1e6 + 0.05


def test_stops_at_the_first_step_at_or_below_the_target():
    torch.manual_seed(0)
    model = ResDW().eval()
    start = _macs_latency(model)
    info = prune_to_latency(model, SHAPE, CLASSES, _macs_latency, 0.6 * start)
    curve = info["latency_per_step_ms"]
    assert curve[0] == pytest.approx(start) and len(curve) == info["steps"] + 1
    assert curve[-1] <= 0.6 * start < curve[-2]  # the first step that fits, not a deeper one
    assert info["latency_after_ms"] == pytest.approx(_macs_latency(model))
    assert all(a >= b for a, b in zip(curve, curve[1:]))


def test_the_shipped_figure_decides_when_the_fast_one_is_optimistic():
    """The loop steps on a fast stand-in; the shipped model's prediction (here 15% slower) must fit before it stops."""
    torch.manual_seed(0)
    model = ResDW().eval()
    shipped_calls = []

    def shipped(m):
        shipped_calls.append(1)
        return 1.15 * _macs_latency(m)

    target = 0.6 * shipped(model)
    info = prune_to_latency(model, SHAPE, CLASSES, _macs_latency, target, confirm=shipped)
    assert info["latency_after_ms"] == pytest.approx(shipped(model)) and info["latency_after_ms"] <= target
    assert info["latency_before_ms"] == pytest.approx(target / 0.6)
    fast = info["latency_per_step_ms"]
    assert fast[-1] <= target / 1.15 + 1e-12 and sum(f <= target for f in fast) > 1  # it kept going past the fast fit
    assert len(shipped_calls) < len(fast) + 2  # the slow figure only where the fast one fits (and before pruning)


def test_an_unreachable_target_names_the_closest_prediction():
    torch.manual_seed(0)
    with pytest.raises(ConfigError, match=r"reached a predicted .* ms .*not prune.target_latency_ms=0.01"):
        prune_to_latency(ResDW().eval(), SHAPE, CLASSES, _macs_latency, 0.01)


def test_latency_target_needs_structured_pruning():
    with pytest.raises(ConfigError, match="target_latency_ms needs method: structured"):
        load_config(None, ["prune.enabled=true", "prune.method=unstructured", "prune.target_latency_ms=5"])


@pytest.mark.slow  # ~15 s: every step is exported, quantized to INT8 and costed on pixel-8
def test_stage_prunes_until_the_predicted_latency_of_the_shipped_model_fits(tmp_path):
    shape = (3, 32, 32)
    g = torch.Generator().manual_seed(0)

    def split(n: int) -> Split:
        return Split(x=torch.randn(n, *shape, generator=g), y=torch.randint(0, CLASSES, (n,), generator=g))

    data = DataBundle(name="t", task="image", class_names=tuple("abcde"), input_shape=shape, train=split(32),
                      val=split(16), test=split(16), representative=split(16))
    ctx = replace(make_ctx(tmp_path, ["prune.enabled=true", "prune.recovery_epochs=0"]), data=data)
    ctx.work_dir.mkdir(parents=True)
    torch.manual_seed(0)
    student = build_student("mobilenetv2", CLASSES, shape, width=0.35).eval()
    start = _latency_of(ctx)(student)
    target = 0.98 * start
    ctx = replace(ctx, config=load_config(None, ["prune.enabled=true", "prune.recovery_epochs=0",
                                                 f"prune.target_latency_ms={target}"]))
    arts = _artifacts()
    arts[1] = replace(arts[1], model=student, input_shape=shape)
    pruned = run(BuildState(artifacts=tuple(arts)), ctx).artifacts[-1]
    p = pruned.metrics["prune"]
    assert p["latency_before_ms"] == pytest.approx(start, rel=1e-6)
    assert p["latency_after_ms"] <= target < p["latency_before_ms"]
    # the figure the prune stopped at is the one the gate would judge for the shipped model
    assert _latency_of(ctx)(pruned.model) == pytest.approx(p["latency_after_ms"], rel=1e-6)
    assert any("pruned to a latency target on pixel-8" in n for n in pruned.notes)
