"""The validation rows: each published measurement with its profile, runtime family, scope and op arrays.

A row is **in scope** (counted in the headline figures) when edgekd models its runtime (XNNPACK /
TFLite on an Arm CPU, TFLite Micro + CMSIS-NN or X-CUBE-AI on a Cortex-M, the Edge TPU), its
device has a profile, its thread count is known (or irrelevant: MCU, Edge TPU) and its precision
is FP32 or INT8. Every other row is kept as a **reference** row with the reason, predicted with
the nearest family and reported separately: vendor engines edgekd does not deploy with (Plumerai,
Bosch HALE, microTVM, ONNC, LEIP, Andes NN), rows whose threads are not stated, FP16 rows, and
devices without a profile (RX, RH850, RISC-V cores).
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

import yaml

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from benchmarks.devices.costs import cost_path, load_rows  # noqa: E402

HERE = Path(__file__).resolve().parent
PROFILES = HERE / "profiles"
# (substring of the row's runtime, family); first match wins. None: an engine edgekd does not model.
RUNTIME_FAMILIES = (
    ("Andes NN", None), ("Plumerai", None), ("Bosch", None), ("microTVM", None), ("ONNC", None), ("LEIP", None),
    ("X-CUBE-AI", "x-cube-ai"), ("edgetpu", "edgetpu"), ("Edge TPU", "edgetpu"),
    ("TensorFlow Lite for Micro", "tflite-micro"), ("tflite-micro", "tflite-micro"),
    ("Tensorflow Lite Micro", "tflite-micro"), ("TensorFlow Lite for micro", "tflite-micro"),
    # XNNPACK's own benchmark and TFLite releases that run float/int8 through XNNPACK (TFLite 2.11 in
    # X-LINUX-AI 5.1; NetsPresso's 2024 benchmarker) are the LiteRT of today; the 2018-2020 pages measured
    # TFLite's built-in kernels (XNNPACK shipped "disabled by default" then: TFLite's XNNPACK delegate README,
    # android.googlesource.com/platform/external/tensorflow/+/66372622580/tensorflow/lite/delegates/xnnpack).
    ("xnnpack", "litert"), ("tflite 2.11", "litert"), ("NetsPresso", "litert"), ("tflite (", "tflite-builtin"),
)
DEVICE_CLASSES = ("phone-cpu", "sbc", "mpu", "mcu", "edgetpu", "phone-edgetpu")


@dataclass
class Row:
    """One published point, ready to predict."""

    index: int
    model: str
    device: str
    device_class: str
    precision: str
    threads: int | None
    measured_ms: float
    source: str
    runtime: str
    family: str | None
    profile_name: str | None
    in_scope: bool
    reason: str = ""
    ops: object = None          # OpArrays
    profile: object = None      # TargetProfile
    run_threads: int = 1
    extra: dict = field(default_factory=dict)
    xcube_version: float | None = None  # the X-CUBE-AI release of an x-cube-ai row (7.1, 8.0, 10.0, ...)


def xcube_version(runtime: str) -> float | None:
    """The release in an X-CUBE-AI runtime string as major + minor/10 ("X-CUBE-AI v7.1.0" -> 7.1)."""
    found = re.search(r"(\d+)\.(\d)", runtime) if "cube" in runtime.lower() else None
    return int(found.group(1)) + int(found.group(2)) / 10 if found else None


def runtime_family(runtime: str) -> str | None:
    """The runtime family of a row's runtime string (None: an engine edgekd does not model)."""
    for needle, family in RUNTIME_FAMILIES:
        if needle.lower() in runtime.lower():
            return family
    return None


def load_profile(name: str):
    """A validation profile from ``profiles/`` or a shipped one by name."""
    from edgekd.targets import load_target

    local = PROFILES / f"{name}.yaml"
    return load_target(str(local) if local.exists() else name)


def _scope(raw: dict, family: str | None, profile_name: str | None) -> tuple[bool, str]:
    if family is None:
        return False, "engine edgekd does not model"
    if family == "tflite-micro" and "cmsis" not in raw["runtime"].lower():
        # TFLite Micro without CMSIS-NN named runs its reference kernels (e.g. MLPerf Tiny v0.5's reference
        # submission lists no software library), a different kernel library from the one modelled.
        return False, "TFLite Micro without CMSIS-NN (reference kernels)"
    if profile_name is None:
        return False, "no profile (not an Arm Cortex-A/M or Edge TPU)"
    if raw["precision"] not in ("fp32", "int8"):
        return False, f"{raw['precision']} (threads not stated)" if raw.get("threads") is None else raw["precision"]
    if family in ("litert", "tflite-builtin") and raw.get("threads") is None:
        return False, "threads not stated"
    return True, ""


def load_rows_table(measurements: Path | None = None) -> list[Row]:
    """Every measurement as a :class:`Row`, op arrays attached when its cost table exists."""
    from edgekd.predict.device_predict import op_arrays_for

    data = yaml.safe_load((measurements or HERE / "measurements.yaml").read_text())["measurements"]
    index = yaml.safe_load((PROFILES / "index.yaml").read_text())["devices"]
    profiles: dict[str, object] = {}
    arrays: dict[tuple, object] = {}
    rows = []
    for i, raw in enumerate(data):
        family = runtime_family(raw["runtime"])
        profile_name = index.get(raw["device"])
        in_scope, reason = _scope(raw, family, profile_name)
        row = Row(index=i, model=raw["model"], device=raw["device"], device_class=raw["device_class"],
                  precision=raw["precision"], threads=raw.get("threads"), measured_ms=float(raw["latency_ms"]),
                  source=raw["source"]["id"], runtime=raw["runtime"], family=family, profile_name=profile_name,
                  in_scope=in_scope, reason=reason,
                  xcube_version=xcube_version(raw["runtime"]) if family == "x-cube-ai" else None)
        rows.append(row)
        if profile_name is None:
            continue
        if profile_name not in profiles:
            profiles[profile_name] = load_profile(profile_name)
        row.profile = profile = profiles[profile_name]
        row.family = family or ("tflite-micro" if profile.kind == "mcu" else "litert")
        row.run_threads = 1 if profile.kind == "mcu" or row.family == "edgetpu" else \
            int(raw.get("threads") or profile.runtime.threads)
        graph_precision = "int8" if row.precision == "int8" else "fp32"
        if not cost_path(row.model, graph_precision).exists():
            row.reason = row.reason or "cost table missing"
            continue
        key = (row.model, graph_precision, profile_name, row.family, row.precision)
        if key not in arrays:
            arrays[key] = op_arrays_for(load_rows(row.model, graph_precision), profile, row.precision, row.family)
        row.ops = arrays[key]
    return rows
