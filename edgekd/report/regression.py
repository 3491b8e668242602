"""Re-reading reports: rebuild artifact records from report.json and compare with a baseline."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from ..artifact import Artifact
from ..errors import BadInputError

_RECORD_KEYS = {"name", "role", "format", "precision", "path", "parent", "input_shape", "params", "macs", "notes"}

# (label, path into a model entry, True when larger is better, absolute change always tolerated).
# ECE is a small number (0.01-0.1) that moves by a few thousandths between machines for the same
# seed (float summation order differs by CPU); a relative limit alone would fail on that noise.
_COMPARED = (
    ("top1", ("accuracy", "top1"), True, 0.0),
    ("ece", ("calibration", "ece"), False, 0.005),
    ("size_bytes", ("size_bytes",), False, 0.0),
    ("host_p90_ms", ("latency_ms", "host", "p90"), False, 0.0),
    ("predicted_p50_ms", ("latency_ms", "predicted", "p50"), False, 0.0),
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


def compare_reports(current: dict[str, Any], baseline: dict[str, Any], max_regression: float) -> list[dict]:
    """Relative change of each compared metric of the deployable model vs the baseline's.

    A metric regresses when it gets worse by more than ``max_regression`` (a fraction, 0.05 = 5%)
    and, for ECE, by more than 0.005 absolute. Measured host latency is compared only when both
    reports come from the same CPU and neither run was flagged noisy (else the row says why).
    """
    now = _model(current, current.get("chosen"))
    before = _model(baseline, baseline.get("chosen"))
    if now is None or before is None:
        return []
    rows = []
    host_skip = _host_latency_skip(current, baseline, now, before)
    for label, path, higher_is_better, atol in _COMPARED:
        a, b = _dig(now, path), _dig(before, path)
        if a is None and b is not None:
            # Measured in the baseline, null now: not measured is a failure, never a pass.
            rows.append({"metric": label, "baseline": b, "value": None, "change": None,
                         "limit": max_regression, "passed": False, "note": "not measured in this report"})
            continue
        if a is None or b is None or b == 0:
            continue
        if label.startswith("host_") and host_skip:
            rows.append({"metric": label, "baseline": b, "value": a, "change": (a - b) / abs(b),
                         "limit": max_regression, "passed": True, "skipped": host_skip})
            continue
        change = (a - b) / abs(b)
        worse = -change if higher_is_better else change
        rows.append({"metric": label, "baseline": b, "value": a, "change": change,
                     "limit": max_regression, "passed": worse <= max_regression or abs(a - b) <= atol})
    return rows


def _host_latency_skip(current: dict, baseline: dict, now: dict, before: dict) -> str | None:
    """Why measured host latency cannot be compared (another CPU, or a run flagged noisy), else None.

    Host latency is a property of the machine as much as of the model: a CI runner is not the
    machine the baseline was built on, and a noisy run varies by far more than any sensible limit.
    """
    cpu_now, cpu_before = (current.get("host") or {}).get("cpu"), (baseline.get("host") or {}).get("cpu")
    if cpu_now != cpu_before:
        return f"measured on another CPU ({cpu_now} vs baseline {cpu_before})"
    if any(((m.get("latency_ms") or {}).get("host") or {}).get("noisy") for m in (now, before)):
        return "host latency flagged noisy"
    return None


def _model(report: dict[str, Any], name: str | None) -> dict[str, Any] | None:
    return next((m for m in report["models"] if m["name"] == name), None)


def _dig(node: Any, path: tuple[str, ...]) -> float | None:
    for key in path:
        if not isinstance(node, dict):
            return None
        node = node.get(key)
    return node if isinstance(node, (int, float)) else None
