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


def annotations(result: dict[str, Any]) -> list[str]:
    """The annotation lines of a check result (see :func:`edgekd.api.check`)."""
    lines = []
    for b in result["budgets"]:
        where = f" ({b['model']})" if b.get("model") else ""
        if b.get("judged", True) is False:
            lines.append(command("warning", f"budget {b['metric']} not judged",
                                 f"{b['metric']}{where}: {b.get('note', 'not judged')}"))
        elif not b["passed"]:
            lines.append(command("error", f"budget {b['metric']} missed",
                                 f"{b['metric']}{where} = {_num(b['value'])}, limit {_num(b['limit'])} "
                                 f"on {result['target']}"))
    for r in result["regressions"]:
        if r.get("skipped"):
            lines.append(command("warning", f"{r['metric']} not compared with the baseline",
                                 f"{r['metric']}: {r['skipped']}"))
        elif not r["passed"]:
            lines.append(command("error", f"{r['metric']} regressed",
                                 f"{r['metric']} = {_num(r['value'])} vs baseline {_num(r['baseline'])} "
                                 f"({_change(r['change'])}, allowed {100 * r['limit']:.1f}% worse)"))
    missed = sum(1 for line in lines if line.startswith("::error"))
    verdict = "passed" if result["passed"] else f"failed: {missed} miss{'es' if missed != 1 else ''}"
    lines.append(command("notice", f"edgekd check on {result['target']}",
                         f"{verdict} ({len(result['budgets'])} budgets, "
                         f"{len(result['regressions'])} baseline comparisons)"))
    return lines


def summary_markdown(result: dict[str, Any], report_path: str, baseline_path: str | None = None) -> str:
    """The job-summary page: verdict, budgets table, deltas vs the baseline."""
    verdict = "passed ✅" if result["passed"] else "failed ❌"
    lines = [f"## edgekd check on `{result['target']}`: {verdict}", "",
             f"Report: `{report_path}`" + (f"; baseline: `{baseline_path}`" if baseline_path else "") + ".", "",
             "### Budgets", "", "| metric | limit | value | model | result |", "|---|---:|---:|---|---|"]
    for b in result["budgets"]:
        lines.append(f"| {b['metric']} | {_num(b['limit'])} | {_num(b['value'])} | {b.get('model') or '—'} "
                     f"| {_budget_verdict(b)} |")
    if baseline_path:
        lines += ["", "### Change vs baseline", ""]
        if result["regressions"]:
            lines += ["| metric | baseline | value | change | allowed | result |", "|---|---:|---:|---:|---:|---|"]
            for r in result["regressions"]:
                lines.append(f"| {r['metric']} | {_num(r['baseline'])} | {_num(r['value'])} | {_change(r['change'])} "
                             f"| {100 * r['limit']:.1f}% | {_regression_verdict(r)} |")
        else:
            lines.append("No metric of the deployable model could be compared (the baseline chose another model "
                         "or lacks the figures).")
    return "\n".join(lines) + "\n"


def _budget_verdict(b: dict[str, Any]) -> str:
    if b.get("judged", True) is False:
        return f"not judged: {b.get('note', '')}".replace("not judged: not judged:", "not judged:").strip()
    return "pass" if b["passed"] else "**MISS**"


def _regression_verdict(r: dict[str, Any]) -> str:
    if r.get("skipped"):
        return f"not compared: {r['skipped']}"
    return "pass" if r["passed"] else "**REGRESSED**"


def _change(fraction: float) -> str:
    return f"{100 * fraction:+.1f}%"


def _num(value: Any) -> str:
    from .markdown import _num as markdown_num

    return markdown_num(value)
