"""``edgekd profile``: the facts of an existing ``.onnx``/``.tflite`` on the device profiles, no distillation.

For a model someone already has (issue 11: what Qualcomm AI Hub's ``profile`` or nn-Meter's
``predict`` give): its parameters and MACs counted from the graph (``model_facts``), file
size, weights and activation arena from tensor liveness (``memory``/``tflite_memory``), host
latency measured in its own runtime (onnxruntime, LiteRT), and the predicted latency on each
requested profile with its bands, costed from the file's own graph (a ``.tflite`` is costed
from its TFLite ops, not an ONNX stand-in).

Precision: a graph with INT8 ops (a quantised ``.tflite``, a QDQ/QLinear ``.onnx``) is costed
as ``int8``, otherwise as ``fp32``. ``supported`` is false when the profile's runtime cannot
run the model as it is: a precision the profile lacks, or an op TFLite Micro lacks (a
``.tflite`` on a ``tflite-micro`` profile is run in the TFLM interpreter, which also measures
the arena it needs). ``notes`` say why, and what was costed instead.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ..errors import ModelFileError

_FORMATS = {".onnx": "onnx", ".tflite": "tflite"}


def model_format(path: Path) -> str:
    """``onnx`` or ``tflite`` from the file name.

    Raises:
        ModelFileError: Missing, empty, or another kind of file.
    """
    fmt = _FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise ModelFileError(f"cannot profile {path}: not an .onnx or .tflite file",
                             fix="pass an .onnx or .tflite model (export Keras/torch models to one first)")
    if not path.is_file():
        raise ModelFileError(f"model file {path} does not exist", fix="check the path")
    if path.stat().st_size == 0:
        raise ModelFileError(f"model file {path} is empty", fix="re-export the model")
    return fmt


def op_costs_of(path: Path, fmt: str) -> list:
    """The per-op cost rows of the file's own graph (ONNX or TFLite).

    Raises:
        ModelFileError: The file is not a readable model of its format.
    """
    from .graph import UncostableGraphError

    try:
        if fmt == "tflite":
            from .tflite_graph import op_costs_tflite

            return op_costs_tflite(path)
        from .graph import op_costs

        return op_costs(path)
    except (UncostableGraphError, ModelFileError):
        raise
    except Exception as exc:  # noqa: BLE001 - a corrupt file fails deep inside onnx/flatbuffers
        reason = " ".join(str(exc).split())[:160] or type(exc).__name__
        raise ModelFileError(f"cannot read {fmt} model {path}: {reason}",
                             fix="re-export the model (the file may be truncated or of another format)") from exc


def profile_model(path: str | os.PathLike, targets: list[str] | None = None, *, all_targets: bool = False,
                  threads: int | None = None, measure_host: bool = True) -> dict[str, Any]:
    """Profile a model file on device profiles (see the module docstring).

    Args:
        path: The ``.onnx`` or ``.tflite`` file.
        targets: Profile names or YAML paths; ``None``/empty with ``all_targets`` false = ``host``.
        all_targets: Every profile in the targets folder.
        threads: Cost (and time on the host) with this many threads instead of each profile's own.
        measure_host: Time the model in its own runtime on this machine.

    Returns:
        ``{"model": {path, format, precision, params, macs, unknown_ops, size_bytes, memory,
        host_latency_ms}, "predictions": [{target, precision, threads, p50_ms, low_ms, high_ms,
        supported, notes}, ...]}``.

    Raises:
        ModelFileError: Missing, empty, corrupt or unsupported model file.
        TargetError: An unknown profile.
    """
    from ..targets import list_targets, load_target
    from .model_facts import count_model

    model_path = Path(path)
    fmt = model_format(model_path)
    costs = op_costs_of(model_path, fmt)
    precision = "int8" if any(c.precision == "int8" for c in costs if not c.folded) else "fp32"
    facts = count_model(model_path, fmt)
    profiles = list_targets() if all_targets else [load_target(t) for t in (targets or ["host"])]
    tflm = _tflm_report(model_path) if fmt == "tflite" and any(
        p.runtime.name == "tflite-micro" for p in profiles) else None
    model = {"path": str(model_path), "format": fmt, "precision": precision, "params": facts["params"],
             "macs": facts["macs"], "unknown_ops": facts["unknown_ops"], "size_bytes": model_path.stat().st_size,
             "memory": _memory(model_path, fmt, tflm),
             "host_latency_ms": _host_latency(model_path, fmt, threads or 1) if measure_host else None}
    predictions = [_predict_on(model_path, fmt, precision, profile, threads, tflm, facts["unknown_ops"])
                   for profile in profiles]
    return {"model": model, "predictions": predictions}


def _memory(path: Path, fmt: str, tflm: dict | None) -> dict[str, Any]:
    if fmt == "tflite":
        from .tflite_memory import analyze_tflite

        mem = analyze_tflite(path)
    else:
        from .memory import analyze_onnx

        mem = analyze_onnx(path)
    out: dict[str, Any] = {"weights_bytes": int(mem["weights_bytes"]),
                           "peak_activation_bytes": int(mem["peak_activation_bytes"])}
    if tflm is not None:
        out["tflm_arena_bytes"] = tflm.get("arena_bytes")
    return out


def _tflm_report(path: Path) -> dict:
    from .tflm_arena import tflm_arena_report

    return tflm_arena_report(path)


def _host_latency(path: Path, fmt: str, threads: int) -> dict[str, Any] | None:
    """p50/p90 of one-sample inference in the model's own runtime; ``None`` when its input shape is dynamic."""
    import numpy as np

    from ..measure.latency import measure_latency
    from ..runtimes import open_runner

    runner = open_runner(path, fmt, threads)
    declared = getattr(runner, "declared", None)
    if not declared or any(d is None or (isinstance(d, int) and d < 1) or not isinstance(d, int) for d in declared):
        return None
    sample = np.random.default_rng(0).standard_normal((1, *declared)).astype(np.float32)
    prepared = runner.prepare(sample)
    stats = measure_latency(lambda: runner.run_once(prepared), mode="short")
    return {"p50": stats["p50"], "p90": stats["p90"], "runs": stats["runs"], "runtime": runner.name,
            "threads": runner.threads}


def _predict_on(path: Path, fmt: str, precision: str, profile, threads: int | None, tflm: dict | None,
                unknown_ops: list[str]) -> dict[str, Any]:
    from ..errors import BadInputError
    from .latency import FORMAT_RUNTIMES, predict_latency

    if threads:
        profile = profile.model_copy(update={"runtime": profile.runtime.model_copy(update={"threads": int(threads)})})
    notes: list[str] = []
    supported = True
    if precision not in profile.precisions:
        supported = False
        notes.append(f"{profile.name} has no {precision} ({'/'.join(profile.precisions)}): costed at its fallback "
                     "rate")
    if fmt not in profile.formats:
        notes.append(f"{profile.name} runs {'/'.join(profile.formats)}, not {fmt}: costed as the same network "
                     "converted to it")
    if profile.runtime.name == "tflite-micro":
        if fmt != "tflite":
            notes.append("TFLite Micro op support is checked on a .tflite only")
        elif tflm is not None and tflm.get("arena_bytes") is None:
            supported = False
            notes.append(str(tflm.get("reason") or "TFLite Micro cannot run this model"))
        elif tflm is not None:
            notes.append(f"TFLite Micro arena {tflm['arena_bytes']:,} bytes (measured in its interpreter)")
    if unknown_ops:
        notes.append(f"ops costed as data movement (no MAC model): {', '.join(unknown_ops)}")
    row: dict[str, Any] = {"target": profile.name, "precision": precision,
                           "threads": 1 if profile.kind == "mcu" else profile.runtime.threads}
    try:
        pred = predict_latency(path, profile, precision, runtime=FORMAT_RUNTIMES.get(fmt))
        row.update(p50_ms=pred["p50"], low_ms=pred["low"], high_ms=pred["high"])
        notes.append(f"method: {pred['method']}")
    except BadInputError as exc:
        row.update(p50_ms=None, low_ms=None, high_ms=None)
        notes.append(exc.one_line())
    return {**row, "supported": supported, "notes": notes}
