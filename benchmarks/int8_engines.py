"""The INT8 engines ``benchmarks/compress.py`` runs side by side on one student, each timed.

ONNX (onnxruntime): ``int8-ort`` static INT8; ``int8-ort-f1`` the same with the first conv left in
float (see ``int8-aeq-f1``); ``int8-tuned`` edgekd's accuracy-aware loop
(:mod:`edgekd.quantize.inc_tune`); ``int8-inc`` Intel Neural Compressor's autotune
(:mod:`edgekd.quantize.inc_engine`).
TFLite (LiteRT): ``int8-pt2e`` litert-torch PT2E; ``int8-aeq`` AI Edge Quantizer all-int8;
``int8-aeq-tuned`` its accuracy-aware loop with float fallback (phones, hosts);
``int8-aeq-f1`` all-int8 but the first conv (and any op before it) in float: a conv on a
one-channel input (the speech student's) measured slower in int8 than in float on both runtimes
(ONNX Runtime's per-node profile, :mod:`onnx_ops`); this variant measures how much of the
INT8 latency miss that one layer explains;
``int8-aeq-a16`` the same loop as ``int8-aeq-tuned`` with int16 fallback and int8 input/output (what TFLite Micro gets);
``int8-qat`` PT2E after quantization-aware fine-tuning towards the FP32 outputs
(:mod:`edgekd.quantize.tflite_qat`, the build's ``quantize.tflite_engine: qat`` defaults).

Every accuracy-aware engine tunes on the val split; test top-1 is measured apart (held out).
"""

from __future__ import annotations

import time
from pathlib import Path

MAX_TRIALS = 8
# The build's quantize.qat_epochs / qat_lr defaults (lr 1e-4 until the 2026-11-30 late run).
QAT = {"epochs": 2, "lr": 1e-5}


def _timed(fn) -> tuple[object, float]:
    start = time.perf_counter()
    out = fn()
    return out, round(time.perf_counter() - start, 1)


def build_variants(student, ctx, folder: Path, max_drop: float, threads: int) -> dict:
    """Export and quantize one student every way; returns ``{"paths", "seconds", "tuning"}`` keyed by variant."""
    from edgekd.atomic import atomic_path
    from edgekd.export.onnx import export_onnx
    from edgekd.export.tflite import export_tflite
    from edgekd.quantize.engines import tflite_top1
    from edgekd.quantize.inc_engine import tune_onnx_inc
    from edgekd.quantize.inc_tune import tune_onnx_int8
    from edgekd.quantize.ort_static import first_conv_node, quantize_onnx_static
    from edgekd.quantize.stage import onnx_top1
    from edgekd.quantize.tflite_aeq import AeqModel, up_to_first_conv
    from edgekd.quantize.tflite_qat import qat_tflite_int8
    from edgekd.quantize.tflite_selective import tune_tflite_int8

    folder.mkdir(parents=True, exist_ok=True)
    shape, calib = student.input_shape, ctx.data.representative.x.numpy()
    x_val, y_val = ctx.data.val.numpy()
    p = {k: folder / k for k in ("fp32.onnx", "int8-ort.onnx", "int8-ort-f1.onnx", "int8-tuned.onnx",
                                  "int8-inc.onnx", "fp32.tflite", "int8-pt2e.tflite", "int8-aeq.tflite",
                                  "int8-aeq-f1.tflite", "int8-aeq-tuned.tflite", "int8-aeq-a16.tflite",
                                  "int8-qat.tflite")}
    onnx_eval = lambda path: onnx_top1(path, x_val, y_val)  # noqa: E731
    tflite_eval = lambda path: tflite_top1(path, x_val, y_val, threads)  # noqa: E731
    seconds, tuning = {}, {}

    aeq = {}

    def aeq_write(key: str, float_ops) -> None:
        """AI Edge Quantizer int8 with ``float_ops(ops)`` kept in float (calibrated once for both variants)."""
        if "model" not in aeq:
            aeq["model"] = AeqModel(p["fp32.tflite"], calib, threads)
        model = aeq["model"]
        with atomic_path(p[key]) as tmp:
            tmp.write_bytes(model.quantize({op.scope: "float" for op in float_ops(model.ops)}))

    steps = {
        "fp32.onnx": lambda: export_onnx(student.model, shape, p["fp32.onnx"]),
        "int8-ort.onnx": lambda: quantize_onnx_static(p["fp32.onnx"], p["int8-ort.onnx"], calib),
        "int8-ort-f1.onnx": lambda: quantize_onnx_static(p["fp32.onnx"], p["int8-ort-f1.onnx"], calib,
                                                         nodes_to_exclude=first_conv_node(p["fp32.onnx"])),
        "int8-tuned.onnx": lambda: tune_onnx_int8(p["fp32.onnx"], p["int8-tuned.onnx"], calib, onnx_eval,
                                                  max_top1_drop=max_drop, max_trials=MAX_TRIALS),
        "int8-inc.onnx": lambda: tune_onnx_inc(p["fp32.onnx"], p["int8-inc.onnx"], calib, onnx_eval,
                                               max_top1_drop=max_drop, max_trials=MAX_TRIALS),
        "fp32.tflite": lambda: export_tflite(student.model, shape, p["fp32.tflite"]),
        "int8-pt2e.tflite": lambda: export_tflite(student.model, shape, p["int8-pt2e.tflite"], int8=True,
                                                  representative=calib),
        "int8-aeq.tflite": lambda: aeq_write("int8-aeq.tflite", lambda ops: []),
        "int8-aeq-f1.tflite": lambda: aeq_write("int8-aeq-f1.tflite", up_to_first_conv),
        "int8-aeq-tuned.tflite": lambda: tune_tflite_int8(p["fp32.tflite"], p["int8-aeq-tuned.tflite"], calib,
                                                          tflite_eval, max_top1_drop=max_drop,
                                                          max_trials=MAX_TRIALS, fallback="float", threads=threads),
        "int8-aeq-a16.tflite": lambda: tune_tflite_int8(p["fp32.tflite"], p["int8-aeq-a16.tflite"], calib,
                                                        tflite_eval, max_top1_drop=max_drop, max_trials=MAX_TRIALS,
                                                        fallback="int16", int8_io=True, threads=threads),
        "int8-qat.tflite": lambda: qat_tflite_int8(student.model, shape, p["int8-qat.tflite"], train=ctx.data.train,
                                                   representative=calib, seed=ctx.config.seed, **QAT),
    }
    for key, step in steps.items():
        ctx.reporter.stage(f"  {key}")
        out, seconds[key] = _timed(step)
        if isinstance(out, dict):
            tuning[key] = {k: v for k, v in out.items() if k != "path"}
    return {"paths": p, "seconds": seconds, "tuning": tuning}


def fallback_summary(key: str, tuning: dict) -> str:
    """``"none"``, or the ops an accuracy-aware engine left out of int8 (count and kind)."""
    if key in ("int8-aeq-f1.tflite", "int8-ort-f1.onnx"):
        return "first conv float"
    t = tuning.get(key)
    if not t:
        return "–"
    ops = t.get("fallback_ops", t.get("float_ops", []))
    kind = t.get("fallback", "float")
    return f"{len(ops)} {kind}" if ops else "none"
