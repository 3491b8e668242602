"""Re-reading reports: rebuild artifact records from report.json and compare with a baseline."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from .. import stats
from ..artifact import Artifact
from ..errors import BadInputError
from .gate import host_noise

_RECORD_KEYS = {"name", "role", "format", "precision", "path", "parent", "input_shape", "params", "macs", "notes"}

# Relative limits (--max-regression) suit figures that do not depend on the test split's size: file
# size and latency. Accuracy and calibration are estimates from n test samples, so they are judged
# by the sampling error of n samples instead (edgekd.stats): a 5% relative limit on an ECE of 0.015
# is 0.0008, far below what 360 test images can resolve.
# (label, path into a model entry, True when larger is better)
_RELATIVE = (
    ("size_bytes", ("size_bytes",), False),
    ("host_p90_ms", ("latency_ms", "host", "p90"), False),
    ("predicted_p50_ms", ("latency_ms", "predicted", "p50"), False),
)

STATISTICAL_RULES = (
    "top-1: a binomial proportion on each report's test split, so Newcombe's hybrid score interval of the "
    "change (from two Wilson intervals); a regression only when the whole interval is below zero",
    "ECE: no closed-form variance, so a percentile bootstrap of the change that resamples each report's "
    "reliability bins (what report.json keeps); a regression only when the whole interval is above zero",
    "size and latency: not sampled from the test split, so a relative limit (--max-regression); host latency "
    "only between quiet runs on the same CPU",
)


def load_report(path: str | os.PathLike) -> dict[str, Any]:
    """Read a report.json, with a one-line error when it is missing or not a report."""
    path = Path(path)
    try:
        # NaN/Infinity (which edgekd never writes) read as null: "not measured", never a number that passes.
        report = json.loads(path.read_text(encoding="utf-8"), parse_constant=lambda _token: None)
    except FileNotFoundError:
        raise BadInputError(f"report {path} does not exist", fix="pass the report.json a build wrote") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise BadInputError(f"report {path} is not valid JSON ({exc.__class__.__name__})",
                            fix="pass the report.json a build wrote") from None
    except OSError as exc:
        raise BadInputError(f"report {path} cannot be read ({exc.strerror or exc.__class__.__name__})",
                            fix="pass the report.json a build wrote") from None
    except RecursionError:
        raise BadInputError(f"report {path} is nested too deeply to be an edgekd report",
                            fix="pass the report.json a build wrote") from None
    if not isinstance(report, dict) or not {"models", "budgets", "target"} <= set(report):
        raise BadInputError(f"{path} is not an edgekd report (needs models, budgets, target)",
                            fix="pass the report.json a build wrote")
    return report


def models_from_report(report: dict[str, Any]) -> list[Artifact]:
    """Artifact records (without in-memory models) from a report's ``models`` list."""
    out = []
    for entry in report["models"]:
        metrics = {k: v for k, v in entry.items() if k not in _RECORD_KEYS}
        out.append(Artifact(name=entry["name"], role=entry["role"], format=entry["format"],
                            precision=entry["precision"], path=entry.get("path"), parent=entry.get("parent"),
                            input_shape=tuple(entry.get("input_shape", ())), params=entry.get("params", 0),
                            macs=entry.get("macs", 0), metrics=metrics, notes=tuple(entry.get("notes", ()))))
    return out


def compare_reports(current: dict[str, Any], baseline: dict[str, Any], max_regression: float,
                    confidence: float = stats.CONFIDENCE) -> list[dict]:
    """Compare the deployable model of ``current`` with the baseline's, metric by metric.

    Top-1 and ECE regress only when the change is larger than the test splits can resolve at
    ``confidence`` (see :data:`STATISTICAL_RULES`); size and latency regress when they get worse
    by more than ``max_regression`` (a fraction, 0.05 = 5%). Measured host latency is compared
    only when both reports come from the same CPU and neither run was flagged noisy.

    Returns:
        One row per compared metric: ``metric``, ``baseline``, ``value``, ``change`` (relative),
        ``difference`` (absolute), ``method``, ``interval`` (of the difference, statistical rows),
        ``limit`` (relative rows), ``rule`` (one line saying how it was judged), ``passed`` and,
        when not compared, ``skipped`` (why).
    """
    now = _model(current, current.get("chosen"))
    before = _model(baseline, baseline.get("chosen"))
    if now is None or before is None:
        return []
    rows = [row for row in (_top1_row(current, baseline, now, before, confidence),
                            _ece_row(current, baseline, now, before, confidence)) if row is not None]
    host_skip = _host_latency_skip(current, baseline, now, before)
    for label, path, higher_is_better in _RELATIVE:
        a, b = _dig(now, path), _dig(before, path)
        if a is None and b is not None:
            # Measured in the baseline, null now: not measured is a failure, never a pass.
            rows.append({"metric": label, "baseline": b, "value": None, "change": None,
                         "limit": max_regression, "passed": False, "note": "not measured in this report"})
            continue
        if a is None or b is None or b == 0:
            continue
        change = (a - b) / abs(b)
        worse = -change if higher_is_better else change
        row = {"metric": label, "baseline": b, "value": a, "change": change, "difference": a - b,
               "method": "relative", "interval": None, "limit": max_regression,
               "rule": f"relative change limit {100 * max_regression:+.1f}%", "passed": worse <= max_regression}
        if label.startswith("host_") and host_skip:
            row.update(passed=True, skipped=host_skip)
        rows.append(row)
    return rows


def _top1_row(current: dict, baseline: dict, now: dict, before: dict, confidence: float) -> dict | None:
    a, b = _dig(now, ("accuracy", "top1")), _dig(before, ("accuracy", "top1"))
    if a is None and b is not None:
        return _unmeasured_row("top1", b, "newcombe-wilson")
    n_now, n_before = _test_size(current, now), _test_size(baseline, before)
    if a is None or b is None or not n_now or not n_before:
        return None
    low, high = stats.difference_interval(a, n_now, b, n_before, confidence)
    rule = (f"{100 * confidence:.0f}% Newcombe-Wilson interval of the change on {n_now:,} vs {n_before:,} test "
            f"samples: {100 * low:+.1f} to {100 * high:+.1f} pts (a regression only if all below 0)")
    return {"metric": "top1", "baseline": b, "value": a, "change": (a - b) / b if b else 0.0, "difference": a - b,
            "method": "newcombe-wilson", "interval": [low, high], "limit": None, "rule": rule, "passed": high >= 0}


def _unmeasured_row(metric: str, baseline_value: float, method: str) -> dict:
    """Measured in the baseline, null now: not measured is a failure, never a pass."""
    return {"metric": metric, "baseline": baseline_value, "value": None, "change": None, "difference": None,
            "method": method, "interval": None, "limit": None, "rule": "not measured in this report",
            "passed": False, "note": "not measured in this report"}


def _ece_row(current: dict, baseline: dict, now: dict, before: dict, confidence: float) -> dict | None:
    a, b = _dig(now, ("calibration", "ece")), _dig(before, ("calibration", "ece"))
    if a is None and b is not None:
        return _unmeasured_row("ece", b, "bootstrap")
    if a is None or b is None:
        return None
    bins_now = (now.get("calibration") or {}).get("reliability")
    bins_before = (before.get("calibration") or {}).get("reliability")
    if bins_now and bins_before:
        low, high = stats.ece_difference_interval(bins_now, bins_before, confidence)
        method = "bootstrap"
        how = (f"{100 * confidence:.0f}% bootstrap interval ({stats.BOOTSTRAP_RESAMPLES:,} resamples of the "
               "reliability bins)")
    else:
        # No bins (a report from an older edgekd): the worst-case binomial spread, Var(ECE) <= 1 / (4 n).
        n_now, n_before = _test_size(current, now), _test_size(baseline, before)
        if not n_now or not n_before:
            return None
        half = stats.z_value(confidence) * (0.25 / n_now + 0.25 / n_before) ** 0.5
        low, high = a - b - half, a - b + half
        method, how = "worst-case-bound", f"{100 * confidence:.0f}% worst-case binomial bound"
    rule = f"{how} of the change: {low:+.4f} to {high:+.4f} (a regression only if all above 0)"
    return {"metric": "ece", "baseline": b, "value": a, "change": (a - b) / b if b else 0.0, "difference": a - b,
            "method": method, "interval": [low, high], "limit": None, "rule": rule, "passed": low <= 0}


def _test_size(report: dict, model: dict) -> int | None:
    """Test samples behind a model's top-1: the report's test split (or the reliability bins' total)."""
    samples = ((report.get("data") or {}).get("samples") or {}).get("test")
    return int(samples) if isinstance(samples, int) and samples > 0 else _bins_total(model)


def _bins_total(model: dict) -> int | None:
    bins = (model.get("calibration") or {}).get("reliability") or []
    total = sum(b.get("count", 0) for b in bins)
    return total or None


def _host_latency_skip(current: dict, baseline: dict, now: dict, before: dict) -> str | None:
    """Why measured host latency cannot be compared (another CPU, or a run flagged noisy), else None.

    Host latency is a property of the machine as much as of the model: a CI runner is not the
    machine the baseline was built on, and a noisy run varies by far more than any sensible limit.
    """
    cpu_now, cpu_before = (current.get("host") or {}).get("cpu"), (baseline.get("host") or {}).get("cpu")
    if cpu_now != cpu_before:
        return f"measured on another CPU ({cpu_now} vs baseline {cpu_before})"
    for which, model in (("this build's", now), ("the baseline's", before)):
        why = host_noise((model.get("latency_ms") or {}).get("host") or {})
        if why:
            return f"{which} host latency is {why}"
    return None


def _model(report: dict[str, Any], name: str | None) -> dict[str, Any] | None:
    return next((m for m in report["models"] if m["name"] == name), None)


def _dig(node: Any, path: tuple[str, ...]) -> float | None:
    for key in path:
        if not isinstance(node, dict):
            return None
        node = node.get(key)
    return node if isinstance(node, (int, float)) else None
