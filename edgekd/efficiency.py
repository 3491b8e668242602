"""Efficiency bands and runtime latency models of a device profile (``targets/*.yaml``).

Two ways to predict latency live in a profile:

* ``efficiency`` + ``op_overhead_s``: the analytical roofline's fractions of peak per op class
  and precision (``edgekd.predict.latency``). Every profile has them: the priors below by device
  class, which a profile may override, or figures ``edgekd targets fit`` measured.
* ``latency_models``: optional per-runtime models measured on the device itself by
  ``edgekd targets fit --runtime ...`` (``edgekd.predict.runtime_model``). When the
  artifact's runtime and precision have one, it is used instead of the roofline.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

OP_CLASSES = ("conv", "depthwise", "pointwise", "gemm", "elementwise", "pool")
LATENCY_FEATURES = ("run", "conv_nodes", "other_nodes", "macs_conv", "macs_depthwise", "macs_pointwise",
                    "macs_gemm", "bytes_conv", "bytes_other", "macs_unaligned_depthwise", "macs_unaligned_dense",
                    "bytes_unaligned")


class Section(BaseModel):
    """Base of every profile section: unknown keys are errors, and so are NaN and ±inf.

    ``.inf`` is valid YAML and a float to pydantic; as a budget it would pass validation and
    break the report (infinite limits cannot be written as JSON). No profile figure means infinity.
    """

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class Band(Section):
    """Fraction of peak reached: ``low`` (pessimistic) <= ``mid`` <= ``high`` (optimistic)."""

    low: float = Field(gt=0, le=1)
    mid: float = Field(gt=0, le=1)
    high: float = Field(gt=0, le=1)

    @model_validator(mode="after")
    def _ordered(self) -> Band:
        if not self.low <= self.mid <= self.high:
            raise ValueError(f"need low <= mid <= high, got {self.low}, {self.mid}, {self.high}")
        return self


class PerPrecision(Section):
    fp32: Band
    fp16: Band
    int8: Band


class Efficiency(Section):
    """Per op class and precision: the fraction of peak MAC rate a real kernel reaches.

    ``memory`` is the fraction of ``bandwidth_bytes_per_s`` reached by streaming kernels.
    """

    conv: PerPrecision
    depthwise: PerPrecision
    pointwise: PerPrecision
    gemm: PerPrecision
    elementwise: PerPrecision
    pool: PerPrecision
    memory: Band


class ErrorBand(Section):
    """Relative errors (predicted / measured - 1) bounding a runtime model: 5th and 95th percentile."""

    low: float = Field(gt=-1)
    high: float = Field(gt=-1)


class FitQuality(Section):
    networks: int = Field(gt=0)
    loo_median_abs_error: float = Field(ge=0)
    loo_within_10pct: float = Field(ge=0, le=1)
    measured_ms_range: list[float]


class RuntimeModel(Section):
    """One runtime's latency model at one precision (see ``edgekd.predict.runtime_model``)."""

    channel_tile: int = Field(1, ge=1, le=64, description="output channels are padded to a multiple of this")
    align_tile: int = Field(1, ge=1, le=64, description="convs with channels not a multiple of this run a slow path")
    coefficients: dict[str, float]
    band: ErrorBand
    fit: FitQuality
    about: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _known_features(self) -> RuntimeModel:
        if set(self.coefficients) != set(LATENCY_FEATURES):
            raise ValueError(f"coefficients must name exactly {', '.join(LATENCY_FEATURES)}")
        if any(v < 0 for v in self.coefficients.values()):
            raise ValueError("coefficients are seconds per unit and cannot be negative")
        return self


def _band(low: float, mid: float, high: float) -> dict:
    return {"low": low, "mid": mid, "high": high}


def _classes(conv, depthwise, pointwise, gemm, elementwise, pool, memory, int8_scale=1.0) -> dict:
    """Same band for fp32/fp16; INT8 kernels reach a smaller fraction of their (higher) peak."""
    out: dict[str, Any] = {}
    for cls, band in zip(OP_CLASSES, (conv, depthwise, pointwise, gemm, elementwise, pool)):
        int8 = tuple(min(1.0, b * int8_scale) for b in band)
        out[cls] = {"fp32": _band(*band), "fp16": _band(*band), "int8": _band(*int8)}
    out["memory"] = _band(*memory)
    return out


# Priors per device class, NOT fitted to any published model latency. They encode what is
# known about kernel libraries at batch 1: dense convs and GEMMs reach a good part of peak,
# depthwise convs (no reuse across channels) and elementwise ops are bandwidth-bound, and
# wide accelerators are poorly filled by small layers. `edgekd.fitting.microbench` measures
# them on the host; on another device, measure there and override in the profile.
DEFAULT_EFFICIENCY: dict[str, dict] = {
    "host": _classes((0.30, 0.55, 0.80), (0.05, 0.15, 0.35), (0.30, 0.55, 0.85), (0.35, 0.60, 0.90),
                     (0.05, 0.20, 0.50), (0.05, 0.20, 0.50), (0.40, 0.65, 0.85), int8_scale=0.6),
    "sbc": _classes((0.25, 0.50, 0.75), (0.05, 0.15, 0.35), (0.25, 0.50, 0.80), (0.30, 0.55, 0.85),
                    (0.05, 0.20, 0.50), (0.05, 0.20, 0.50), (0.35, 0.60, 0.80), int8_scale=0.7),
    "phone": _classes((0.25, 0.50, 0.75), (0.05, 0.15, 0.35), (0.25, 0.50, 0.80), (0.30, 0.55, 0.85),
                      (0.05, 0.20, 0.50), (0.05, 0.20, 0.50), (0.35, 0.60, 0.80), int8_scale=0.7),
    "mcu": _classes((0.15, 0.35, 0.60), (0.08, 0.20, 0.40), (0.15, 0.35, 0.60), (0.15, 0.35, 0.60),
                    (0.05, 0.15, 0.40), (0.05, 0.15, 0.40), (0.30, 0.50, 0.80)),
    "gpu": _classes((0.02, 0.10, 0.40), (0.01, 0.03, 0.10), (0.02, 0.10, 0.40), (0.03, 0.15, 0.50),
                    (0.01, 0.05, 0.20), (0.01, 0.05, 0.20), (0.30, 0.60, 0.80)),
    "accelerator": _classes((0.05, 0.20, 0.60), (0.01, 0.04, 0.15), (0.05, 0.20, 0.60), (0.05, 0.25, 0.70),
                            (0.01, 0.05, 0.20), (0.01, 0.05, 0.20), (0.30, 0.60, 0.80)),
}
# Per-op dispatch overhead priors (interpreter/kernel-launch cost), likewise not fitted.
DEFAULT_OP_OVERHEAD_S = {"host": 3e-6, "sbc": 1e-5, "phone": 5e-6, "mcu": 2e-5, "gpu": 8e-6, "accelerator": 5e-6}
