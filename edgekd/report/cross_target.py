"""The cross-target table: where else the chosen model fits, as plain cells for every renderer.

One row per profile in the targets folder (``report["predicted_on_targets"]``, written by the
predict stage with :func:`edgekd.predict.cross_target.fit_on`): the predicted latency, the
model size and the RAM it would need there, and the verdict of that profile's budgets. The
console, report.md and report.html render the same cells.
"""

from __future__ import annotations

from typing import Any

from .units import num as _num
from .units import size as _bytes

HEADER = ("profile", "kind", "runs as-is", "predicted ms p50 [low–high]", "p90 budget ms", "model size",
          "RAM needed", "fits", "missed budgets")
NUMERIC = frozenset({3, 4, 5, 6})


def cross_target_cells(report: dict[str, Any]) -> list[list[str]]:
    """Plain-text cells of the cross-target table (an empty list when nothing was predicted)."""
    rows = []
    for r in report.get("predicted_on_targets") or []:
        latency = "—" if r.get("p50") is None else f"{_num(r['p50'])} [{_num(r.get('low'))}–{_num(r.get('high'))}]"
        runs = r.get("runs_as_is", r.get("supported"))
        missed = [b["metric"] for b in r.get("budgets") or [] if not b["passed"]]
        fits = r.get("fits")
        rows.append([r["target"], r.get("kind", ""), "—" if runs is None else ("yes" if runs else "no"), latency,
                     _num(r.get("budget_ms")), _bytes(r.get("model_bytes")), _bytes(r.get("peak_ram_bytes")),
                     "—" if fits is None else ("yes" if fits else "no"),
                     ", ".join(missed) or ("—" if r.get("error") is None else r["error"])])
    return rows


def cross_target_markdown(report: dict[str, Any]) -> list[str]:
    """report.md lines of the table (a heading, a reading, the table); none when nothing was predicted."""
    rows = cross_target_cells(report)
    if not rows:
        return []
    lines = ["", f"## {report.get('chosen')} on every profile", "",
             "Predicted from the graph (latency upper bound judged against each profile's p90 budget); model "
             "size measured; accuracy and calibration measured once on the host's test split. \"runs as-is\": "
             "the profile lists this model's format and precision.", "",
             "| " + " | ".join(HEADER) + " |",
             "|" + "|".join("---:" if i in NUMERIC else "---" for i in range(len(HEADER))) + "|"]
    lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in rows]
    return lines
