"""Quantize stage: accuracy-aware INT8 reports float ops, drop and budget; misses keep the best model."""

from __future__ import annotations

from types import SimpleNamespace

import torch

from edgekd.config import load_config
from edgekd.data.bundle import DataBundle, Split
from edgekd.progress import NullReporter
from edgekd.quantize import stage
from edgekd.stage import BuildContext
from edgekd.state import BuildState
from edgekd.targets import load_target


def _ctx(tmp_path, lib, overrides, target="pixel-8") -> BuildContext:
    def split(n, seed):
        x, y = lib.synthetic(n, seed)
        return Split(x=torch.from_numpy(x), y=torch.from_numpy(y))

    data = DataBundle(name="tiny", task="image", class_names=tuple("abcd"), input_shape=lib.SHAPE[1:],
                      train=split(64, 1), val=split(96, 5), test=split(32, 3), representative=split(32, 2))
    return BuildContext(config=load_config(None, overrides), target=load_target(target), out_dir=tmp_path, data=data,
                        reporter=NullReporter(), threads=1)


def test_accuracy_aware_within_budget_reports_tuning(tmp_path, lib, onnx_artifacts):
    ctx = _ctx(tmp_path, lib, ["quantize.accuracy_aware=true", "quantize.max_top1_drop=0.05"])
    int8 = stage.run(BuildState(artifacts=onnx_artifacts(ctx)), ctx).artifacts[-1]
    tuning = int8.metrics["int8_tuning"]
    assert int8.name == "student-int8.onnx" and ctx.resolve(int8.path).is_file()
    assert tuning["met_budget"] is True and tuning["drop"] <= 0.05 and tuning["split"] == "val"
    assert isinstance(tuning["float_ops"], list)
    assert "accuracy-aware INT8" in int8.notes[0] and "ops kept in float" in int8.notes[0]


def test_accuracy_aware_miss_keeps_best_and_says_so(tmp_path, lib, onnx_artifacts, monkeypatch):
    # An eval that no INT8 model can satisfy: FP32 scores 1.0, every quantized trial 0.5.
    monkeypatch.setattr(stage, "onnx_top1", lambda path, x, y: 1.0 if "fp32" in str(path) else 0.5)
    ctx = _ctx(tmp_path, lib, ["quantize.accuracy_aware=true", "quantize.max_top1_drop=0.01",
                               "quantize.max_trials=2"])
    int8 = stage.run(BuildState(artifacts=onnx_artifacts(ctx)), ctx).artifacts[-1]
    tuning = int8.metrics["int8_tuning"]
    assert tuning["met_budget"] is False and tuning["trials"] == 2
    assert ctx.resolve(int8.path).is_file()  # the best model is kept
    assert any("did not meet" in n and "kept the best" in n for n in int8.notes)


def test_budget_defaults_to_target_then_one_point():
    def ctx(cfg_drop, target_drop):
        return SimpleNamespace(config=SimpleNamespace(quantize=SimpleNamespace(max_top1_drop=cfg_drop)),
                               target=SimpleNamespace(budgets=SimpleNamespace(max_top1_drop=target_drop)))

    assert stage.max_top1_drop(ctx(0.002, 0.03)) == 0.002
    assert stage.max_top1_drop(ctx(None, 0.03)) == 0.03
    assert stage.max_top1_drop(ctx(None, None)) == stage.DEFAULT_MAX_TOP1_DROP


def test_tflite_int8_io_auto_follows_runtime():
    def ctx(wanted, runtime):
        return SimpleNamespace(config=SimpleNamespace(quantize=SimpleNamespace(tflite_int8_io=wanted)),
                               target=SimpleNamespace(runtime=SimpleNamespace(name=runtime)))

    assert stage.tflite_int8_io(ctx("auto", "tflite-micro")) is True
    assert stage.tflite_int8_io(ctx("auto", "litert")) is False
    assert stage.tflite_int8_io(ctx(True, "litert")) is True
    assert stage.tflite_int8_io(ctx(False, "edgetpu")) is False
    assert load_config(None, ["quantize.tflite_int8_io=true"]).quantize.tflite_int8_io is True
    assert load_config(None, []).quantize.tflite_int8_io == "auto"
