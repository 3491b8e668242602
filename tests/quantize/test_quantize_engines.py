"""The quantize stage's engines: TFLite auto (PT2E, QAT on a miss), the AI Edge Quantizer (all-int8 or
accuracy-aware); ONNX via INC."""

from __future__ import annotations

import shutil
from types import SimpleNamespace

import pytest
import torch

from edgekd.artifact import Artifact
from edgekd.config import load_config
from edgekd.data.bundle import DataBundle, Split
from edgekd.errors import ConfigError
from edgekd.pipeline import BuildContext
from edgekd.progress import NullReporter
from edgekd.quantize import engines, stage
from edgekd.quantize.tflite_aeq import op_precisions
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


def _tflite_artifacts(ctx, model, lib, tiny_tflite) -> list[Artifact]:
    student = Artifact(name="student", role="student", format="torch", precision="fp32", model=model,
                       input_shape=lib.SHAPE[1:])
    path, rel = ctx.artifact_file("student-fp32.tflite")
    path.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(tiny_tflite, path)
    return [student, student.evolve(name="student-fp32.tflite", format="tflite", path=rel, parent="student")]


def test_tflite_engine_aeq_writes_the_ai_edge_quantizer_all_int8(tmp_path, tiny_model, lib, tiny_tflite):
    ctx = _ctx(tmp_path, lib, ["quantize.tflite_engine=aeq"])
    state = BuildState(artifacts=tuple(_tflite_artifacts(ctx, tiny_model, lib, tiny_tflite)))
    int8 = stage.run(state, ctx).artifacts[-1]
    assert int8.name == "student-int8.tflite" and "AI Edge Quantizer a8w8" in int8.notes[0]
    assert "float input/output" in int8.notes[0] and "int8_tuning" not in int8.metrics
    kinds = [kind for kind, _, _ in op_precisions(ctx.resolve(int8.path).read_bytes())]
    assert kinds.count("QUANTIZE") == 1 and kinds.count("DEQUANTIZE") == 1  # float I/O around an int8 graph


def test_tflite_accuracy_aware_on_an_mcu_target_falls_back_to_int16(tmp_path, tiny_model, lib, tiny_tflite,
                                                                      monkeypatch):
    # An eval no all-int8 model satisfies: FP32 scores 1.0, any model with an int8 conv 0.5.
    def fake_top1(path, x, y, threads=1):
        ops = op_precisions(open(path, "rb").read())
        return 0.5 if ("CONV_2D", "INT8", "INT8") in ops else 1.0
    monkeypatch.setattr(engines, "tflite_top1", fake_top1)
    ctx = _ctx(tmp_path, lib, ["quantize.accuracy_aware=true", "quantize.max_top1_drop=0.01"], target="stm32h743")
    state = BuildState(artifacts=tuple(_tflite_artifacts(ctx, tiny_model, lib, tiny_tflite)))
    int8 = stage.run(state, ctx).artifacts[-1]
    tuning = int8.metrics["int8_tuning"]
    # The default engine (auto) starts from AEQ's loop when accuracy_aware asks for per-op fallback.
    assert (tuning["engine"], tuning["chosen"], list(tuning["candidates"])) == ("auto", "aeq", ["aeq"])
    assert tuning["fallback"] == "int16" and tuning["met_budget"] is True
    assert tuning["int16_ops"] and tuning["float_ops"] == [] and "ops kept in int16" in int8.notes[0]
    ops = op_precisions(ctx.resolve(int8.path).read_bytes())
    assert all("FLOAT32" not in op for op in ops)  # tflite-micro: int8 I/O and still fully integer


def test_onnx_engine_inc_runs_neural_compressor(tmp_path, lib, onnx_artifacts):
    ctx = _ctx(tmp_path, lib, ["quantize.engine=inc", "quantize.max_top1_drop=0.05"])
    int8 = stage.run(BuildState(artifacts=onnx_artifacts(ctx)), ctx).artifacts[-1]
    tuning = int8.metrics["int8_tuning"]
    assert tuning["engine"] == "inc" and tuning["met_budget"] is True and tuning["inc_exit"] is False
    assert "Neural Compressor" in int8.notes[0] and ctx.resolve(int8.path).is_file()


def test_tflite_fallback_auto_follows_the_runtime():
    def ctx(wanted, runtime):
        return SimpleNamespace(config=SimpleNamespace(quantize=SimpleNamespace(tflite_fallback=wanted)),
                               target=SimpleNamespace(runtime=SimpleNamespace(name=runtime)))

    assert engines.tflite_fallback(ctx("auto", "tflite-micro")) == "int16"
    assert engines.tflite_fallback(ctx("auto", "edgetpu")) == "none"
    assert engines.tflite_fallback(ctx("auto", "litert")) == "float"
    assert engines.tflite_fallback(ctx("float", "tflite-micro")) == "float"
    cfg = load_config(None, []).quantize
    assert (cfg.engine, cfg.tflite_engine, cfg.tflite_fallback) == ("edgekd", "auto", "auto")


def _auto_run(tmp_path, tiny_model, lib, tiny_tflite, monkeypatch, top1_by_file: dict):
    """The stage with the default ``tflite_engine`` (auto) and a val top-1 chosen per file name (FP32 scores 1.0)."""
    monkeypatch.setattr(engines, "tflite_top1", lambda path, x, y, threads=1: top1_by_file.get(path.stem, 1.0))
    ctx = _ctx(tmp_path, lib, ["quantize.qat_epochs=1", "quantize.max_top1_drop=0.2"])
    state = BuildState(artifacts=tuple(_tflite_artifacts(ctx, tiny_model, lib, tiny_tflite)))
    int8 = stage.run(state, ctx).artifacts[-1]
    assert not (ctx.work_dir / "qat-candidate.tflite").exists()
    return ctx, int8


def test_tflite_auto_keeps_pt2e_when_it_meets_the_budget_without_running_qat(tmp_path, tiny_model, lib, tiny_tflite,
                                                                             monkeypatch):
    monkeypatch.setattr(engines, "tflite_qat", lambda *a, **k: (_ for _ in ()).throw(AssertionError("QAT ran")))
    ctx, int8 = _auto_run(tmp_path, tiny_model, lib, tiny_tflite, monkeypatch, {"student-int8": 0.9})
    tuning = int8.metrics["int8_tuning"]
    assert (tuning["engine"], tuning["chosen"], tuning["met_budget"]) == ("auto", "pt2e", True)
    assert tuning["drop"] == pytest.approx(0.1) and list(tuning["candidates"]) == ["pt2e"]
    assert "full-integer INT8 (PT2E" in int8.notes[0] and "QAT not run" in int8.notes[0]
    ops = op_precisions(ctx.resolve(int8.path).read_bytes())
    assert ("CONV_2D", "INT8", "INT8") in ops and ops.count(("CONV_2D", "FLOAT32", "FLOAT32")) == 0


def test_tflite_auto_runs_qat_when_pt2e_misses_and_keeps_the_smaller_drop(tmp_path, tiny_model, lib, tiny_tflite,
                                                                         monkeypatch):
    written = {}
    real_qat = engines.tflite_qat

    def recording_qat(fp32, student, path, representative, ctx):
        out = real_qat(fp32, student, path, representative, ctx)
        written["bytes"] = path.read_bytes()
        return out

    monkeypatch.setattr(engines, "tflite_qat", recording_qat)
    ctx, int8 = _auto_run(tmp_path, tiny_model, lib, tiny_tflite, monkeypatch,
                          {"student-int8": 0.5, "qat-candidate": 0.75})
    tuning = int8.metrics["int8_tuning"]
    assert (tuning["engine"], tuning["chosen"], tuning["met_budget"]) == ("auto", "qat", False)
    assert tuning["candidates"] == {"pt2e": {"top1": 0.5, "drop": 0.5, "met_budget": False},
                                    "qat": {"top1": 0.75, "drop": 0.25, "met_budget": False}}
    assert tuning["qat"]["epochs"] == 1 and ctx.resolve(int8.path).read_bytes() == written["bytes"]
    assert "kept QAT" in int8.notes[0] and "did not meet the 20.00-point top-1 budget" in int8.notes[1]


def test_tflite_auto_keeps_pt2e_when_qat_is_no_better(tmp_path, tiny_model, lib, tiny_tflite, monkeypatch):
    def fake_qat(fp32, student, path, representative, ctx):
        path.write_bytes(b"not a model")
        return "qat note", {"int8_tuning": {"engine": "qat", "top1": 0.5, "drop": 0.5, "met_budget": False}}

    monkeypatch.setattr(engines, "tflite_qat", fake_qat)
    ctx, int8 = _auto_run(tmp_path, tiny_model, lib, tiny_tflite, monkeypatch, {"student-int8": 0.5})
    tuning = int8.metrics["int8_tuning"]
    assert (tuning["chosen"], tuning["drop"]) == ("pt2e", 0.5) and "kept PT2E" in int8.notes[0]
    assert ctx.resolve(int8.path).read_bytes()[4:8] == b"TFL3"  # PT2E's model, not the candidate


def test_float_first_conv_keeps_the_tflite_first_conv_float_and_the_rest_int8(tmp_path, tiny_model, lib, tiny_tflite):
    ctx = _ctx(tmp_path, lib, ["quantize.tflite_engine=aeq", "quantize.float_first_conv=true"])
    state = BuildState(artifacts=tuple(_tflite_artifacts(ctx, tiny_model, lib, tiny_tflite)))
    int8 = stage.run(state, ctx).artifacts[-1]
    ops = [op for op in op_precisions(ctx.resolve(int8.path).read_bytes()) if op[0] not in ("QUANTIZE", "DEQUANTIZE")]
    convs = [op for op in ops if op[0] in ("CONV_2D", "DEPTHWISE_CONV_2D")]
    assert convs[0] == ("CONV_2D", "FLOAT32", "FLOAT32")  # TinyNet: 3x3 conv, depthwise, 1x1 conv
    assert convs[1:] == [("DEPTHWISE_CONV_2D", "INT8", "INT8"), ("CONV_2D", "INT8", "INT8")]
    assert "first conv kept in float (CONV_2D#" in int8.notes[0]


def test_auto_with_float_first_conv_starts_from_aeq(tmp_path, tiny_model, lib, tiny_tflite, monkeypatch):
    monkeypatch.setattr(engines, "tflite_top1", lambda path, x, y, threads=1: 1.0)
    ctx = _ctx(tmp_path, lib, ["quantize.float_first_conv=true"])
    state = BuildState(artifacts=tuple(_tflite_artifacts(ctx, tiny_model, lib, tiny_tflite)))
    int8 = stage.run(state, ctx).artifacts[-1]
    assert (int8.metrics["int8_tuning"]["chosen"], int8.metrics["int8_tuning"]["met_budget"]) == ("aeq", True)
    assert "first conv kept in float" in int8.notes[0] and "QAT not run" in int8.notes[0]


def test_float_first_conv_keeps_the_first_onnx_conv_out_of_int8(tmp_path, lib, onnx_artifacts):
    import onnx

    ctx = _ctx(tmp_path, lib, ["quantize.float_first_conv=true"])
    int8 = stage.run(BuildState(artifacts=onnx_artifacts(ctx)), ctx).artifacts[-1]
    graph = onnx.load(str(ctx.resolve(int8.path))).graph
    made_by = {out: node.op_type for node in graph.node for out in node.output}
    # A quantized conv reads its weights through a DequantizeLinear; a float one from the initializer.
    weight_sources = [made_by.get(node.input[1], "initializer") for node in graph.node if node.op_type == "Conv"]
    assert weight_sources == ["initializer", "DequantizeLinear", "DequantizeLinear"]
    assert "first conv kept in float" in int8.notes[0]


def test_float_first_conv_is_refused_with_pt2e_and_inc():
    for engine in (["quantize.tflite_engine=pt2e"], ["quantize.tflite_engine=qat"], ["quantize.engine=inc"]):
        with pytest.raises(ConfigError, match="float_first_conv needs engine edgekd and tflite_engine aeq or auto"):
            load_config(None, ["quantize.float_first_conv=true", *engine])
