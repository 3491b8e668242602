"""Assemble report.json from the measured artifacts (the output contract CI reads)."""

from __future__ import annotations

import datetime as _dt
import os
import platform
import time
from importlib import metadata
from typing import Any

from .. import __version__
from ..stage import BuildContext, Stage
from ..state import BuildState
from .finite import scrub_report

_VERSIONED = ("torch", "onnx", "onnxruntime", "ai-edge-litert", "litert-torch", "coremltools", "numpy")


def make_report(state: BuildState, ctx: BuildContext, duration_s: float) -> dict[str, Any]:
    """The report as a JSON-able dict; ``passed`` is true only if every budget passed."""
    return {
        "edgekd_version": __version__,
        "created_utc": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "duration_s": round(duration_s, 2),
        "host": host_info(),
        "target": ctx.target.to_public_dict(),
        "data": ctx.data.summary(),
        "config": _config_as_built(ctx.config),
        "chosen": state.chosen,
        "models": [a.to_dict() for a in state.artifacts],
        "budgets": list(state.budgets),
        "conversion_failures": list(state.conversion_failures),
        "training": {f"{name.replace('-', '_')}_history": curve for name, curve in state.training_curves.items()},
        "temperature_scaling": state.temperature_scaling,
        "predicted_on_targets": list(state.predicted_on_targets),
        "parity_matrix": state.parity_matrix,
        "kd_vs_baseline": state.kd_vs_baseline,
        "deploy": state.deploy,
        "at_chance": at_chance(state),
        **({"search": state.search} if state.search is not None else {}),
        "passed": all(b["passed"] for b in state.budgets),
    }


def _config_as_built(config) -> dict[str, Any]:
    """The config as JSON, ``student.options`` with the student's build defaults filled in (what was built)."""
    from ..students import build_options

    out = config.model_dump(mode="json")
    out["student"]["options"] = build_options(config.student.name, out["student"]["options"])
    return out


def at_chance(state: BuildState) -> list[dict[str, Any]]:
    """Every model that ended at chance: trained ones on val (after training), judged ones on test (the gate)."""
    found = [{"model": name, **curve["chance"]} for name, curve in state.training_curves.items()
             if curve and (curve.get("chance") or {}).get("at_chance")]
    found += [{"model": b["model"], "split": "test", "top1": b["value"], "threshold": b["limit"], "at_chance": True}
              for b in state.budgets if b.get("source") == "chance" and not b["passed"]]
    return found


def run(state: BuildState, ctx: BuildContext) -> BuildState:
    """The state with its report (non-finite numbers as null, with a note).

    ``duration_s`` counts this run and the earlier runs it reused: the stages restored from
    them and the training a killed stage had checkpointed (``BuildState.resumed_s``).
    """
    this_run = time.perf_counter() - ctx.started
    return state.evolve(report=scrub_report(make_report(state, ctx, state.resumed_s + this_run)))


def host_info() -> dict[str, Any]:
    """What machine the measurements come from."""
    versions: dict[str, str | None] = {}
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


# The SIMD features that decide whether INT8 kernels beat FP32 ones (an int8 dot product or not).
SPEED_FLAGS = ("fma", "avx2", "avx512f", "avx512_vnni", "avx_vnni", "amx_int8", "asimd", "asimddp", "i8mm", "sve")


def cpu_features(cpuinfo: str = "/proc/cpuinfo") -> list[str]:
    """The CPU's speed-relevant SIMD flags (x86 ``flags`` / Arm ``Features`` of /proc/cpuinfo; [] elsewhere)."""
    try:
        with open(cpuinfo, encoding="utf-8") as handle:
            for line in handle:
                if line.startswith(("flags", "Features")):
                    present = set(line.split(":", 1)[1].split())
                    return [flag for flag in SPEED_FLAGS if flag in present]
    except OSError:
        pass
    return []


STAGE = Stage(name="report", run=run, reads=("config", "target"), cached=False)
