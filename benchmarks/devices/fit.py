"""Fit a runtime family's device-model coefficients to published rows (MAP: log errors + priors).

All rows of one family are evaluated at once: their op arrays and per-op contexts are
concatenated, each op carries its row index, and a row's latency is the ``bincount`` of its
ops' seconds plus its fixed seconds. The objective over the coefficients' logs ``x`` is::

    sum over rows (ln predicted - ln measured)^2 + sum over coefficients ((x - ln prior) / sigma)^2

with the priors and sigmas of ``edgekd.predict.device_coefficients.PRIORS`` (a coefficient no
row informs stays at its prior) and physical bounds (an efficiency or a parallel efficiency
cannot exceed 1). ``scipy.optimize.least_squares`` solves it.
"""

from __future__ import annotations

import numpy as np

from edgekd.predict import device_model as dm
from edgekd.predict.device_coefficients import PRIORS, XCUBE_RELEASE_PRIOR, base_family
from edgekd.predict.device_ops import ARRAY_FIELDS, OpArrays

# Coefficients that are fractions of a physical maximum, and other hard limits (as multiples).
UPPER = {"builtin_slowdown_fp32": 4.0, "builtin_slowdown_int8": 4.0, "builtin_slowdown_depthwise_fp32": 6.0,
         "builtin_slowdown_depthwise_int8": 6.0, "par_fp32": 1.0, "par_int8": 1.0, "dram_efficiency": 1.0,
         "link_efficiency": 1.0, "dual_issue_gain": 2.0, "flash_stall": 4.0}


def _upper(name: str, prior: float) -> float:
    if name in UPPER:
        return UPPER[name]
    if name.startswith("e_"):
        return 1.0
    return prior * 1e3


def _concat_ops(parts: list[OpArrays]) -> OpArrays:
    keys = ARRAY_FIELDS
    return OpArrays(names=[], op_types=[t for p in parts for t in p.op_types],
                    **{k: np.concatenate([getattr(p, k) for p in parts]) for k in keys}, input_bytes=0.0)


class Batch:
    """The rows of one base family, concatenated for fast evaluation."""

    def __init__(self, rows: list, family: str, cpu_coef: dict | None = None):
        self.rows = rows
        self.family = base_family(family)
        self.measured = np.array([r.measured_ms / 1e3 for r in rows])
        self.ops = _concat_ops([r.ops for r in rows])
        self.row_of = np.concatenate([np.full(len(r.ops), i) for i, r in enumerate(rows)])
        self.fallback = np.zeros(len(rows))
        self.recorded: dict[str, float] = {}  # coefficients the fit records from the rows rather than fits
        self.extra_priors: dict[str, tuple[float, float]] = {}  # coefficients these rows add to the family's
        if self.family == "litert":
            self.run = dm.concat([dm.cpu_run(r.ops, r.profile.device, r.profile.memory.bandwidth_bytes_per_s,
                                             r.run_threads, r.family == "tflite-builtin") for r in rows])
            self.clock = np.array([r.profile.device.cores_for(r.run_threads)[0].clock_hz for r in rows])
        elif self.family == "tflite-micro":
            self.run = dm.concat([dm.mcu_run(r.ops, r.profile.device, r.profile.memory.weights_in == "flash",
                                             r.family, r.xcube_version) for r in rows])
            self.clock = np.array([r.profile.device.clusters[0].clock_hz for r in rows])
            self.xcube = np.array([r.family == "x-cube-ai" for r in rows])
            self.xcube_release = np.array([dm.xcube_release(r.xcube_version) for r in rows])
            releases = [r.xcube_version for r in rows if r.family == "x-cube-ai" and r.xcube_version is not None]
            # The newest release these rows know: predictions for newer ones are costed as it (never extrapolated).
            reference = max(releases, default=dm.XCUBE_REFERENCE)
            self.recorded = {"xcube_reference": reference}
            # Every older release they measured gets its own multiplier (device_model.xcube_factor).
            self.extra_priors = {dm.xcube_release_key(r): XCUBE_RELEASE_PRIOR for r in sorted(set(releases))
                                 if r < reference}
        else:
            self._edgetpu(rows, cpu_coef)

    def _edgetpu(self, rows: list, cpu_coef: dict | None) -> None:
        mapped, peaks, transfer, links = [], [], [], []
        for i, r in enumerate(rows):
            tpu = r.profile.device.edgetpu
            m = dm.edgetpu_mapped(r.ops, tpu.supported_ops)
            mapped.append(m)
            peaks.append(np.full(len(r.ops), tpu.macs_per_s))
            transfer.append(dm.edgetpu_transfer_bytes(r.ops, m, tpu.parameter_cache_bytes))
            links.append(tpu.link_bytes_per_s)
            if not m.all() and cpu_coef is not None:  # host-CPU fallback, costed with the CPU family's coefficients
                rest = r.ops.select(~m)
                run = dm.cpu_run(rest, r.profile.device, r.profile.memory.bandwidth_bytes_per_s, 1)
                self.fallback[i] = dm.cpu_op_seconds(rest, run, cpu_coef).sum() + \
                    dm.cpu_fixed_seconds(r.profile.device.clusters[0].clock_hz, cpu_coef)
        self.mapped = np.concatenate(mapped)
        self.peak = np.concatenate(peaks)
        self.transfer = np.array(transfer)
        self.link = np.array(links)

    def predict(self, coef: dict) -> np.ndarray:
        """Seconds of every row under ``coef``."""
        n = len(self.rows)
        if self.family == "litert":
            per_op = dm.cpu_op_seconds(self.ops, self.run, coef)
            return np.bincount(self.row_of, per_op, n) + dm.cpu_fixed_seconds(self.clock, coef)
        if self.family == "tflite-micro":
            per_op = dm.mcu_op_seconds(self.ops, self.run, coef)
            return np.bincount(self.row_of, per_op, n) + dm.mcu_fixed_seconds(self.clock, self.xcube, coef,
                                                                                    self.xcube_release)
        per_op = np.where(self.mapped, dm.edgetpu_op_seconds(self.ops, self.peak, coef), 0.0)
        return np.bincount(self.row_of, per_op, n) + dm.edgetpu_fixed_seconds(self.transfer, self.link, coef) \
            + self.fallback


def fit_family(batch: Batch, start: dict | None = None) -> dict:
    """MAP coefficients of ``batch``'s family (module docstring); priors where no row informs one."""
    from scipy.optimize import least_squares

    priors = {**PRIORS[batch.family], **batch.extra_priors}
    names = list(priors)
    prior_x = np.log([priors[n][0] for n in names])
    sigma = np.array([priors[n][1] for n in names])
    lower = prior_x - 7.0
    upper = np.log([_upper(n, priors[n][0]) for n in names])
    x0 = np.clip(np.log([(start or {}).get(n, priors[n][0]) for n in names]), lower + 1e-9, upper - 1e-9)
    log_measured = np.log(batch.measured)

    def residuals(x: np.ndarray) -> np.ndarray:
        coef = {**dict(zip(names, np.exp(x))), **batch.recorded}
        pred = batch.predict(coef)
        return np.concatenate([np.log(np.maximum(pred, 1e-12)) - log_measured, (x - prior_x) / sigma])

    result = least_squares(residuals, x0, bounds=(lower, upper), method="trf", x_scale=1.0, max_nfev=400)
    return {**{n: float(v) for n, v in zip(names, np.exp(result.x))}, **batch.recorded}
