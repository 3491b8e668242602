"""``edgekd check --format github``: workflow-command annotations and a job-summary page.

GitHub Actions reads two things from a step (docs: "Workflow commands for GitHub Actions"):

* lines ``::error title=T::message`` / ``::warning ...`` / ``::notice ...`` on stdout, shown as
  annotations on the run and the pull request. Messages escape ``%``, CR and LF; property values
  also ``:`` and ``,``.
* Markdown appended to the file named by ``$GITHUB_STEP_SUMMARY``, shown on the run's summary page.

One ``::error`` per missed budget and per regression beyond the limit; ``::warning`` for a budget
that was not judged or a baseline metric that could not be compared (the reason is in the
message); one ``::notice`` with the verdict.
"""

from __future__ import annotations

from typing import Any

from . import units
from .units import comparison_change as _change
from .units import comparison_value as _value

SUMMARY_ENV = "GITHUB_STEP_SUMMARY"


def escape_data(text: str) -> str:
    """A workflow-command message: ``%``, CR and LF percent-encoded."""
    return str(text).replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    """A workflow-command property value: as a message, plus ``:`` and ``,``."""
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def command(level: str, title: str, message: str) -> str:
    """One workflow command line, e.g. ``::error title=budget model_bytes::...``."""
    return f"::{level} title={escape_property(title)}::{escape_data(message)}"


def annotation_lines(result: dict[str, Any]) -> list[str]:
    """The annotation lines of a check result (see :func:`edgekd.api.check`)."""
    lines = []
    for b in result["budgets"]:
        if b.get("judged") is False:
            lines.append(command("warning", f"budget {b['metric']} not judged",
                                 f"{b['metric']}{_model(b)}: {units.budget_status(b)}"))
        elif not b["passed"]:
            lines.append(command("error", f"budget {b['metric']} missed",
                                 f"{units.budget_sentence(b)} on {result['target']}"))
    for r in result["regressions"]:
        if r.get("skipped"):
            lines.append(command("warning", f"{r['metric']} not compared with the baseline",
                                 f"{r['metric']}: {r['skipped']}"))
        elif not r["passed"]:
            judged_by = f"; {r['rule']}" if r.get("rule") else ""
            lines.append(command("error", f"{r['metric']} regressed",
                                 f"{r['metric']} {_value(r, 'value')} vs baseline {_value(r, 'baseline')} "
                                 f"({_change(r)}{judged_by})"))
    missed = sum(1 for line in lines if line.startswith("::error"))
    verdict = "passed" if result["passed"] else f"failed: {missed} miss{'es' if missed != 1 else ''}"
    lines.append(command("notice", f"edgekd check on {result['target']}",
                         f"{verdict} ({len(result['budgets'])} budgets, "
                         f"{len(result['regressions'])} baseline comparisons)"))
    return lines


def summary_markdown(result: dict[str, Any], report_path: str, baseline_path: str | None = None) -> str:
    """The job-summary page: verdict, budgets table, changes vs the baseline."""
    verdict = "passed ✅" if result["passed"] else "failed ❌"
    lines = [f"## edgekd check on `{result['target']}`: {verdict}", "",
             f"Report: `{report_path}`" + (f"; baseline: `{baseline_path}`" if baseline_path else "") + ".", "",
             "### Budgets", "", "| result | metric | value | limit | model |", "|---|---|---:|---:|---|"]
    for b in result["budgets"]:
        status = units.budget_status(b)
        lines.append(f"| {'**MISS**' if status == 'MISS' else status} | {b['metric']} | {units.budget_value(b)} "
                     f"| {units.budget_limit(b)} | {b.get('model') or '—'} |")
    if baseline_path:
        lines += ["", "### Change vs baseline", ""]
        if result["regressions"]:
            lines += ["| result | metric | baseline | value | change | judged by |", "|---|---|---:|---:|---:|---|"]
            for r in result["regressions"]:
                lines.append(f"| {_regression_verdict(r)} | {r['metric']} | {_value(r, 'baseline')} "
                             f"| {_value(r, 'value')} | {_change(r)} | {r.get('rule') or r.get('note') or ''} |")
        else:
            lines.append("No metric of the deployable model could be compared (the baseline chose another model "
                         "or lacks the figures).")
    return "\n".join(lines) + "\n"


def _model(entry: dict[str, Any]) -> str:
    return f" ({entry['model']})" if entry.get("model") else ""


def _regression_verdict(r: dict[str, Any]) -> str:
    if r.get("skipped"):
        return f"not compared: {r['skipped']}"
    return "pass" if r["passed"] else "**REGRESSED**"
