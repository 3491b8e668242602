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
        "passed": all(b["passed"] for b in budgets),
    }


def host_info() -> dict[str, Any]:
    """What machine the measurements come from."""
    versions = {}
    for name in _VERSIONED:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return {"machine": platform.machine(), "cpu": _cpu_model(), "cores": os.cpu_count(),
            "python": platform.python_version(), "packages": versions}


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"
