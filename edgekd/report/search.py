"""The student search in report.md and report.html: the candidate table and the Pareto plot.

Reads only ``report["search"]`` (see :mod:`edgekd.search.stage`), so a report can be
re-rendered from report.json alone.
"""

from __future__ import annotations

from html import escape
from typing import Any

from .markdown import _bytes, _num, _pct

HEADER = ["candidate", "params", "MACs", "predicted ms p50 [high]", "peak RAM", "model bytes", "feasible",
          "reason", "val top-1 by epoch", "trial", "screen + train s"]


def search_rows(search: dict[str, Any]) -> list[list[str]]:
    """One row of plain text per candidate, in the order they were screened."""
    rows = []
    for c in search["candidates"]:
        pred = c.get("predicted_latency_ms") or {}
        mem = c.get("memory") or {}
        pred_text = f"{_num(pred.get('p50'))} [{_num(pred.get('high'))}]" if pred else "—"
        epochs = c.get("val_top1_by_epoch") or {}
        curve = " → ".join(_pct(epochs[e]) for e in sorted(epochs, key=int)) or "—"
        seconds = (c.get("screen_s") or 0.0) + (c.get("train_s") or 0.0)
        chosen = " (chosen)" if c["key"] == search["chosen"]["key"] else ""
        rows.append([f"{c['key']}{chosen}", _count(c.get("params")), _count(c.get("macs")), pred_text,
                     _bytes(mem.get("peak_ram_bytes")), _bytes(mem.get("model_bytes")),
                     "yes" if c["feasible"] else "no", c["reason"], curve, c.get("trial_state", "—"),
                     f"{seconds:.1f}"])
    return rows


def search_markdown(search: dict[str, Any] | None) -> list[str]:
    """The ``## Student search`` section of report.md (nothing when the search was off)."""
    if not search:
        return []
    lines = ["", "## Student search", "",
             f"{search['space_size']} candidates screened untrained against the budgets, {search['feasible']} "
             f"feasible, {search.get('trials_run', 0)} short KD trials ({search.get('trial_epochs')} epochs at most, "
             f"{search.get('pruner')} pruner). Chosen: **{search['chosen']['key']}** — {search['chosen_reason']}.",
             "", "| " + " | ".join(HEADER) + " |", "|---|---:|---:|---:|---:|---:|---|---|---|---|---:|"]
    lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in search_rows(search)]
    return lines


def search_html(search: dict[str, Any] | None, target: str, budget_ms: float | None) -> str:
    """The search section of report.html: the Pareto plot and the candidate table."""
    from .html import _plot, _table
    from .plots import search_pareto

    if not search:
        return ('<p class="muted">off (set <code>student.search.enabled: true</code> or run '
                "<code>edgekd build --fit</code> to search the student that meets the budgets)</p>")
    intro = (f"<p>{search['space_size']} candidates, {search['feasible']} feasible untrained, "
             f"{search.get('trials_run', 0)} short KD trials. Chosen: <b>{escape(search['chosen']['key'])}</b> — "
             f"{escape(search['chosen_reason'])}.</p>")
    plot = _plot(lambda: search_pareto(search["candidates"], target, budget_ms),
                 f"val top-1 vs predicted latency of the searched candidates on {target}")
    rows = [[escape(cell) for cell in row] for row in search_rows(search)]
    return intro + plot + _table(HEADER, rows, {1, 2, 3, 4, 5, 10})


def _count(value: int | None) -> str:
    return "—" if value is None else f"{value:,}"
