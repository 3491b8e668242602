"""Coefficients of the device cost model: first-principles priors and the fitted values shipped with edgekd.

Each runtime family has a small set of named coefficients (kernel efficiencies per op class
and precision, cycles per output element, dispatch overheads, parallel efficiency, memory
rates; see ``device_model.py`` for where each enters). :data:`PRIORS` holds a first-principles
value for each, with how far (``sigma``, in natural-log units) the fit may move it; they are
what the model uses before any fit and what regularises the fit (a MAP estimate: squared log
errors plus ``((ln c - ln prior) / sigma)^2``).

The fitted values live in ``device_coefficients.yaml`` next to this file, written by
``benchmarks/devices/validate.py --write`` with, per family, the published sources they were
fitted on (so every prediction knows which measurements are in-sample) and the band derived
from leave-one-source-out errors (and one band per device kind, phone or sbc, where the validation
has 20+ points of that kind). A family missing from the file uses its priors.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import yaml

COEFFICIENTS_FILE = Path(__file__).with_name("device_coefficients.yaml")
# The families with their own coefficients; onnxruntime on an Arm CPU borrows litert's (see ALIASES).
FAMILIES = ("litert", "tflite-micro", "edgetpu")
ALIASES = {"onnxruntime": "litert", "tflite-builtin": "litert", "x-cube-ai": "tflite-micro"}
BROAD, FIRM, LOOSE = 0.7, 0.35, 1.2  # prior log-sigmas: a factor ~2, ~1.4, ~3.3


def _p(value: float, sigma: float = BROAD) -> tuple[float, float]:
    return (value, sigma)


# Arm Cortex-A CPUs under XNNPACK / TFLite (and onnxruntime's MLAS, which has the same kernel shapes).
# Efficiencies are fractions of the core's vector MAC peak; cycles are core cycles.
CPU_PRIORS = {
    "e_conv_fp32": _p(0.65), "e_pointwise_fp32": _p(0.7), "e_depthwise_fp32": _p(0.3), "e_gemm_fp32": _p(0.5),
    # No grouped convolution in the validation set: a grouped conv is per-group GEMMs with the
    # padding costed in padded_macs, at a rate somewhat below a dense conv's (short K per group).
    "e_grouped_fp32": _p(0.45, FIRM), "e_elementwise_fp32": _p(0.1, LOOSE),
    # XNNPACK's int8 kernels reach about the fraction of their (higher) peak its fp32 kernels reach; held
    # firmly, so that a fit without XNNPACK int8 rows (TFLite's older kernels are slower: builtin_slowdown_*)
    # keeps INT8 faster than FP32 wherever the int8 peak is higher.
    "e_conv_int8": _p(0.55, FIRM), "e_pointwise_int8": _p(0.6, FIRM), "e_depthwise_int8": _p(0.25, FIRM),
    "e_gemm_int8": _p(0.4, FIRM),
    "e_grouped_int8": _p(0.35, FIRM), "e_elementwise_int8": _p(0.05, LOOSE),
    "out_cycles_fp32": _p(0.25, LOOSE),  # one 4-wide vector store per 4 outputs
    "out_cycles_int8": _p(1.0, LOOSE),   # requantization: multiply, shift, round, saturate per output
    "op_cycles": _p(5000, LOOSE), "sync_cycles": _p(10000, LOOSE), "run_cycles": _p(50000, LOOSE),
    "par_fp32": _p(0.8, FIRM), "par_int8": _p(0.7, FIRM),
    "onchip_bytes_per_cycle": _p(8.0), "dram_efficiency": _p(0.5),
    # A core without a vector unit runs scalar kernels: operand loads per MAC on a single-issue pipe.
    "scalar_efficiency": _p(0.3, LOOSE),
    # TFLite's built-in kernels (2018-2020 default: XNNPACK shipped disabled) against XNNPACK.
    "builtin_slowdown_fp32": _p(1.3), "builtin_slowdown_int8": _p(1.3),
    "builtin_slowdown_depthwise_fp32": _p(1.5), "builtin_slowdown_depthwise_int8": _p(1.5),
}
# Cortex-M with CMSIS-NN-style int8 kernels (TFLite Micro); X-CUBE-AI as a speed factor on it.
MCU_PRIORS = {
    "e_conv": _p(0.5), "e_pointwise": _p(0.55), "e_depthwise": _p(0.3), "e_gemm": _p(0.45),
    "e_grouped": _p(0.35, FIRM), "e_elementwise": _p(0.1, LOOSE),
    "out_cycles": _p(8.0, LOOSE), "op_cycles": _p(2000, LOOSE), "run_cycles": _p(10000, LOOSE),
    "dual_issue_gain": _p(1.5, FIRM), "flash_stall": _p(0.5, LOOSE), "xcube_speedup": _p(1.5),
}
# Each X-CUBE-AI release older than the reference has its own time multiplier (device_model.xcube_factor),
# named by device_model.xcube_release_key; the fit adds one per release its rows measured, prior 1 (no change).
XCUBE_RELEASE_PRIOR = _p(1.0)
# Google Edge TPU: fractions of the array's peak; seconds of fixed costs; share of the link's raw rate.
EDGETPU_PRIORS = {
    "e_conv": _p(0.5), "e_pointwise": _p(0.5), "e_depthwise": _p(0.3, LOOSE), "e_gemm": _p(0.05, LOOSE),
    "e_grouped": _p(0.3, LOOSE), "e_elementwise": _p(0.01, LOOSE),
    # Array fill: half the peak at a reduction of one array width (64).
    "reduction_half": _p(64.0, LOOSE),
    # USB 3.0's 5 Gb/s carries 500 MB/s after 8b/10b coding (0.8 of the 640 MB/s figure the profiles quote
    # for its raw rate), less protocol overhead: ~0.65.
    "op_seconds": _p(20e-6, LOOSE), "run_seconds": _p(0.5e-3, LOOSE), "link_efficiency": _p(0.65),
}
PRIORS: dict[str, dict[str, tuple[float, float]]] = {
    "litert": CPU_PRIORS, "tflite-micro": MCU_PRIORS, "edgetpu": EDGETPU_PRIORS,
}


def base_family(runtime_family: str) -> str:
    """The family whose coefficients ``runtime_family`` uses (``onnxruntime`` -> ``litert``)."""
    return ALIASES.get(runtime_family, runtime_family)


@functools.lru_cache(maxsize=4)
def _load(path: str) -> dict[str, Any]:
    file = Path(path)
    if not file.is_file():
        return {}
    data = yaml.safe_load(file.read_text(encoding="utf-8")) or {}
    return data.get("families", {})


def family_record(family: str, path: Path | None = None) -> dict[str, Any]:
    """Coefficients, band and provenance of ``family``: the fitted record, else the priors.

    Returns:
        ``coefficients`` (name -> value, every name of :data:`PRIORS`), ``band`` (``low``/``high``
        multipliers of p50 and a ``description``), ``bands_by_kind`` (profile kind -> a band of the
        same form, for the kinds the validation had enough points of; may be empty), ``fitted_on``
        (sources and points; empty for priors) and ``source`` (``fitted`` or ``priors``).
    """
    base = base_family(family)
    priors = {name: value for name, (value, _sigma) in PRIORS[base].items()}
    record = _load(str(path or COEFFICIENTS_FILE)).get(base)
    if not record:
        return {"coefficients": priors, "band": prior_band(), "bands_by_kind": {}, "fitted_on": {}, "source": "priors"}
    coefficients = {**priors, **record.get("coefficients", {})}
    return {"coefficients": coefficients, "band": record.get("band") or prior_band(),
            "bands_by_kind": record.get("bands_by_kind") or {}, "fitted_on": record.get("fitted_on", {}),
            "source": "fitted"}


def prior_band() -> dict[str, Any]:
    """The band of an unfitted family: a factor 2 either way (nothing validated it)."""
    return {"low": 0.5, "high": 2.0, "description": "unfitted priors: a factor 2 either way, not validated"}


def clear_cache() -> None:
    """Forget loaded coefficient files (after the validation rewrites one)."""
    _load.cache_clear()
