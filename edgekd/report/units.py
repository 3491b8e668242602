"""Numbers with their units, the same in report.md, report.html and the console.

Bytes read as B/KiB/MiB/GiB, top-1 as a percentage, a top-1 *difference* as percentage points,
latency in ms, ECE as a plain fraction, counts as integers. A budget entry carries its ``unit``
(``fraction``, ``ece``, ``ms``, ``bytes``, ``count``); reports written before that field existed
get it inferred from the metric name.
"""

from __future__ import annotations

from typing import Any

# Metrics whose fraction is a difference of two top-1 figures (shown in points, not percent).
_POINTS = ("top1_drop_vs_teacher",)
_LOWER_IS_BETTER_LIMIT = "≤"
_HIGHER_IS_BETTER_LIMIT = "≥"


def num(value: Any) -> str:
    """A plain number: 4 significant digits, thousands separators for large integral values."""
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{int(value):,}" if value.is_integer() and abs(value) >= 1e4 else f"{value:.4g}"
    return f"{value:,}" if isinstance(value, int) else str(value)


def pct(value: float | None) -> str:
    """A fraction as a percentage with two decimals (``0.975`` -> ``97.50%``)."""
    return "—" if value is None else f"{100 * value:.2f}%"


def points(value: float | None) -> str:
    """A difference of two fractions in percentage points (``0.0222`` -> ``2.22 pts``)."""
    return "—" if value is None else f"{100 * value:.2f} pts"


def ms(value: float | None) -> str:
    """Milliseconds with 3 significant digits (``1.3992`` -> ``1.40 ms``)."""
    if value is None:
        return "—"
    return f"{value:.3g} ms" if abs(value) < 1000 else f"{value:,.0f} ms"


def size(value: float | None) -> str:
    """Bytes in binary units (``536870912`` -> ``512.0 MiB``)."""
    if value is None:
        return "—"
    value = float(value)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(value) < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return str(value)


def macs(value: int | None) -> str:
    """MACs with separators, or "unknown" (a teacher whose graph has ops whose cost it cannot give)."""
    return "unknown" if value is None else f"{int(value):,}"


def macs_short(value: int | None) -> str:
    """MACs in 3 significant digits with a k/M/G suffix (``3838656`` -> ``3.84 M``), for narrow consoles."""
    if value is None:
        return "unknown"
    for factor, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= factor:
            return f"{value / factor:.3g} {suffix}"
    return f"{int(value)}"


def budget_unit(entry: dict[str, Any]) -> str:
    """The unit of a budget entry (its ``unit`` field, else inferred from the metric name)."""
    unit = entry.get("unit")
    if unit:
        return str(unit)
    metric = entry["metric"]
    if "bytes" in metric:
        return "bytes"
    if metric.startswith("latency"):
        return "ms"
    if "ece" in metric:
        return "ece"
    if "top1" in metric:
        return "fraction"
    return "count"


def budget_value(entry: dict[str, Any], key: str = "value") -> str:
    """A budget's ``value`` or ``limit`` in its unit."""
    value = entry.get(key)
    unit = budget_unit(entry)
    if value is None:
        return "not measured" if key == "value" else "—"
    if unit == "bytes":
        return size(value)
    if unit == "ms":
        return ms(value)
    if unit == "fraction":
        return points(value) if entry["metric"] in _POINTS else pct(value)
    if unit == "ece":
        return f"{value:.4f}"
    return f"{int(value):,}" if float(value).is_integer() else num(value)


def higher_is_better(entry: dict[str, Any]) -> bool:
    """Whether a budget is a minimum (top-1, better than chance) rather than a maximum."""
    metric = entry["metric"]
    return metric in ("top1", "top1_above_chance", "teacher_top1_above_chance")


def budget_limit(entry: dict[str, Any]) -> str:
    """The limit with its direction, e.g. ``≤ 512.0 MiB`` or ``≥ 90.00%``."""
    sign = _HIGHER_IS_BETTER_LIMIT if higher_is_better(entry) else _LOWER_IS_BETTER_LIMIT
    return f"{sign} {budget_value(entry, 'limit')}"


def budget_status(entry: dict[str, Any]) -> str:
    """``pass``, ``MISS`` or ``not judged: <why>`` (a noisy measurement does not gate)."""
    if entry.get("judged") is False:
        return str(entry.get("note") or "not judged")
    return "pass" if entry["passed"] else "MISS"


def budget_sentence(entry: dict[str, Any]) -> str:
    """One line for a missed budget: ``top1_drop_vs_teacher 4.20 pts, limit ≤ 3.00 pts (student-int8.onnx)``."""
    model = f" ({entry['model']})" if entry.get("model") else ""
    return f"{entry['metric']} {budget_value(entry)}, limit {budget_limit(entry)}{model}"


def verdict(report: dict[str, Any]) -> tuple[str, list[str]]:
    """The headline (``PASSED``/``FAILED`` and why) and one sentence per missed budget."""
    budgets = report.get("budgets") or []
    missed = [b for b in budgets if not b["passed"]]
    skipped = [b for b in budgets if b.get("judged") is False]
    if missed:
        head = f"FAILED: {len(missed)} budget{'s' if len(missed) > 1 else ''} missed"
    else:
        head = "PASSED: every budget met"
    if skipped:
        head += f" ({len(skipped)} not judged)"
    return head, [budget_sentence(b) for b in missed]


def deployable(report: dict[str, Any]) -> str:
    """The deployable model's name, or why there is none (a model at chance is never deployable)."""
    chosen = report.get("chosen")
    at_chance = [b for b in report.get("budgets") or []
                 if b["metric"] == "top1_above_chance" and not b["passed"]]
    if chosen and at_chance:
        return f"none ({chosen} is at chance)"
    return str(chosen) if chosen else "none"


def comparison_value(row: dict[str, Any], key: str) -> str:
    """A compared metric in its unit (top-1 as %, ECE to 4 places, sizes in KiB/MiB, latency in ms)."""
    value = row.get(key)
    if value is None:
        return "not measured"
    if row["metric"] == "top1":
        return pct(value)
    if row["metric"] == "ece":
        return f"{value:.4f}"
    if row["metric"] == "size_bytes":
        return size(value)
    return ms(value) if row["metric"].endswith("_ms") else num(value)


def comparison_change(row: dict[str, Any]) -> str:
    """Top-1 in points, ECE as a difference, the others relative."""
    if row.get("change") is None:
        return "—"
    if row["metric"] == "top1" and row.get("difference") is not None:
        return f"{100 * row['difference']:+.2f} pts"
    if row["metric"] == "ece" and row.get("difference") is not None:
        return f"{row['difference']:+.4f}"
    return f"{100 * row['change']:+.1f}%"
