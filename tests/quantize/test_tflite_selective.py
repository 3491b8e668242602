"""tune_tflite_int8: falls back on the most sensitive ops until the drop fits; keeps the best on a miss."""

from __future__ import annotations

import numpy as np
import pytest

from edgekd.quantize.tflite_aeq import COMPUTE_OPS, op_precisions
from edgekd.quantize.tflite_selective import fallback_sizes, tune_tflite_int8
from edgekd.runtimes import open_runner


@pytest.fixture(scope="module")
def fp32(tiny_tflite):
    return tiny_tflite


def _top1_fn(x, y):
    def top1(path):
        return float(np.mean(open_runner(path, "tflite").predict(x).argmax(1) == y))
    return top1


def _int8_compute_ops(path) -> int:
    return sum(1 for kind, _, out in op_precisions(open(path, "rb").read()) if kind in COMPUTE_OPS and out == "INT8")


def test_fallback_sizes_grow_to_every_candidate():
    assert fallback_sizes(0) == [] and fallback_sizes(1) == [1]
    assert fallback_sizes(5) == [1, 2, 3, 4, 5]
    sizes = fallback_sizes(40)
    assert sizes[:4] == [1, 2, 3, 4] and sizes[-1] == 40 and sizes == sorted(set(sizes)) and len(sizes) < 15


def test_loose_budget_is_met_by_all_int8_in_one_trial(tmp_path, fp32, data):
    representative, x, y = data
    result = tune_tflite_int8(fp32, tmp_path / "q.tflite", representative, _top1_fn(x, y), max_top1_drop=0.05)
    assert result["met_budget"] and result["trials"] == 1 and result["fallback_ops"] == []
    assert result["ranking"] is None  # sensitivity is only measured after a miss
    assert _int8_compute_ops(result["path"]) == 5
    assert sorted(p.name for p in tmp_path.iterdir()) == ["q.tflite"]


def test_falls_back_until_the_budget_fits(tmp_path, fp32, data):
    representative, x, y = data
    real = _top1_fn(x, y)

    def strict(path):  # every int8 compute op costs 10 points: at most one may stay int8
        return real(path) - (0.1 * _int8_compute_ops(path) if "trial" in path else 0.0)

    result = tune_tflite_int8(fp32, tmp_path / "q.tflite", representative, strict, max_top1_drop=0.15, max_trials=8)
    assert result["met_budget"] and result["fallback"] == "float"
    assert len(result["fallback_ops"]) >= 4 and result["float_ops"] == result["fallback_ops"]
    assert result["trials"] == len(result["history"]) == len(result["fallback_ops"]) + 1
    assert _int8_compute_ops(result["path"]) == 5 - len(result["fallback_ops"])
    assert len(set(result["ranking"])) == result["candidates"] == 5  # every candidate ranked once
    assert result["fallback_ops"] == result["ranking"][:len(result["fallback_ops"])]  # most sensitive first


def test_missed_budget_keeps_the_best_trial(tmp_path, fp32, data):
    representative, x, y = data
    result = tune_tflite_int8(fp32, tmp_path / "q.tflite", representative, _top1_fn(x, y), max_top1_drop=-1.0,
                              max_trials=3, fallback="int16", int8_io=True)
    assert result["met_budget"] is False and result["trials"] == 3 and result["path"].exists()
    best = max(h["top1"] for h in result["history"])
    assert result["top1"] == best and result["drop"] == pytest.approx(result["baseline_top1"] - best)
    assert result["int16_ops"] == result["fallback_ops"] and result["float_ops"] == []
    types = op_precisions(result["path"].read_bytes())
    assert all("FLOAT32" not in t for t in types)  # int16 fallback + int8 I/O: still fully integer


def test_no_fallback_runs_one_trial(tmp_path, fp32, data):
    representative, x, y = data
    result = tune_tflite_int8(fp32, tmp_path / "q.tflite", representative, _top1_fn(x, y), max_top1_drop=-1.0,
                              fallback="none")
    assert result["trials"] == 1 and result["met_budget"] is False and result["candidates"] == 0


def test_an_op_reading_the_float_input_is_a_fallback_candidate_whatever_its_kind(fp32):
    from edgekd.quantize.tflite_aeq import TfliteOp, list_ops
    from edgekd.quantize.tflite_selective import fallback_candidates

    ops = list_ops(open(fp32, "rb").read())
    assert ops[0].reads_input and not any(op.reads_input for op in ops[1:])
    pad, conv, reshape = (TfliteOp(0, "PAD", "pad;", True), TfliteOp(1, "CONV_2D", "conv;"),
                          TfliteOp(2, "RESHAPE", "reshape;"))
    # the PAD is where the input is quantized: keeping only the conv float would leave the input int8
    assert fallback_candidates([pad, conv, reshape], "float") == [pad, conv]
    assert fallback_candidates([pad, conv, reshape], "none") == []


def test_float_first_conv_is_kept_float_in_every_trial_and_never_ranked(tmp_path, fp32, data):
    representative, x, y = data
    real = _top1_fn(x, y)

    def strict(path):  # every int8 compute op costs 10 points: at most one may stay int8
        return real(path) - (0.1 * _int8_compute_ops(path) if "trial" in path else 0.0)

    result = tune_tflite_int8(fp32, tmp_path / "q.tflite", representative, strict, max_top1_drop=0.15, max_trials=8,
                              float_first_conv=True)
    assert result["met_budget"] and len(result["kept_float"]) == 1 and result["kept_float"][0].startswith("CONV_2D")
    assert result["candidates"] == 4 and result["kept_float"][0] not in result["ranking"]
    assert result["float_ops"] == result["kept_float"] + result["fallback_ops"]
    assert _int8_compute_ops(result["path"]) == 4 - len(result["fallback_ops"]) == 1
