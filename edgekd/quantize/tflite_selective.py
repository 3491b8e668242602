"""Accuracy-aware TFLite INT8: the most sensitive ops fall back (float or int16) until the drop fits.

The loop of :mod:`edgekd.quantize.inc_tune` (the ONNX path), on the AI Edge Quantizer
(:mod:`edgekd.quantize.tflite_aeq`), starting from the FP32 ``.tflite`` of the export stage:

1. Trial 0: every op int8 (a8w8). If its val top-1 drop fits ``max_top1_drop``, done.
2. Sensitivity: each compute op (conv, depthwise, fully connected, add, mean, ...) is quantized
   *alone* (everything else float) and scored by the logits' mean squared error against FP32 on
   representative samples; the ranking is computed only when trial 0 missed.
3. Trials 1, 2, ...: the 1, 2, 3, 4, 6, 8, 12, 16, ... most sensitive ops fall back, until the drop
   fits or ``max_trials`` is reached. Growing sets (not one op per trial past four) reach a
   model that needs many fallbacks within a small trial budget.
4. The best trial is always written: the first that fits (the fewest fallbacks on this path), or,
   when none fits, the highest top-1 (fewest fallbacks on ties), with ``met_budget=False``.

Fallback kinds: ``float`` keeps the op's float kernel (fine on phones and hosts: LiteRT runs mixed
graphs); ``int16`` runs it with int16 activations and int8 weights (TFLite's 16x8 mode), which
keeps the model *fully integer*, as TFLite Micro needs (it has 16x8 kernels for conv, depthwise,
fully connected, add, mean); ``none`` never falls back (Edge TPU: a float or int16 op would leave
the accelerator), so only trial 0 runs and a miss is reported.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Callable

import numpy as np

from ..atomic import atomic_path
from ..errors import ConfigError
from .tflite_aeq import COMPUTE_OPS, AeqModel, TfliteOp, supports, up_to_first_conv

FALLBACKS = ("float", "int16", "none")
SENSITIVITY_SAMPLES = 32


def fallback_sizes(n_candidates: int) -> list[int]:
    """How many ops fall back in trials 1, 2, ...: 1, 2, 3, 4, then x1.5 per trial, up to all of them."""
    sizes: list[int] = []
    n = 1
    while n < n_candidates:
        sizes.append(n)
        n = n + 1 if n < 4 else int(np.ceil(n * 1.5))
    return [*sizes, n_candidates] if n_candidates else []


def fallback_candidates(ops: list[TfliteOp], fallback: str) -> list[TfliteOp]:
    """The ops a fallback may keep out of int8: compute ops, and any op that reads the graph input.

    A layout op (PAD, RESHAPE) passes int8 through with its input's scale, except the one that reads
    the float input: the input is quantized there, so leaving it out would keep the input int8 even
    when every compute op is float (a DS-CNN on log-mels lost 3 points of val top-1 that way).
    """
    if fallback == "none":
        return []
    return [op for op in ops if (op.kind in COMPUTE_OPS or op.reads_input) and supports(op.kind, fallback)]


def tune_tflite_int8(fp32_path, out_path, representative: np.ndarray, eval_fn: Callable[[str], float], *,
                     max_top1_drop: float, max_trials: int = 10, fallback: str = "float",
                     int8_io: bool = False, threads: int = 1, float_first_conv: bool = False) -> dict:
    """Quantize an FP32 ``.tflite`` to INT8, falling back on sensitive ops to meet a top-1 budget.

    Args:
        fp32_path: The FP32 ``.tflite``.
        out_path: Destination ``.tflite`` of the best model found; written atomically, also when the
            budget is missed.
        representative: Float32 NCHW representative samples (activation ranges and op sensitivity).
        eval_fn: ``eval_fn(model_path) -> top1`` in [0, 1] on held-out labelled data.
        max_top1_drop: Largest acceptable absolute top-1 drop (0.01 = one point).
        max_trials: Most quantized candidates to evaluate with ``eval_fn``.
        fallback: ``"float"``, ``"int16"`` or ``"none"`` (see the module docstring).
        int8_io: Int8 model input/output (TFLite Micro, Edge TPU); else float32.
        threads: Interpreter threads for range setting and sensitivity.
        float_first_conv: Every trial keeps the first conv (and any op before it) in float; those
            ops are listed in ``kept_float`` and never ranked.

    Returns:
        ``dict(path, top1, drop, met_budget, trials, baseline_top1, fallback, fallback_ops,
        float_ops, int16_ops, history, seconds)``: op lists name the ops not at int8 in the written
        model (:attr:`TfliteOp.label`); ``history`` has ``{"fallback_ops", "top1"}`` per trial;
        ``seconds`` splits the time into range setting (``ranges``), sensitivity and trials.

    Raises:
        ConfigError: ``max_trials < 1`` or an unknown ``fallback``.
        ConversionError: The quantizer failed.
    """
    if max_trials < 1:
        raise ConfigError(f"max_trials must be at least 1, got {max_trials}", fix="set max_trials >= 1")
    if fallback not in FALLBACKS:
        raise ConfigError(f"unknown fallback {fallback!r}", fix=f"use one of {', '.join(FALLBACKS)}")
    clock = {"ranges": time.perf_counter()}
    baseline = float(eval_fn(str(fp32_path)))
    model = AeqModel(fp32_path, representative, threads)
    clock["ranges"] = time.perf_counter() - clock["ranges"]
    kept = up_to_first_conv(model.ops) if float_first_conv else []
    candidates = [op for op in fallback_candidates(model.ops, fallback) if op not in kept]
    final = Path(out_path)
    with tempfile.TemporaryDirectory(prefix=".edgekd-tflite-tune-") as tmpdir:
        work = Path(tmpdir)
        history, files, ranking, seconds = _trials(model, candidates, representative, eval_fn, baseline, work,
                                                   max_top1_drop=max_top1_drop, max_trials=max_trials,
                                                   fallback=fallback, int8_io=int8_io, threads=threads, kept=kept)
        met = baseline - history[-1]["top1"] <= max_top1_drop
        best = len(history) - 1 if met else max(range(len(history)),
                                                key=lambda i: (history[i]["top1"], -len(history[i]["fallback_ops"])))
        with atomic_path(final) as tmp:
            tmp.write_bytes(files[best].read_bytes())
    chosen = history[best]["fallback_ops"]
    return {"path": final, "top1": history[best]["top1"], "drop": baseline - history[best]["top1"],
            "met_budget": bool(met), "trials": len(history), "baseline_top1": baseline, "fallback": fallback,
            "int8_io": bool(int8_io), "fallback_ops": list(chosen), "kept_float": [op.label for op in kept],
            "float_ops": [op.label for op in kept] + (list(chosen) if fallback == "float" else []),
            "int16_ops": list(chosen) if fallback == "int16" else [],
            "candidates": len(candidates), "ranking": ranking, "history": history,
            "seconds": {"ranges": round(clock["ranges"], 2), **seconds}}


def _trials(model: AeqModel, candidates: list[TfliteOp], representative, eval_fn, baseline: float, work: Path, *,
            max_top1_drop: float, max_trials: int, fallback: str, int8_io: bool, threads: int,
            kept: list[TfliteOp]):
    """Trial 0 (all int8), then growing fallback sets in sensitivity order; stops at the first fit."""
    history: list[dict] = []
    files: list[Path] = []
    ranking: list[str] | None = None
    seconds = {"sensitivity": 0.0, "trials": 0.0}
    sizes = [0] + (fallback_sizes(len(candidates)) if fallback != "none" else [])
    for n in sizes[:max_trials]:
        if n and ranking is None:  # only rank when all-int8 missed the budget
            start = time.perf_counter()
            ordered = rank_by_sensitivity(model, candidates, representative, work / "sensitivity.tflite", threads)
            seconds["sensitivity"] = round(time.perf_counter() - start, 2)
            ranking = [op.label for op in ordered]
        start = time.perf_counter()
        chosen = ordered[:n] if n else []
        path = work / f"trial{len(history)}.tflite"
        modes = {**{op.scope: "float" for op in kept}, **{op.scope: fallback for op in chosen}}
        path.write_bytes(model.quantize(modes, int8_io=int8_io))
        history.append({"fallback_ops": [op.label for op in chosen], "top1": float(eval_fn(str(path)))})
        files.append(path)
        seconds["trials"] = round(seconds["trials"] + time.perf_counter() - start, 2)
        if baseline - history[-1]["top1"] <= max_top1_drop:
            break
    return history, files, ranking, seconds


def rank_by_sensitivity(model: AeqModel, candidates: list[TfliteOp], representative: np.ndarray, scratch: Path,
                        threads: int = 1) -> list[TfliteOp]:
    """Candidates, most sensitive first: logits MSE vs FP32 when only that op is int8 (float I/O).

    ``scratch`` is a file path the candidate models are written to (one at a time) and then removed.
    """
    from ..runtimes.litert_runner import LiteRTRunner

    sample = np.asarray(representative, dtype=np.float32)[:SENSITIVITY_SAMPLES]
    reference = LiteRTRunner(model.path, threads).predict(sample)
    scores = {}
    for op in candidates:
        scratch.write_bytes(model.quantize({op.scope: "int8"}, default="float"))
        scores[op.scope] = float(np.mean((LiteRTRunner(scratch, threads).predict(sample) - reference) ** 2))
    scratch.unlink(missing_ok=True)
    return sorted(candidates, key=lambda op: -scores[op.scope])
