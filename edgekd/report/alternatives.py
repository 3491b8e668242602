"""A better twin the choice rule hid: a student of the chosen precision, in another format, clearly more accurate.

The deployable model is chosen by the profile's format preference (its ``formats`` order), not
by accuracy: an INT8 ONNX model at 71% can be chosen while the INT8 TFLite model of the same
student reaches 91% (the two quantizers differ). Such a twin is named, with how to ship it,
when its top-1 is higher by more than the test split can resolve (the 95% interval of the
difference lies above zero; conservative for two models scored on the same samples).
"""

from __future__ import annotations

from typing import Any

from .. import stats


def better_alternatives(report: dict[str, Any]) -> list[str]:
    """One sentence per clearly more accurate twin of the chosen model (none when the choice is the best)."""
    models = {m["name"]: m for m in report.get("models") or []}
    chosen = models.get(report.get("chosen") or "")
    n = ((report.get("data") or {}).get("samples") or {}).get("test")
    top1 = _top1(chosen)
    if chosen is None or top1 is None or not isinstance(n, int) or n <= 0:
        return []
    formats = (report.get("target") or {}).get("formats") or []
    sentences = []
    for other in models.values():
        other_top1 = _top1(other)
        if (other is chosen or other.get("role") != chosen.get("role") or other["precision"] != chosen["precision"]
                or other["format"] == chosen["format"] or other_top1 is None
                or (formats and other["format"] not in formats)):
            continue
        low, high = stats.difference_interval(other_top1, n, top1, n)
        if low > 0:
            sentences.append(
                f"{other['name']} reaches {100 * other_top1:.2f}% top-1, clearly above the chosen {chosen['name']} "
                f"({100 * top1:.2f}%; 95% interval of the difference +{100 * low:.1f} to +{100 * high:.1f} pts); "
                f"the target prefers {chosen['format']} (its formats order): to ship {other['format']}, set "
                f"export.formats: [{other['format']}]")
    return sentences


def _top1(model: dict[str, Any] | None) -> float | None:
    value = ((model or {}).get("accuracy") or {}).get("top1")
    return float(value) if isinstance(value, (int, float)) else None
