"""tune_onnx_inc: Neural Compressor's autotune for real; its exit(0) on a missed goal is contained."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
import pytest

from edgekd.errors import ConfigError
from edgekd.export.onnx import export_onnx
from edgekd.quantize.inc_engine import describe, tune_onnx_inc


@pytest.fixture(scope="module")
def fp32(tmp_path_factory, tiny_model, lib):
    return export_onnx(tiny_model, lib.SHAPE, tmp_path_factory.mktemp("fp32") / "m.onnx")


def _top1_fn(x, y, calls=None):
    def top1(path):
        if calls is not None:
            calls.append(path)
        logits = ort.InferenceSession(path, providers=["CPUExecutionProvider"]).run(None, {"input": x})[0]
        return float(np.mean(logits.argmax(1) == y))
    return top1


def test_reachable_goal_stops_at_the_first_trial_within_it(tmp_path, fp32, data):
    representative, x, y = data
    result = tune_onnx_inc(fp32, tmp_path / "q.onnx", representative, _top1_fn(x, y), max_top1_drop=0.05)
    assert result["met_budget"] and result["inc_exit"] is False and result["trials"] == 1
    assert result["drop"] <= 0.05
    written = onnx.load(str(result["path"]))  # one self-contained file: INC's external data pulled in
    assert not any(t.data_location == onnx.TensorProto.EXTERNAL for t in written.graph.initializer)
    assert describe(written)["quantized_ops"] == ["Conv", "Gemm"] == result["history"][0]["quantized_ops"]
    assert _top1_fn(x, y)(str(result["path"])) == pytest.approx(result["top1"])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["q.onnx"]


def test_unreachable_goal_exit_is_contained_and_the_best_is_kept(tmp_path, fp32, data):
    representative, x, y = data
    calls = []
    result = tune_onnx_inc(fp32, tmp_path / "q.onnx", representative, _top1_fn(x, y, calls), max_top1_drop=-1.0,
                           max_trials=50)
    # INC tried its whole space, then called exit(0): the SystemExit did not escape, the best model was kept.
    assert result["inc_exit"] is True and result["met_budget"] is False
    assert result["trials"] >= 2 and len(calls) == result["trials"] + 2  # + our FP32 and INC's baseline
    assert result["path"].exists() and result["top1"] == max(h["top1"] for h in result["history"])
    assert {h["per_channel"] for h in result["history"]} == {True, False}  # INC's space: per-channel on and off


def test_max_trials_returns_without_exit_and_the_best_is_still_chosen(tmp_path, fp32, data):
    representative, x, y = data
    result = tune_onnx_inc(fp32, tmp_path / "q.onnx", representative, _top1_fn(x, y), max_top1_drop=-1.0,
                           max_trials=1)
    # INC stops at max_trials and returns its last model as if it were fine: we still report the miss.
    assert result["inc_exit"] is False and result["met_budget"] is False and result["trials"] == 1
    assert result["path"].exists()


def test_an_eval_fn_error_is_raised_not_hidden_behind_exit(tmp_path, fp32, data):
    representative, x, y = data
    real = _top1_fn(x, y)

    def broken(path):
        if path == str(fp32):
            return real(path)  # our own baseline call works; INC's baseline call fails
        raise RuntimeError("eval exploded")

    with pytest.raises(RuntimeError, match="eval exploded"):
        tune_onnx_inc(fp32, tmp_path / "q.onnx", representative, broken, max_top1_drop=0.05)
    assert not (tmp_path / "q.onnx").exists()


def test_bad_arguments_are_config_errors(tmp_path, fp32, data):
    representative, x, y = data
    with pytest.raises(ConfigError):
        tune_onnx_inc(fp32, tmp_path / "q.onnx", representative, _top1_fn(x, y), max_top1_drop=0.01, max_trials=0)
    with pytest.raises(ConfigError):
        tune_onnx_inc(fp32, tmp_path / "q.onnx", representative, _top1_fn(x, y), max_top1_drop=0.01, method="kl")
