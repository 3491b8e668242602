"""tune_onnx_int8: keeps sensitive ops in float until the drop fits; keeps the best when it cannot."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
import pytest

from edgekd.export.onnx import export_onnx
from edgekd.quantize.inc_tune import WEIGHTED_OPS, tune_onnx_int8


@pytest.fixture(scope="module")
def fp32(tmp_path_factory, tiny_model, lib):
    return export_onnx(tiny_model, lib.SHAPE, tmp_path_factory.mktemp("fp32") / "m.onnx")


def _top1_fn(x, y):
    def top1(path):
        logits = ort.InferenceSession(path, providers=["CPUExecutionProvider"]).run(None, {"input": x})[0]
        return float(np.mean(logits.argmax(1) == y))
    return top1


def _quantized_weighted_ops(path) -> int:
    """Weighted nodes whose weight comes from a DequantizeLinear (i.e. run in INT8)."""
    graph = onnx.load(str(path)).graph
    dq_outputs = {n.output[0] for n in graph.node if n.op_type == "DequantizeLinear"}
    return sum(1 for n in graph.node if n.op_type in WEIGHTED_OPS and n.input[1] in dq_outputs)


def test_all_int8_meets_a_loose_budget_in_one_trial(tmp_path, fp32, data):
    representative, x, y = data
    result = tune_onnx_int8(fp32, tmp_path / "t.onnx", representative, _top1_fn(x, y), max_top1_drop=0.05)
    assert result["met_budget"] and result["trials"] == 1 and result["float_ops"] == []
    assert result["drop"] <= 0.05 and result["path"].exists()
    assert _quantized_weighted_ops(result["path"]) == 4


def test_keeps_ops_in_float_until_budget_met(tmp_path, fp32, data):
    representative, x, y = data
    real = _top1_fn(x, y)

    def strict(path):  # every INT8 weighted op costs 10 points: only one may stay INT8
        return real(path) - (0.1 * _quantized_weighted_ops(path) if "trial" in path else 0.0)

    result = tune_onnx_int8(fp32, tmp_path / "t.onnx", representative, strict, max_top1_drop=0.15, max_trials=8)
    assert result["met_budget"]
    assert len(result["float_ops"]) >= 3 and result["trials"] == len(result["float_ops"]) + 1
    assert _quantized_weighted_ops(result["path"]) == 4 - len(result["float_ops"])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.onnx"]


def test_missed_budget_keeps_best_candidate(tmp_path, fp32, data):
    representative, x, y = data
    result = tune_onnx_int8(fp32, tmp_path / "t.onnx", representative, _top1_fn(x, y), max_top1_drop=-1.0,
                            max_trials=3)
    assert result["met_budget"] is False and result["trials"] == 3
    assert result["path"].exists()  # the best candidate is written even though the goal was missed
    best = max(h["top1"] for h in result["history"])
    assert result["top1"] == best and result["drop"] == pytest.approx(result["baseline_top1"] - best)


def test_kept_float_nodes_stay_float_in_every_trial_and_are_never_ranked(tmp_path, fp32, data):
    from edgekd.quantize.ort_static import first_conv_node

    representative, x, y = data
    real, first = _top1_fn(x, y), first_conv_node(fp32)

    def strict(path):  # every INT8 weighted op costs 10 points: only one may stay INT8
        return real(path) - (0.1 * _quantized_weighted_ops(path) if "trial" in path else 0.0)

    result = tune_onnx_int8(fp32, tmp_path / "t.onnx", representative, strict, max_top1_drop=0.15, max_trials=8,
                            keep_float=first)
    assert result["met_budget"] and result["history"][0]["float_ops"] == first
    assert all(h["float_ops"][0] == first[0] and h["float_ops"].count(first[0]) == 1 for h in result["history"])
    assert len(result["float_ops"]) == 3 and _quantized_weighted_ops(result["path"]) == 1
