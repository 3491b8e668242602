"""Free pruning before training: judge an untrained candidate against the target's budgets.

Latency and memory do not depend on the weights' values, so every candidate is built untrained,
exported to ONNX (and quantized to static INT8 with the build's own settings when the target
runs INT8) and judged with the same predictor and memory analysis the ``predict`` stage and
the gate use: the predicted upper bound of latency against ``max_latency_p90_ms``, the
activation arena (plus the weights when they live in RAM) against ``max_peak_ram_bytes`` and the
device's RAM, the graph's file size against ``max_model_bytes`` and the device's flash, and MACs
against the teacher's (a student larger than its teacher is not worth training). A candidate
that does not build, export or quantize is infeasible too, with the converter's message.
Nothing here trains; an infeasible candidate never reaches the study.
"""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path
from typing import Any

from .. import atomic
from ..errors import BadInputError
from ..stage import BuildContext
from .space import Candidate


def screen(candidate: Candidate, ctx: BuildContext, folder: Path, teacher_macs: int) -> dict[str, Any]:
    """Like :func:`judge`, but reuses the record of an earlier run of this build (``--resume``)."""
    cache = folder / f"{_safe(candidate.key)}.{_settings_digest(ctx, teacher_macs)}.json"
    try:
        return json.loads(cache.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        pass
    record = judge(candidate, ctx, folder, teacher_macs)
    atomic.write_json(cache, record)
    return record


def _settings_digest(ctx: BuildContext, teacher_macs: int) -> str:
    """What a screen record depends on besides the candidate (a change screens again)."""
    material = {"target": ctx.target.model_dump(mode="json"), "quantize": ctx.config.quantize.model_dump(mode="json"),
                "export": ctx.config.export.model_dump(mode="json"), "shape": list(ctx.data.input_shape),
                "classes": ctx.data.num_classes, "seed": ctx.config.seed, "teacher_macs": teacher_macs,
                "ratio": ctx.config.student.search.max_teacher_macs_ratio,
                "target_check": ctx.config.student.search.target_check}
    return hashlib.sha256(json.dumps(material, sort_keys=True).encode()).hexdigest()[:12]


def judge(candidate: Candidate, ctx: BuildContext, folder: Path, teacher_macs: int) -> dict[str, Any]:
    """Build, export and judge one candidate; never trains.

    Args:
        candidate: The architecture.
        ctx: The build context (target, data shape, quantize/export settings).
        folder: Where the candidate's ONNX graphs are written (the work folder).
        teacher_macs: The teacher's MACs (0 when unknown: no upper reference).

    Returns:
        ``candidate``, ``params``, ``macs``, ``precision``, ``predicted_latency_ms`` (p50/low/high),
        ``memory`` (weights, arena, peak RAM, model bytes), ``checks`` (one per budget:
        metric, limit, value, passed), ``feasible``, ``reason`` (the first failed check, or
        ``"meets every budget"``), ``overshoot`` (worst value/limit ratio) and ``screen_s``.
    """
    started = time.perf_counter()
    record: dict[str, Any] = {"key": candidate.key, **candidate.to_dict()}
    try:
        record.update(_measure(candidate, ctx, folder))
    except BadInputError as exc:  # invalid option value, unsupported op, quantizer failure
        record.update(feasible=False, reason=f"cannot build/export: {exc.one_line()}", checks=[],
                      overshoot=None, screen_s=time.perf_counter() - started)
        return record
    _verdict(record, ctx, teacher_macs)
    if record["feasible"] and runs_in_tflm(ctx):
        try:
            record.update(_tflm_measure(candidate, ctx, folder, record["memory"]))
        except BadInputError as exc:
            record.update(feasible=False, reason=f"cannot convert to INT8 TFLite: {exc.one_line()}")
        else:
            _verdict(record, ctx, teacher_macs)
    record["screen_s"] = time.perf_counter() - started
    return record


def runs_in_tflm(ctx: BuildContext) -> bool:
    """Whether candidates are also converted and run in TFLite Micro (the target's own runtime)."""
    return (ctx.config.student.search.target_check and ctx.target.runtime.name == "tflite-micro"
            and ctx.formats()[0] == "tflite")


def _verdict(record: dict[str, Any], ctx: BuildContext, teacher_macs: int) -> None:
    checks = _checks(record, ctx, teacher_macs)
    failed = [c for c in checks if not c["passed"]]
    ratios = [c["value"] / c["limit"] for c in checks if c["limit"]]
    if record.get("tflm_missing"):
        failed.append({"metric": "tflite_micro_runs", "value": 0, "limit": 1})
    # A model the runtime cannot run misses by more than any ratio: never the closest miss.
    overshoot = max(ratios) if ratios and not record.get("tflm_missing") else None
    record.update(checks=checks, feasible=not failed, overshoot=overshoot,
                  reason=("meets every budget" if not failed else
                          "; ".join(f"{c['metric']} {_fmt(c['value'])} > {_fmt(c['limit'])}"
                                    if c["metric"] != "tflite_micro_runs" else
                                    f"TFLite Micro cannot run it: {record['tflm_missing']}" for c in failed)))


def _tflm_measure(candidate: Candidate, ctx: BuildContext, folder: Path, onnx_memory: dict[str, Any]) -> dict[str, Any]:
    """Convert to the INT8 ``.tflite`` the build would ship and run it in TFLite Micro: arena, size, ops."""
    import torch

    from ..export.tflite import export_tflite
    from ..predict.tflm_arena import tflm_arena_report
    from ..students import build_student

    data = ctx.data
    torch.manual_seed(ctx.config.seed)
    model = build_student(candidate.student, data.num_classes, data.input_shape, **candidate.options).eval()
    int8_io = ctx.config.quantize.tflite_int8_io
    path = export_tflite(model, data.input_shape, folder / f"{_safe(candidate.key)}.int8.tflite", int8=True,
                         representative=data.representative.x[:64].numpy(),
                         int8_io=True if int8_io == "auto" else int8_io)
    arena = tflm_arena_report(path)
    memory = {**onnx_memory, "model_bytes": path.stat().st_size}
    if arena.get("arena_bytes") is None:
        return {"memory": memory, "tflm_missing": arena.get("reason") or "not measured"}
    weights = memory["weights_bytes"]
    ram = arena["arena_bytes"] if ctx.target.memory.weights_in == "flash" else arena["arena_bytes"] + weights
    memory.update(tflm_arena_bytes=int(arena["arena_bytes"]), peak_ram_bytes=int(ram))
    return {"memory": memory, "checked_on": "INT8 .tflite of the untrained network run in TFLite Micro (arena, "
                                             "size, ops); latency from its ONNX stand-in"}


def _measure(candidate: Candidate, ctx: BuildContext, folder: Path) -> dict[str, Any]:
    import torch

    from ..predict.deployed import predicted_deployed
    from ..predict.memory import analyze_onnx
    from ..students import build_student, count_params_macs

    data = ctx.data
    torch.manual_seed(ctx.config.seed)
    model = build_student(candidate.student, data.num_classes, data.input_shape, **candidate.options).eval()
    params, macs = count_params_macs(model, data.input_shape)
    pred, graph, precision, fmt = predicted_deployed(model, ctx, folder, _safe(candidate.key))
    mem = analyze_onnx(graph)
    weights, arena = int(mem["weights_bytes"]), int(mem["peak_activation_bytes"])
    ram = arena if ctx.target.memory.weights_in == "flash" else arena + weights
    return {"params": int(params), "macs": int(macs), "precision": precision, "format": fmt,
            "checked_on": f"{precision} ONNX graph of the untrained network, {pred['method']} prediction",
            "predicted_latency_ms": {"p50": pred["p50"], "low": pred["low"], "high": pred["high"]},
            "memory": {"weights_bytes": weights, "peak_activation_bytes": arena, "peak_ram_bytes": ram,
                       "model_bytes": int(mem["file_bytes"])}}


def _checks(record: dict[str, Any], ctx: BuildContext, teacher_macs: int) -> list[dict[str, Any]]:
    budgets, memory = ctx.target.budgets, ctx.target.memory
    mem = record["memory"]
    wanted = [("latency_p90_ms (predicted upper bound)", budgets.max_latency_p90_ms,
               record["predicted_latency_ms"]["high"]),
              ("peak_ram_bytes", budgets.max_peak_ram_bytes, mem["peak_ram_bytes"]),
              ("peak_ram_bytes_vs_device_ram", memory.ram_bytes, mem["peak_ram_bytes"]),
              ("model_bytes", budgets.max_model_bytes, mem["model_bytes"]),
              ("model_bytes_vs_device_storage", memory.flash_bytes, mem["model_bytes"]),
              ("macs_vs_teacher", _macs_limit(ctx, teacher_macs), record["macs"])]
    return [{"metric": metric, "limit": float(limit), "value": float(value), "passed": bool(value <= limit)}
            for metric, limit, value in wanted if limit is not None]


def _macs_limit(ctx: BuildContext, teacher_macs: int) -> float | None:
    ratio = ctx.config.student.search.max_teacher_macs_ratio
    return None if ratio is None or not teacher_macs else ratio * teacher_macs


def closest_miss(records: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The infeasible candidate that misses its budgets by the smallest worst ratio."""
    misses = [r for r in records if not r["feasible"] and r.get("overshoot") is not None]
    return min(misses, key=lambda r: (r["overshoot"], r["key"])) if misses else None


def _safe(key: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in key)


def _fmt(value: float) -> str:
    return f"{int(value):,}" if float(value).is_integer() and abs(value) >= 1e4 else f"{value:.4g}"
