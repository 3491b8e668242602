"""report.md: the human-readable twin of report.json — the verdict and the budgets first, with units."""

from __future__ import annotations

from typing import Any

from ..measure.kd_vs_baseline import discordant, table_rows, verdict
from . import units
from .alternatives import better_alternatives
from .units import num as _num
from .units import pct as _pct
from .units import size as _bytes

__all__ = ["render_markdown", "_bytes", "_num", "_pct"]  # the helpers stay importable under their old names

COREML_FOOTNOTE = ("¹ Core ML prediction needs macOS: on Linux a Core ML model is converted, saved and its spec "
                   "checked, but accuracy, calibration and host latency cannot be measured (the gate takes its "
                   "accuracy from the same student measured in another format).")


def render_markdown(report: dict[str, Any]) -> str:
    """Render a report dict as Markdown: verdict, budgets, build, models, training, confusion, notes."""
    target = report["target"]
    head, missed = units.verdict(report)
    lines = [f"# edgekd build report — {target['name']}: {'PASSED' if report['passed'] else 'FAILED'}", "",
             f"**{head}.** Deployable model: **{units.deployable(report)}**."]
    if missed:
        lines += ["", "What failed:", ""] + [f"- {sentence}" for sentence in missed]
    lines += _at_chance(report)
    better = better_alternatives(report)
    if better:
        lines += ["", "A more accurate twin of the deployable model:", ""] + [f"- {sentence}" for sentence in better]
    lines += ["", "## Budgets", "", "| result | metric | value | limit | model | source |",
              "|---|---|---:|---:|---|---|"]
    for b in report["budgets"]:
        status = units.budget_status(b)
        status = f"**{status}**" if status == "MISS" else status
        lines.append(f"| {status} | {b['metric']} | {units.budget_value(b)} | {units.budget_limit(b)} "
                     f"| {b.get('model', '')} | {b.get('source', 'budget')} |")
    lines += _cross_target(report)
    lines += ["", "## Build", "",
              f"edgekd {report['edgekd_version']}, {report['created_utc']}, {report['duration_s']} s on "
              f"{report['host']['cpu']} ({report['host']['cores']} cores). Data: {report['data']['name']} "
              f"({report['data']['samples']['test']} test samples)."]
    lines += ["", "## Models", "",
              "| model | format | precision | params | MACs | size | top-1 | agree w/ teacher | ECE "
              f"| host p50 / p90 | predicted on {target['name']} | weights | arena |",
              "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    lines += [_model_row(m) for m in report["models"]]
    if any(m["format"] == "coreml" for m in report["models"]):
        lines += ["", COREML_FOOTNOTE]
    lines += _prediction_methods(report["models"], target["name"])
    lines += search_markdown(report.get("search"))
    lines += _training(report.get("training") or {})
    lines += _kd_vs_baseline(report.get("kd_vs_baseline"))
    lines += _confusion(report)
    failures = report.get("conversion_failures") or []
    if failures:
        lines += ["", "## Conversion failures", ""] + [f"- {f['error']}" for f in failures]
    notes = [("report", n) for n in report.get("notes", [])]
    notes += [(m["name"], n) for m in report["models"] for n in m.get("notes", [])]
    if notes:
        lines += ["", "## Notes", ""] + [f"- **{name}**: {note}" for name, note in notes]
    return "\n".join(lines) + "\n"


def _cross_target(report: dict[str, Any]) -> list[str]:
    from .cross_target import cross_target_markdown  # it renders with this module's number formats

    return cross_target_markdown(report)


def search_markdown(search: dict[str, Any] | None) -> list[str]:
    """The student search section (kept in :mod:`edgekd.report.search`)."""
    from .search import search_markdown as render

    return render(search)


def _at_chance(report: dict[str, Any]) -> list[str]:
    rows = report.get("at_chance") or []
    if not rows:
        return []
    return ["", "**AT CHANCE** — not distinguishable from guessing, never deployable:", ""] + [
        f"- {r['model']}: {r['split']} top-1 {_pct(r['top1'])}, better than chance needs ≥ {_pct(r['threshold'])}"
        for r in rows]


def _training(training: dict[str, Any]) -> list[str]:
    """One row per trained model: epochs, batch (and the rule), the kept weights' val top-1, the chance check."""
    rows = [(key.removesuffix("_history").replace("_", "-"), h) for key, h in training.items() if h]
    if not rows:
        return []
    lines = ["", "## Training", "",
             "| model | epochs | batch | steps / epoch | val top-1 of the kept weights (epoch, keep) | chance check |",
             "|---|---:|---:|---:|---:|---|"]
    for name, h in rows:
        chance = h.get("chance") or {}
        check = "—" if not chance else (f"**AT CHANCE** (needs ≥ {_pct(chance['threshold'])})" if chance["at_chance"]
                                        else f"above chance (≥ {_pct(chance['threshold'])})")
        lines.append(f"| {name} | {h.get('epochs_run', len(h.get('epochs', [])))} | {_num(h.get('batch_size'))} "
                     f"| {_num(h.get('steps_per_epoch'))} | {_kept(h)} | {check} |")
    rules = [(name, h["batch_size_rule"]) for name, h in rows if h.get("batch_size_rule")]
    if rules:
        lines += [""] + [f"- batch of {name}: {rule}" for name, rule in rules]
    return lines


def _kept(history: dict[str, Any]) -> str:
    """``97.00% (12, best)``: the val top-1 of the weights a training kept, its epoch and rule (best or last)."""
    # A history written before distill.keep existed kept the best epoch.
    keep = history.get("keep", "best")
    top1 = history.get("kept_val_top1", history.get("best_val_top1"))
    return f"{_pct(top1)} ({history.get('kept_epoch', history.get('best_epoch'))}, {keep})"


def _kd_vs_baseline(versus: dict[str, Any] | None) -> list[str]:
    """The KD student against the hard-label baseline: val and test top-1, and the paired verdict."""
    if not versus:
        return []
    return (["", "## Distillation vs hard labels", "", "| model | val top-1 (kept weights) | test top-1 |",
             "|---|---:|---:|"] + [f"| {name} | {_pct(val)} | {_pct(test)} |" for name, val, test in table_rows(versus)]
            + ["", f"{discordant(versus)} {verdict(versus)}"])


def _confusion(report: dict[str, Any]) -> list[str]:
    """The confusion matrix of the model the gate judged (rows: true class, columns: predicted)."""
    found = [(m["name"], m["confusion_matrix"]) for m in report["models"] if m.get("confusion_matrix")]
    if not found:
        return []
    name, matrix = found[0]
    counts, labels = matrix.get("counts"), matrix.get("labels") or []
    lines = ["", f"## Confusion matrix — {name}, {matrix.get('split', 'test')} split", ""]
    if not counts:
        return lines + [matrix.get("note", "not stored")]
    lines += ["Rows: true class; columns: predicted class.", "",
              "| true \\ predicted | " + " | ".join(labels) + " |", "|---|" + "---:|" * len(labels)]
    for label, row in zip(labels, counts):
        lines.append(f"| {label} | " + " | ".join(str(c) for c in row) + " |")
    return lines


def _prediction_methods(models: list[dict[str, Any]], target: str) -> list[str]:
    """A line naming the measured runtime models used, when any was (the roofline is the default)."""
    methods: dict[str, list[str]] = {}
    for m in models:
        method = ((m.get("latency_ms") or {}).get("predicted") or {}).get("method", "roofline")
        if method != "roofline":
            methods.setdefault(method.split(":", 1)[1], []).append(m["name"])
    if not methods:
        return []
    used = "; ".join(f"{runtime} model for {', '.join(names)}" for runtime, names in methods.items())
    return ["", f"Predicted latency on {target}: the runtime models measured on it ({used}); "
                "the per-op roofline from spec figures for the other models."]


def _model_row(m: dict[str, Any]) -> str:
    acc = m.get("accuracy") or {}
    cal = m.get("calibration") or {}
    lat = m.get("latency_ms") or {}
    host = lat.get("host") or {}
    pred = lat.get("predicted") or {}
    mem = m.get("memory") or {}
    # Core ML cannot run on Linux: say so in the cells instead of a bare dash.
    unmeasured = "n/a¹" if m["format"] == "coreml" else "—"
    host_text = f"{units.ms(host.get('p50'))} / {units.ms(host.get('p90'))}" if host else unmeasured
    if host.get("noisy"):
        host_text += " (noisy)"
    pred_text = (f"{units.ms(pred.get('p50'))} [{_num(pred.get('low'))}–{_num(pred.get('high'))}]"
                 if pred else "—")
    top1 = _pct(acc.get("top1")) if acc else unmeasured
    agree = _pct(acc.get("agreement_with_teacher")) if acc else unmeasured
    ece = f"{cal['ece']:.4f}" if cal.get("ece") is not None else unmeasured
    return (f"| {m['name']} | {m['format']} | {m['precision']} | {m['params']:,} | {units.macs(m.get('macs'))} "
            f"| {_bytes(m.get('size_bytes'))} | {top1} | {agree} | {ece} | {host_text} | {pred_text} "
            f"| {_bytes(mem.get('weights_bytes'))} | {_bytes(mem.get('peak_activation_bytes'))} |")
