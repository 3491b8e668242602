"""Quantize stage: post-training INT8 of every exported format, activation ranges set on the representative samples.

- ONNX: onnxruntime static QDQ quantization of the exported FP32 graph; with
  ``quantize.accuracy_aware`` the accuracy-aware loop of :mod:`edgekd.quantize.inc_tune`
  keeps the most sensitive ops in float until the val top-1 drop fits the budget;
  ``quantize.engine: inc`` runs Intel Neural Compressor's autotune instead (:mod:`.engines`).
- TFLite (:mod:`.engines`): ``quantize.tflite_engine: aeq`` quantizes the FP32 ``.tflite`` with the
  AI Edge Quantizer, accuracy-aware with per-op float/int16 fallback; ``pt2e`` is the full-integer
  PT2E path through litert-torch; ``qat`` fine-tunes through PT2E's fake quantizers first
  (:mod:`edgekd.quantize.tflite_qat`); ``auto`` (default) runs ``pt2e`` (``aeq`` with
  ``accuracy_aware`` or a float first conv) and ``qat`` only when that misses the budget. Int8
  input/output for MCU runtimes either way.
- ONNX and TFLite: the first conv stays float when ``quantize.float_first_conv`` says so (``auto``:
  when the target's latency model predicts it faster, :mod:`.first_conv`); the decision and its
  predicted figures are in each INT8 artifact's ``first_conv`` metrics.
- Core ML: an FP16 package and an 8-bit-weight package (activations stay float: that is what
  Core ML offers).
"""

from __future__ import annotations

import numpy as np

from ..artifact import Artifact, final_student
from ..errors import ConversionError
from ..export.stage import record_failure
from ..stage import BuildContext, Stage
from ..state import BuildState

_INT8_IO_RUNTIMES = {"tflite-micro", "edgetpu"}
_SUFFIX = {"onnx": ".onnx", "tflite": ".tflite", "coreml": ".mlpackage"}
DEFAULT_MAX_TOP1_DROP = 0.01


def run(state: BuildState, ctx: BuildContext) -> BuildState:
    """Add an INT8 artifact for each FP32 export (and an FP16 one for Core ML)."""
    student = final_student(state.artifacts)
    representative = ctx.data.representative.x.numpy()
    new: list[Artifact] = []
    for fp32 in [a for a in state.artifacts if a.parent == student.name and a.precision == "fp32"]:
        path, rel = ctx.artifact_file(f"student-int8{_SUFFIX[fp32.format]}")
        try:
            if fp32.format == "coreml":
                new.append(_coreml_fp16(fp32, student, ctx))
            note, metrics = _quantize(fp32, student, path, representative, ctx)
            if fp32.format in ("onnx", "tflite"):  # decided (and memoized) while quantizing
                metrics = {**metrics, "first_conv": _first_conv(fp32, student, ctx).as_metrics()}
        except ConversionError as exc:
            state = record_failure(state, ctx, exc)
            continue
        art = fp32.evolve(name=f"student-int8.{fp32.format}", precision="int8", path=rel, parent=fp32.name,
                          metrics=metrics, notes=(note,))
        decided = metrics.get("first_conv") or {}
        if decided.get("float") and decided.get("predicted_ms"):  # say why auto kept a float conv
            art = art.with_note(f"quantize.float_first_conv {decided['reason']}")
        if metrics.get("int8_tuning", {}).get("met_budget") is False:
            t = metrics["int8_tuning"]
            kept = len(t.get("fallback_ops", t["float_ops"]))
            art = art.with_note(f"accuracy-aware INT8 did not meet the {100 * t['max_top1_drop']:.2f}-point top-1 "
                                f"budget in {t['trials']} trials; kept the best model found (val drop "
                                f"{100 * t['drop']:.2f} points, {kept} ops in {t.get('fallback', 'float')})")
        new.append(art)
    return state.add(*new)


def tflite_int8_io(ctx) -> bool:
    """Whether the TFLite INT8 model keeps int8 input/output (``quantize.tflite_int8_io``; auto = MCU runtimes)."""
    wanted = ctx.config.quantize.tflite_int8_io
    return ctx.target.runtime.name in _INT8_IO_RUNTIMES if wanted == "auto" else bool(wanted)


def max_top1_drop(ctx) -> float:
    """The accuracy-aware budget: the config's, else the target's ``max_top1_drop``, else one point."""
    if ctx.config.quantize.max_top1_drop is not None:
        return float(ctx.config.quantize.max_top1_drop)
    budget = getattr(ctx.target.budgets, "max_top1_drop", None)
    return float(budget) if budget is not None else DEFAULT_MAX_TOP1_DROP


def _quantize(fp32: Artifact, student: Artifact, path, representative, ctx) -> tuple[str, dict]:
    qcfg = ctx.config.quantize
    if fp32.format == "onnx" and qcfg.engine == "inc":
        from .engines import onnx_inc

        return onnx_inc(fp32, path, representative, ctx)
    if fp32.format == "tflite":
        from . import engines

        if qcfg.tflite_engine == "pt2e":
            return engines.tflite_pt2e(student, path, representative, ctx)
        if qcfg.tflite_engine == "qat":
            return engines.tflite_qat(fp32, student, path, representative, ctx)
        first_float = _first_conv(fp32, student, ctx).float
        if qcfg.tflite_engine == "aeq":
            return engines.tflite_aeq(fp32, path, representative, ctx, first_float)
        return engines.tflite_auto(fp32, student, path, representative, ctx, first_float)
    if fp32.format == "onnx":
        scheme = (f"{'per-channel' if qcfg.per_channel else 'per-tensor'} weights, {qcfg.method} activation ranges on "
                  f"{len(representative)} representative samples")
        if qcfg.accuracy_aware:
            return _tuned(fp32, student, path, representative, scheme, ctx)
        from .engines import first_conv_note
        from .ort_static import quantize_onnx_static

        kept = _kept_float(fp32, student, ctx)
        quantize_onnx_static(ctx.resolve(fp32.path), path, representative, method=qcfg.method,
                             per_channel=qcfg.per_channel, nodes_to_exclude=kept)
        return f"onnxruntime static INT8 (QDQ, {scheme}){first_conv_note(kept)}", {}
    from ..export.coreml import export_coreml

    export_coreml(student.model, student.input_shape, path, precision="fp16", weights_int8=True)
    return "Core ML 8-bit weights (linear, per-channel); activations FP16", {}


def _tuned(fp32: Artifact, student: Artifact, path, representative, scheme: str, ctx) -> tuple[str, dict]:
    """Accuracy-aware INT8: ops ranked by sensitivity stay float until the val top-1 drop fits."""
    from .inc_tune import tune_onnx_int8

    qcfg = ctx.config.quantize
    budget = max_top1_drop(ctx)
    x_val, y_val = ctx.data.val.numpy()
    result = tune_onnx_int8(ctx.resolve(fp32.path), path, representative, lambda p: onnx_top1(p, x_val, y_val),
                            max_top1_drop=budget, max_trials=qcfg.max_trials, method=qcfg.method,
                            per_channel=qcfg.per_channel, keep_float=_kept_float(fp32, student, ctx))
    tuning = {"split": "val", "max_top1_drop": budget, "baseline_top1": result["baseline_top1"],
              "top1": result["top1"], "drop": result["drop"], "met_budget": result["met_budget"],
              "float_ops": result["float_ops"], "trials": result["trials"], "history": result["history"]}
    floats = ", ".join(result["float_ops"]) or "none"
    note = (f"accuracy-aware INT8 (onnxruntime QDQ, {scheme}): val top-1 drop {100 * result['drop']:.2f} points "
            f"(budget {100 * budget:.2f}); ops kept in float: {floats}")
    return note, {"int8_tuning": tuning}


def _first_conv(fp32: Artifact, student: Artifact, ctx):
    """The resolved ``quantize.float_first_conv`` for ``fp32``'s INT8 model (:mod:`.first_conv`)."""
    from .first_conv import first_conv, student_graph

    onnx_export = ctx.artifact_file("student-fp32.onnx")[0]  # the export stage's; else one for the decision
    graph = onnx_export if onnx_export.exists() else student_graph(student, ctx)
    return first_conv(graph, ctx, fp32.format)


def _kept_float(fp32: Artifact, student: Artifact, ctx) -> list[str]:
    """The ONNX nodes ``fp32``'s INT8 model keeps in float: its first conv, or none."""
    from .ort_static import first_conv_node

    return first_conv_node(ctx.resolve(fp32.path)) if _first_conv(fp32, student, ctx).float else []


def onnx_top1(path, x: np.ndarray, y: np.ndarray) -> float:
    """Top-1 of an ONNX model in onnxruntime on ``(x, y)`` (the tuner's ``eval_fn``)."""
    from ..runtimes import open_runner

    logits = open_runner(path, "onnx", 1).predict(x)
    return float((np.asarray(logits).argmax(1) == np.asarray(y)).mean())


def _coreml_fp16(fp32: Artifact, student: Artifact, ctx) -> Artifact:
    from ..export.coreml import export_coreml

    path, rel = ctx.artifact_file("student-fp16.mlpackage")
    export_coreml(student.model, student.input_shape, path, precision="fp16")
    return fp32.evolve(name="student-fp16.coreml", precision="fp16", path=rel, parent=fp32.name, metrics={},
                       notes=("Core ML FP16 (weights and activations)",))


STAGE = Stage(name="quantize", run=run, enabled=lambda config: config.quantize.enabled,
              off_note="quantize: off (quantize.enabled=false)",
              # The whole target: quantize.float_first_conv auto is decided on its predicted latency.
              reads=("config.quantize", "config.seed", "config.export.opset", "target"))
