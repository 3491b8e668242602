"""Agreement figures between predicted and published latencies, and band calibration.

Everything works on log ratios ``ln(predicted / measured)``: ``within_10``/``within_30`` are
the shares with ``|predicted / measured - 1| <= 0.1 / 0.3``; ``median_abs_ln`` the median
``|ln(predicted / measured)|``; ``spearman`` the rank correlation of predicted and measured
latencies; ``coverage`` the share of measurements inside ``[low, high]``.
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np

BAND_QUANTILES = (0.10, 0.90)  # an 80% band


def agreement(pred, meas, low=None, high=None) -> dict:
    """Agreement figures of paired predictions and measurements (see the module docstring)."""
    pred, meas = np.asarray(pred, float), np.asarray(meas, float)
    if len(pred) == 0:
        return {"n": 0}
    ratio = pred / meas
    out = {"n": int(len(pred)), "within_10": float(np.mean(np.abs(ratio - 1) <= 0.10)),
           "within_30": float(np.mean(np.abs(ratio - 1) <= 0.30)),
           "within_2x": float(np.mean(np.abs(np.log(ratio)) <= np.log(2))),
           "median_abs_ln": float(np.median(np.abs(np.log(ratio)))),
           "geomean_ratio": float(np.exp(np.mean(np.log(ratio))))}
    if len(pred) >= 3:
        from scipy.stats import spearmanr

        out["spearman"] = float(spearmanr(pred, meas).statistic)
    if low is not None and high is not None:
        out["coverage"] = float(np.mean((np.asarray(low) <= meas) & (meas <= np.asarray(high))))
    return out


def band_factors(log_residuals) -> tuple[float, float]:
    """``(low, high)`` multipliers of p50 from residuals ``ln(measured / predicted)``: the 10th and 90th
    percentiles, so that ~80% of measurements fall inside ``[p50 x low, p50 x high]``."""
    res = np.asarray(log_residuals, float)
    lo, hi = np.quantile(res, BAND_QUANTILES)
    return float(np.exp(min(lo, 0.0))), float(np.exp(max(hi, 0.0)))


def nested_band_coverage(rows, pred: dict, group_of) -> dict:
    """Coverage of a band calibrated without each source: for every source, the band comes from the
    other sources' residuals of the same group (family); returns coverage overall and per group."""
    residual = {r.index: np.log(r.measured_ms / pred[r.index]) for r in rows}
    inside, by_group = [], defaultdict(list)
    for r in rows:
        others = [residual[o.index] for o in rows if o.source != r.source and group_of(o) == group_of(r)]
        if len(others) < 5:
            continue
        low, high = band_factors(others)
        ok = low <= r.measured_ms / pred[r.index] <= high
        inside.append(ok)
        by_group[group_of(r)].append(ok)
    return {"n": len(inside), "coverage": float(np.mean(inside)) if inside else None,
            "by_family": {g: {"n": len(v), "coverage": float(np.mean(v))} for g, v in sorted(by_group.items())}}


def int8_direction(rows, pred: dict) -> dict:
    """For every (model, device, threads) with both FP32 and INT8 rows: is INT8 predicted faster/slower as measured?"""
    groups: dict[tuple, dict[str, list]] = defaultdict(lambda: defaultdict(list))
    for r in rows:
        if r.precision in ("fp32", "int8"):
            groups[(r.model, r.device, r.threads)][r.precision].append(r)
    pairs = []
    for key, by_prec in sorted(groups.items(), key=lambda kv: str(kv[0])):
        if not by_prec.get("fp32") or not by_prec.get("int8"):
            continue
        gm = {p: float(np.exp(np.mean([np.log(r.measured_ms) for r in v]))) for p, v in by_prec.items()}
        gp = {p: float(np.exp(np.mean([np.log(pred[r.index]) for r in v]))) for p, v in by_prec.items()}
        measured_ratio, predicted_ratio = gm["int8"] / gm["fp32"], gp["int8"] / gp["fp32"]
        pairs.append({"model": key[0], "device": key[1], "threads": key[2], "measured_int8_over_fp32": measured_ratio,
                      "predicted_int8_over_fp32": predicted_ratio,
                      "direction_right": (measured_ratio < 1) == (predicted_ratio < 1)})
    right = sum(p["direction_right"] for p in pairs)
    return {"pairs": len(pairs), "right": right, "share": right / len(pairs) if pairs else None, "rows": pairs}


def breakdown(rows, pred: dict, key, band_of=None) -> dict:
    """``agreement`` per value of ``key(row)``; with ``band_of(row) -> (low, high)`` multipliers, band coverage too."""
    groups = defaultdict(list)
    for r in rows:
        groups[key(r)].append(r)
    out = {}
    for k, v in sorted(groups.items(), key=lambda kv: str(kv[0])):
        low = [pred[r.index] * band_of(r)[0] for r in v] if band_of else None
        high = [pred[r.index] * band_of(r)[1] for r in v] if band_of else None
        out[str(k)] = agreement([pred[r.index] for r in v], [r.measured_ms for r in v], low, high)
    return out
