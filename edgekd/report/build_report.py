"""Assemble report.json from the measured artifacts (the output contract CI reads)."""

from __future__ import annotations

import datetime as _dt
import os
import platform
from importlib import metadata
from typing import Any

from .. import __version__
from ..artifact import Artifact

_VERSIONED = ("torch", "onnx", "onnxruntime", "ai-edge-litert", "litert-torch", "coremltools", "numpy")


def make_report(*, artifacts: list[Artifact], chosen: Artifact | None, budgets: list[dict], target, config,
                data, extras: dict, duration_s: float) -> dict[str, Any]:
    """The report as a JSON-able dict; ``passed`` is true only if every budget passed."""
    return {
        "edgekd_version": __version__,
        "created_utc": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "duration_s": round(duration_s, 2),
        "host": host_info(),
        "target": target.to_public_dict(),
        "data": data.summary(),
        "config": config.model_dump(mode="json"),
        "chosen": chosen.name if chosen else None,
        "models": [a.to_dict() for a in artifacts],
        "budgets": budgets,
        "conversion_failures": extras.get("conversion_failures", []),
        "training": {k: v for k, v in extras.items() if k.endswith("_history")},
        "temperature_scaling": extras.get("temperature_scaling", {"enabled": False}),
        "predicted_on_targets": extras.get("predicted_on_targets", []),
        "parity_matrix": extras.get("parity_matrix"),
        "passed": all(b["passed"] for b in budgets),
    }


def predict_on_targets(chosen: Artifact | None, artifacts: list[Artifact], ctx) -> list[dict[str, Any]]:
    """Predicted latency of the deployable artifact's graph on every profile in ``targets/``.

    Each profile is costed at the artifact's precision (a profile without that precision runs it
    at its fallback rate, see :meth:`TargetProfile.peak_macs`); ``supported`` says whether the
    profile lists the artifact's precision (the network would ship in the profile's own format).
    """
    from ..predict.analysis import graph_for
    from ..predict.latency import predict_latency
    from ..errors import BadInputError
    from ..targets import list_targets

    if chosen is None:
        return []
    graph = graph_for(chosen, artifacts, ctx)
    if graph is None:
        return []
    rows = []
    for profile in list_targets():
        row: dict[str, Any] = {"target": profile.name, "kind": profile.kind, "precision": chosen.precision,
                               "supported": chosen.precision in profile.precisions}
        try:
            pred = predict_latency(graph, profile, chosen.precision)
            row.update(p50=pred["p50"], low=pred["low"], high=pred["high"])
        except BadInputError as exc:
            row.update(p50=None, low=None, high=None, error=exc.one_line())
        budget = profile.budgets.max_latency_p90_ms
        row["budget_ms"] = budget
        rows.append(row)
    return rows


def host_info() -> dict[str, Any]:
    """What machine the measurements come from."""
    versions = {}
    for name in _VERSIONED:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return {"machine": platform.machine(), "cpu": cpu_model(), "cores": os.cpu_count(),
            "python": platform.python_version(), "packages": versions}


def cpu_model() -> str:
    """The CPU's model name (from /proc/cpuinfo on Linux)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"
