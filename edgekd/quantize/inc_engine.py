"""``quantize.engine: inc``: Intel Neural Compressor's accuracy-aware tuning of the FP32 ONNX model.

This runs ``onnx_neural_compressor.quantization.tuning.autotune`` (onnx-neural-compressor 1.0) for
real: its default static-quantization tuning space (``StaticQuantConfig.get_config_set_for_tuning``
in QDQ format: the op types to quantize shrink from all of them to the set without Add/Mul,
Gather*, Attention, each with and without per-channel weights and last-MatMul quantization),
tried in order by its sequential sampler, each candidate scored by our ``eval_fn``, stopping at the
first within the goal. Three things of INC's are contained here:

* On a missed goal (and on some input errors) INC calls ``exit(0)``: the process would end with
  status 0 and nothing saved. :class:`TrialRecorder` wraps ``eval_fn``: every model INC evaluates
  is scored and copied (INC deletes its temporary folder), so the best one is kept; the
  ``SystemExit`` is caught, and an exception raised by ``eval_fn`` itself is re-raised (INC
  would otherwise swallow it behind ``exit(0)`` when it happens on the baseline).
* When ``max_trials`` runs out first, INC returns its *last* model as if it were fine (no exit,
  no warning); the best trial by our recorder is kept instead and ``met_budget`` says the truth.
* INC's goal is *relative* (``tolerable_loss``); edgekd's budget is an absolute top-1 drop, so
  ``tolerable_loss = max_top1_drop / baseline`` with the FP32 baseline measured first.
* Trial models are saved by INC with external data (initializers > 1 KiB in a side file); the
  copy kept is re-saved as one self-contained ``.onnx``.

INC has no per-op sensitivity fallback in this API (the op-type subsets are its fallback), so on
a CNN whose loss sits in one convolution it can miss budgets that :mod:`edgekd.quantize.inc_tune`
meets; ``make bench-compress`` runs both side by side.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import time
from pathlib import Path
from typing import Callable

import numpy as np

from ..atomic import atomic_path
from ..errors import ConfigError, ConversionError
from ..export._common import first_line, quiet
from .ort_static import METHODS, ArrayReader, _check_representative, _input_info

# Ops reported as "kept in float" when INC left them unquantized (the types its configs choose among).
REPORTED_OPS = ("Conv", "ConvTranspose", "Gemm", "MatMul", "Add", "Mul", "Gather", "Attention")


class TrialRecorder:
    """``eval_fn`` wrapper: scores every model INC evaluates and keeps a copy of each trial.

    Args:
        eval_fn: ``eval_fn(model_path) -> top1``.
        work: Folder for the kept copies (``trial{i}.onnx``).

    Attributes:
        baseline: The first score (INC evaluates the FP32 model first).
        history: ``{"top1", "quantized_ops", "float_ops", "per_channel"}`` per trial.
        files: The kept trial models, aligned with ``history``.
        error: An exception ``eval_fn`` raised (INC may hide it behind ``exit(0)``).
    """

    def __init__(self, eval_fn: Callable[[str], float], work: Path):
        self.eval_fn = eval_fn
        self.work = Path(work)
        self.baseline: float | None = None
        self.history: list[dict] = []
        self.files: list[Path] = []
        self.error: BaseException | None = None

    def __call__(self, model_path: str) -> float:
        try:
            score = float(self.eval_fn(model_path))
        except Exception as exc:
            self.error = exc
            raise
        if self.baseline is None:
            self.baseline = score
            return score
        import onnx

        kept = self.work / f"trial{len(self.files)}.onnx"
        proto = onnx.load(model_path)  # pulls INC's external-data side file in
        onnx.save(proto, str(kept))
        self.files.append(kept)
        self.history.append({"top1": score, **describe(proto)})
        return score


def describe(proto) -> dict:
    """Which op types INC quantized, which reported ops it left float, and whether weights are per channel."""
    nodes = list(proto.graph.node)
    dq_out = {n.output[0] for n in nodes if n.op_type == "DequantizeLinear"}
    quantized, floats = set(), []
    for n in nodes:
        if n.op_type not in REPORTED_OPS:
            continue
        if any(i in dq_out for i in n.input):
            quantized.add(n.op_type)
        else:
            floats.append(n.name or n.op_type)
    weighted = ("Conv", "Gemm", "MatMul", "ConvTranspose")
    weights = {n.input[1] for n in nodes if n.op_type in weighted and len(n.input) > 1}
    scales = {i.name: len(i.dims) and int(np.prod(i.dims)) for i in proto.graph.initializer}
    producers = {n.output[0]: n for n in nodes}
    per_channel = any(scales.get(producers[w].input[1], 1) > 1 for w in weights
                      if w in producers and producers[w].op_type == "DequantizeLinear")
    return {"quantized_ops": sorted(quantized), "float_ops": floats, "per_channel": per_channel}


def tune_onnx_inc(fp32_path, out_path, representative: np.ndarray, eval_fn: Callable[[str], float], *,
                  max_top1_drop: float, max_trials: int = 10, method: str = "minmax") -> dict:
    """Neural Compressor's accuracy-aware INT8 of an ONNX model; the best model it evaluated is kept.

    Args:
        fp32_path: The FP32 ``.onnx``.
        out_path: Destination ``.onnx``; written atomically, also when the goal is missed.
        representative: Float32 NCHW representative samples.
        eval_fn: ``eval_fn(model_path) -> top1`` in [0, 1] on held-out labelled data.
        max_top1_drop: Largest acceptable absolute top-1 drop (0.01 = one point).
        max_trials: Most candidates INC evaluates.
        method: Calibration method (``minmax``, ``entropy``, ``percentile``).

    Returns:
        ``dict(path, top1, drop, float_ops, met_budget, trials, baseline_top1, history, engine,
        inc_exit, seconds)``, the keys of :func:`edgekd.quantize.inc_tune.tune_onnx_int8` plus
        ``inc_exit`` (True when INC ended with ``exit(0)``, i.e. it found nothing within the goal).

    Raises:
        ConfigError: ``max_trials < 1`` or an unknown ``method``.
        DataError: Calibration data does not match the model input.
        ConversionError: INC evaluated no quantized model (nothing to keep) or failed.
    """
    if max_trials < 1:
        raise ConfigError(f"max_trials must be at least 1, got {max_trials}", fix="set max_trials >= 1")
    if method not in METHODS:
        raise ConfigError(f"unknown activation-range method {method!r}", fix=f"use one of {', '.join(METHODS)}")
    import onnx

    started = time.perf_counter()
    fp32_path, final = Path(fp32_path), Path(out_path)
    proto = onnx.load(str(fp32_path), load_external_data=False)
    input_name, fixed_batch = _input_info(proto)
    data = _check_representative(representative, proto, input_name)
    baseline = float(eval_fn(str(fp32_path)))
    with tempfile.TemporaryDirectory(prefix=".edgekd-inc-") as work:
        recorder = TrialRecorder(eval_fn, Path(work))
        reader = ArrayReader(input_name, data, batch=1 if fixed_batch else 8)
        exited = _autotune(fp32_path, recorder, reader, method, max_top1_drop / baseline if baseline > 0 else 1.0,
                           max_trials, len(data))
        if recorder.error is not None:
            raise recorder.error
        if not recorder.history:
            raise ConversionError("onnx int8: Neural Compressor evaluated no quantized model", fmt="onnx")
        inc_baseline = recorder.baseline if recorder.baseline is not None else baseline
        history = recorder.history
        met = [i for i, h in enumerate(history) if inc_baseline - h["top1"] <= max_top1_drop]
        best = met[0] if met else max(range(len(history)),
                                      key=lambda i: (history[i]["top1"], -len(history[i]["float_ops"])))
        with atomic_path(final) as tmp:
            shutil.copyfile(recorder.files[best], tmp)
    chosen = history[best]
    return {"path": final, "top1": chosen["top1"], "drop": inc_baseline - chosen["top1"],
            "float_ops": list(chosen["float_ops"]), "met_budget": bool(met), "trials": len(history),
            "baseline_top1": inc_baseline, "history": history, "engine": "inc", "inc_exit": exited,
            "seconds": round(time.perf_counter() - started, 2)}


def _autotune(fp32_path: Path, recorder: TrialRecorder, reader, method: str, tolerable_loss: float,
              max_trials: int, n_samples: int) -> bool:
    """Run INC's autotune; True when it ended with ``exit(0)`` (no candidate met the goal)."""
    from onnxruntime.quantization import CalibrationMethod, QuantFormat

    calib = {"minmax": CalibrationMethod.MinMax, "entropy": CalibrationMethod.Entropy,
             "percentile": CalibrationMethod.Percentile}[method]
    inc_log = logging.getLogger("onnx_neural_compressor")
    level = inc_log.level
    inc_log.setLevel(logging.ERROR)
    try:
        with quiet():
            from onnx_neural_compressor.quantization import config, tuning

            space = config.StaticQuantConfig.get_config_set_for_tuning(
                quant_format=QuantFormat.QDQ, calibrate_method=calib, calibration_sampling_size=n_samples,
                extra_options={"ActivationSymmetric": False, "WeightSymmetric": True})
            tune = tuning.TuningConfig(config_set=space, tolerable_loss=tolerable_loss, max_trials=max_trials)
            tuning.autotune(str(fp32_path), tune, eval_fn=recorder, calibration_data_reader=reader)
    except SystemExit:  # INC's exit(0) on a missed goal: the recorder kept every model it scored
        return True
    except Exception as exc:
        if recorder.error is not None:
            raise recorder.error from exc
        raise ConversionError(f"onnx int8: Neural Compressor tuning failed: {first_line(exc)}", fmt="onnx") from exc
    finally:
        inc_log.setLevel(level)
    return False
