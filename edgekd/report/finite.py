"""Reports never hold NaN or ±inf: a non-finite number becomes ``null`` ("not measured") with a note.

JSON has no NaN: ``json.dumps`` either writes a token other parsers reject or (with
``allow_nan=False``, as :mod:`edgekd.atomic` does) raises at the last moment. And a NaN
compares false with every limit, so a gate reading one could not tell "bad" from "absent".
Here every non-finite float in a report is replaced by ``None`` and named in a note: in the
model's ``notes`` when it belongs to a model entry, else in the report's top-level ``notes``.
``edgekd check`` then judges the null as not measured, and a budget on it fails.
"""

from __future__ import annotations

import math
from typing import Any


def non_finite(value: Any) -> bool:
    """Whether ``value`` is a float (Python or numpy) that is NaN or ±inf."""
    if isinstance(value, bool) or not isinstance(value, (float, int)) and type(value).__module__ != "numpy":
        return False
    try:
        return not math.isfinite(float(value))
    except (TypeError, ValueError, OverflowError):
        return False


def scrub_report(report: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``report`` with each non-finite number replaced by ``None`` and a note saying where.

    Returns:
        The cleaned report (the input is not modified). Unchanged content when every number is finite.
    """
    found: list[tuple[str, str]] = []
    cleaned = _clean(report, "$", found)
    if not found:
        return cleaned
    model_notes: dict[int, list[str]] = {}
    top_notes: list[str] = []
    for path, text in found:
        note = f"{path} was {text}: written as null (not measured); a budget on it fails"
        index = _model_index(path)
        (model_notes.setdefault(index, []) if index is not None else top_notes).append(note)
    for index, notes in model_notes.items():
        model = cleaned["models"][index]
        model["notes"] = [*(model.get("notes") or []), *notes]
    if top_notes:
        cleaned["notes"] = [*(cleaned.get("notes") or []), *top_notes]
    return cleaned


def _clean(node: Any, path: str, found: list[tuple[str, str]]) -> Any:
    if isinstance(node, dict):
        return {key: _clean(value, f"{path}.{key}", found) for key, value in node.items()}
    if isinstance(node, (list, tuple)):
        return [_clean(value, f"{path}[{i}]", found) for i, value in enumerate(node)]
    if non_finite(node):
        found.append((path, repr(float(node))))
        return None
    return node


def _model_index(path: str) -> int | None:
    """``$.models[3].accuracy.top1`` -> 3; None for paths outside the model list."""
    prefix = "$.models["
    if not path.startswith(prefix):
        return None
    number = path[len(prefix):].split("]", 1)[0]
    return int(number) if number.isdigit() else None
