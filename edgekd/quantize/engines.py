"""The quantize stage's engine choices (``quantize.engine``, ``quantize.tflite_engine``), kept out of stage.py.

* TFLite ``aeq``: the AI Edge Quantizer on the FP32 ``.tflite`` the export stage wrote;
  with ``quantize.accuracy_aware`` the sensitivity-ranked fallback loop of
  :mod:`edgekd.quantize.tflite_selective`.
* TFLite ``pt2e``: litert-torch's PT2E quantizer converts the torch student again, every op int8.
* TFLite ``qat``: PT2E after quantization-aware fine-tuning (:mod:`edgekd.quantize.tflite_qat`),
  its val drop checked against the budget.
* TFLite ``auto`` (default): ``pt2e`` first (``aeq`` with ``quantize.accuracy_aware`` or a float
  first conv, ``quantize.float_first_conv``, which PT2E cannot do); only when
  its val drop misses the budget, ``qat`` too, and the model with the smaller val drop is kept
  (both figures are reported).
* ONNX ``inc``: Intel Neural Compressor's autotune (:mod:`edgekd.quantize.inc_engine`).

Each returns ``(note, metrics)`` like the stage's other quantizers.
"""

from __future__ import annotations

import numpy as np

# Runtimes that cannot run float kernels or int16 ops on their accelerator (a fallback op would
# leave the Edge TPU), and runtimes that need a fully integer model (TFLite Micro: int16 is fine).
_NO_FALLBACK_RUNTIMES = {"edgetpu"}
_INTEGER_ONLY_RUNTIMES = {"tflite-micro"}


def tflite_fallback(ctx) -> str:
    """What sensitive TFLite ops fall back to (``quantize.tflite_fallback``; auto follows the runtime)."""
    wanted = ctx.config.quantize.tflite_fallback
    if wanted != "auto":
        return wanted
    runtime = ctx.target.runtime.name
    if runtime in _NO_FALLBACK_RUNTIMES:
        return "none"
    return "int16" if runtime in _INTEGER_ONLY_RUNTIMES else "float"


def first_conv_note(kept: list[str]) -> str:
    """The note's tail for ``quantize.float_first_conv``: which ops stayed float (empty when none did)."""
    return f"; first conv kept in float ({', '.join(kept)})" if kept else ""


def check_float_first_conv(config, target) -> None:
    """Refuse ``quantize.float_first_conv`` for a runtime that needs a fully integer model, before any training."""
    from .first_conv import INTEGER_ONLY_RUNTIMES

    runtime = target.runtime.name
    if config.quantize.enabled and config.quantize.float_first_conv is True and runtime in INTEGER_ONLY_RUNTIMES:
        from ..errors import ConfigError

        raise ConfigError(f"quantize.float_first_conv keeps a float conv, which the {runtime} runtime of target "
                          f"{target.name} cannot run", fix="set quantize.float_first_conv to auto or false for this "
                          "target")


def tflite_top1(path, x: np.ndarray, y: np.ndarray, threads: int = 1) -> float:
    """Top-1 of a ``.tflite`` model in LiteRT on ``(x, y)`` (the TFLite tuner's ``eval_fn``)."""
    from ..runtimes import open_runner

    logits = open_runner(path, "tflite", threads).predict(x)
    return float((np.asarray(logits).argmax(1) == np.asarray(y)).mean())


def tflite_aeq(fp32, path, representative: np.ndarray, ctx, first_conv_float: bool = False) -> tuple[str, dict]:
    """TFLite INT8 with the AI Edge Quantizer: all-int8, or accuracy-aware with ``quantize.accuracy_aware``.

    ``first_conv_float``: the first conv and the ops before it stay float (the resolved
    ``quantize.float_first_conv``, :mod:`edgekd.quantize.first_conv`).
    """
    from .stage import max_top1_drop, tflite_int8_io

    int8_io = tflite_int8_io(ctx)
    io = "int8" if int8_io else "float"
    if not ctx.config.quantize.accuracy_aware:
        return _aeq_all_int8(fp32, path, representative, int8_io, ctx, first_conv_float), {}
    from .tflite_selective import tune_tflite_int8

    budget, fallback = max_top1_drop(ctx), tflite_fallback(ctx)
    x_val, y_val = ctx.data.val.numpy()
    result = tune_tflite_int8(ctx.resolve(fp32.path), path, representative,
                              lambda p: tflite_top1(p, x_val, y_val, ctx.threads), max_top1_drop=budget,
                              max_trials=ctx.config.quantize.max_trials, fallback=fallback, int8_io=int8_io,
                              threads=ctx.threads, float_first_conv=first_conv_float)
    tuning = {"split": "val", "max_top1_drop": budget, "engine": "aeq",
              **{k: result[k] for k in ("baseline_top1", "top1", "drop", "met_budget", "fallback", "fallback_ops",
                                        "kept_float", "float_ops", "int16_ops", "trials", "history", "seconds")}}
    fallen = ", ".join(result["fallback_ops"]) or "none"
    note = (f"accuracy-aware TFLite INT8 (AI Edge Quantizer, {io} input/output): val top-1 drop "
            f"{100 * result['drop']:.2f} points (budget {100 * budget:.2f}); ops kept in {fallback}: {fallen}"
            + first_conv_note(result["kept_float"]))
    return note, {"int8_tuning": tuning}


def _aeq_all_int8(fp32, path, representative: np.ndarray, int8_io: bool, ctx, first_conv_float: bool) -> str:
    """Every op int8 with the AI Edge Quantizer (but the first conv with ``first_conv_float``); the note."""
    from ..atomic import atomic_path
    from .tflite_aeq import AeqModel, up_to_first_conv

    model = AeqModel(ctx.resolve(fp32.path), representative, ctx.threads)
    kept = up_to_first_conv(model.ops) if first_conv_float else []
    with atomic_path(path) as tmp:
        tmp.write_bytes(model.quantize({op.scope: "float" for op in kept}, int8_io=int8_io))
    return (f"TFLite INT8 (AI Edge Quantizer a8w8: int8 activations, per-channel int8 weights; "
            f"{min(len(representative), 512)} representative samples, {'int8' if int8_io else 'float'} input/output)"
            + first_conv_note([op.label for op in kept]))


def tflite_qat(fp32, student, path, representative: np.ndarray, ctx) -> tuple[str, dict]:
    """Fully integer TFLite INT8 after quantization-aware fine-tuning; the val drop is measured, not tuned on."""
    from .stage import tflite_int8_io
    from .tflite_qat import qat_tflite_int8

    qcfg, int8_io = ctx.config.quantize, tflite_int8_io(ctx)
    ctx.reporter.stage("quantize", f"tflite QAT, {qcfg.qat_epochs} epochs")
    result = qat_tflite_int8(student.model, student.input_shape, path, train=ctx.data.train,
                             representative=representative, epochs=qcfg.qat_epochs, lr=qcfg.qat_lr,
                             seed=ctx.config.seed, int8_io=int8_io,
                             on_epoch=lambda e, n, kl: ctx.reporter.note(f"QAT epoch {e}/{n}: KL to FP32 {kl:.4f}"))
    tuning = _val_drop(fp32, path, ctx, {"engine": "qat", "trials": 1, "float_ops": [], "qat": result,
                                         "seconds": result["seconds"]})
    note = (f"TFLite full-integer INT8 after quantization-aware fine-tuning (PT2E, {qcfg.qat_epochs} epochs "
            f"towards the FP32 outputs, {'int8' if int8_io else 'float'} input/output): val top-1 drop "
            f"{100 * tuning['drop']:.2f} points (budget {100 * tuning['max_top1_drop']:.2f})" + _qat_kept(result))
    return note, {"int8_tuning": tuning}


def _qat_kept(result: dict) -> str:
    """Says so when the shipped QAT state is not the last epoch's (a worse epoch, or a non-finite loss)."""
    kept, epochs = result["kept_epoch"], result["epochs"]
    stopped = f"; training stopped at {result['diverged']}" if result["diverged"] else ""
    if kept == epochs and not stopped:
        return ""
    which = "the post-training ranges, untrained" if kept == 0 else f"epoch {kept} of {epochs}"
    return f"{stopped}; shipped {which}: the lowest KL to FP32 on the representative samples"


def tflite_pt2e(student, path, representative: np.ndarray, ctx) -> tuple[str, dict]:
    """Full-integer TFLite INT8 through litert-torch's PT2E quantizer (the student is converted again)."""
    from ..export.tflite import export_tflite
    from .stage import tflite_int8_io

    int8_io = tflite_int8_io(ctx)
    export_tflite(student.model, student.input_shape, path, int8=True, representative=representative,
                  int8_io=int8_io)
    return (f"TFLite full-integer INT8 (PT2E, {len(representative)} representative samples, "
            f"{'int8' if int8_io else 'float'} input/output)"), {}


def tflite_auto(fp32, student, path, representative: np.ndarray, ctx,
                first_conv_float: bool = False) -> tuple[str, dict]:
    """Post-training INT8 first; QAT (a training stage) only when its val drop misses the budget.

    The post-training engine is PT2E: after the pool-range fix it was the most accurate one on
    every student of ``make bench-compress`` and ``make bench-compress-byo`` (2026-12-01: test
    drops 0.00 / +0.21 / -0.33 / +0.67 points against AEQ's +0.83 / +1.29 / +0.67 / +1.00, at the
    same latency). With ``quantize.accuracy_aware`` or a float first conv it is AEQ, the
    one TFLite path that keeps single ops in float or int16. The QAT candidate (every op int8) is
    written in the build's work folder and moved over the first model only when its val drop is
    smaller, so the artifact is always one whole model.
    """
    import os

    from .stage import max_top1_drop

    qcfg = ctx.config.quantize
    first = "aeq" if qcfg.accuracy_aware or first_conv_float else "pt2e"
    if first == "aeq":
        note, metrics = tflite_aeq(fp32, path, representative, ctx, first_conv_float)
    else:
        note, metrics = tflite_pt2e(student, path, representative, ctx)
    post = metrics.get("int8_tuning") or _val_drop(fp32, path, ctx, {"engine": first, "trials": 1, "float_ops": []})
    if post["met_budget"]:
        return (f"{note}; auto: {first.upper()} met the {100 * max_top1_drop(ctx):.2f}-point budget, QAT not run",
                {"int8_tuning": {**post, "engine": "auto", "chosen": first, "candidates": {first: _brief(post)}}})
    candidate = ctx.work_dir / f"qat-candidate{path.suffix}"
    try:
        qat_note, qat_metrics = tflite_qat(fp32, student, candidate, representative, ctx)
        qat = qat_metrics["int8_tuning"]
        chosen = "qat" if qat["drop"] < post["drop"] else first
        if chosen == "qat":
            os.replace(candidate, path)
    finally:
        candidate.unlink(missing_ok=True)
    best, best_note = (qat, qat_note) if chosen == "qat" else (post, note)
    return (f"{best_note}; auto: {first.upper()}'s val drop {100 * post['drop']:.2f} points missed the budget, "
            f"QAT's {100 * qat['drop']:.2f}; kept {chosen.upper()}"), {
        "int8_tuning": {**best, "engine": "auto", "chosen": chosen,
                        "candidates": {first: _brief(post), "qat": _brief(qat)}}}


def _val_drop(fp32, path, ctx, extra: dict) -> dict:
    """Val top-1 of the FP32 and the INT8 ``.tflite`` and the drop against the budget."""
    from .stage import max_top1_drop

    x_val, y_val = ctx.data.val.numpy()
    budget = max_top1_drop(ctx)
    baseline, top1 = (tflite_top1(p, x_val, y_val, ctx.threads) for p in (ctx.resolve(fp32.path), path))
    return {"split": "val", "max_top1_drop": budget, "baseline_top1": baseline, "top1": top1,
            "drop": baseline - top1, "met_budget": baseline - top1 <= budget, **extra}


def _brief(tuning: dict) -> dict:
    return {k: tuning[k] for k in ("top1", "drop", "met_budget") if k in tuning}


def onnx_inc(fp32, path, representative: np.ndarray, ctx) -> tuple[str, dict]:
    """ONNX INT8 by Intel Neural Compressor's accuracy-aware autotune on the val split."""
    from .inc_engine import tune_onnx_inc
    from .stage import max_top1_drop, onnx_top1

    qcfg = ctx.config.quantize
    budget = max_top1_drop(ctx)
    x_val, y_val = ctx.data.val.numpy()
    result = tune_onnx_inc(ctx.resolve(fp32.path), path, representative, lambda p: onnx_top1(p, x_val, y_val),
                           max_top1_drop=budget, max_trials=qcfg.max_trials, method=qcfg.method)
    tuning = {"split": "val", "max_top1_drop": budget, "engine": "inc",
              **{k: result[k] for k in ("baseline_top1", "top1", "drop", "met_budget", "float_ops", "trials",
                                        "history", "inc_exit", "seconds")}}
    floats = ", ".join(result["float_ops"]) or "none"
    note = (f"Neural Compressor accuracy-aware INT8 (onnxruntime QDQ, {qcfg.method} activation ranges, "
            f"{result['trials']} trials): val top-1 drop {100 * result['drop']:.2f} points "
            f"(budget {100 * budget:.2f}); ops kept in float: {floats}")
    return note, {"int8_tuning": tuning}
