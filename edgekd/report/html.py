"""report.html: one self-contained page (inline CSS, plots as base64 PNG, no external URL)."""

from __future__ import annotations

import base64
import os
from collections.abc import Callable
from html import escape
from typing import Any

from ..measure.kd_vs_baseline import discordant, table_rows, verdict
from . import learning_plots, plots, units
from .markdown import COREML_FOOTNOTE
from .search import search_html
from .units import num as _num
from .units import pct as _pct
from .units import size as _bytes

# The verdict and the budgets come first: they say whether the build can ship and why not.
SECTION_TITLES = ("Summary", "Budgets", "Models", "Student search", "Training curves", "Distillation vs hard labels",
                  "Confusion matrix",
                  "Accuracy vs predicted latency", "Reliability diagrams", "Temperature scaling",
                  "Predicted latency on every profile", "Parity matrix", "Notes")

_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:2em auto;max-width:1200px;color:#222;
padding:0 1em}
h1{font-size:1.6em} h2{border-bottom:1px solid #ddd;padding-bottom:.2em;margin-top:1.6em}
table{border-collapse:collapse;font-size:.85em;margin:.5em 0} th,td{border:1px solid #ddd;padding:.25em .5em}
th{background:#f4f4f4} td.n{text-align:right;font-variant-numeric:tabular-nums}
.pass{color:#1a7f37;font-weight:600} .miss{color:#cf222e;font-weight:700} .muted{color:#777}
img{max-width:100%;border:1px solid #eee} .verdict{font-size:1.2em} .skip{color:#9a6700;font-weight:600}
"""


def render_html(report: dict[str, Any]) -> str:
    """The whole report as one HTML document (no external resource of any kind)."""
    target = report["target"]["name"]
    body = [
        f"<h1>edgekd build report — {escape(target)}</h1>",
        _section("Summary", _summary(report)),
        _section("Budgets", _budgets(report["budgets"])),
        _section("Models", _models(report)),
        _section("Student search", search_html(report.get("search"), target,
                                               (report["target"].get("budgets") or {}).get("max_latency_p90_ms"))),
        _section("Training curves", _plot(lambda: learning_plots.training_curves(report.get("training") or {}),
                                          "training loss and val top-1 per epoch")),
        _section("Distillation vs hard labels", _kd_vs_baseline(report.get("kd_vs_baseline"))),
        _section("Confusion matrix", _confusion(report)),
        _section("Accuracy vs predicted latency", _plot(lambda: plots.accuracy_vs_latency(report["models"], target),
                 f"top-1 vs predicted latency on {target}")),
        _section("Reliability diagrams", _plot(lambda: plots.reliability_diagrams(report["models"]),
                                               "reliability diagrams")),
        _section("Temperature scaling", _temperature(report.get("temperature_scaling") or {})),
        _section("Predicted latency on every profile", _targets(report)),
        _section("Parity matrix", _parity(report)),
        _section("Notes", _notes(report)),
    ]
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>edgekd report — {escape(target)}</title><style>{_CSS}</style></head><body>\n"
            + "\n".join(body) + "\n</body></html>\n")


def _section(title: str, inner: str) -> str:
    anchor = title.lower().replace(" ", "-")
    return f'<section id="{escape(anchor)}"><h2>{escape(title)}</h2>\n{inner}\n</section>'


# Set to 0 to leave the PNG plots out of report.html (the tables stay): drawing them takes 2-4 s per
# build, which `make test` (dozens of tiny builds) saves; the plot tests set it back on.
PLOTS_ENV = "EDGEKD_REPORT_PLOTS"


def _plot(draw: Callable[[], bytes | None], alt: str) -> str:
    """``draw()``'s PNG inlined, or a line saying the plots are off (``EDGEKD_REPORT_PLOTS=0``)."""
    if os.environ.get(PLOTS_ENV, "1").strip() == "0":
        return f'<p class="muted">plot not drawn ({PLOTS_ENV}=0)</p>'
    return _img(draw(), alt)


def _img(png: bytes | None, alt: str) -> str:
    if png is None:
        return '<p class="muted">nothing to plot (no model has the measurements this plot needs)</p>'
    data = base64.b64encode(png).decode("ascii")
    return f'<img alt="{escape(alt)}" src="data:image/png;base64,{data}">'


def _table(header: list[str], rows: list[list[str]], numeric: frozenset[int] | set[int] = frozenset()) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    out = [f"<table><thead><tr>{head}</tr></thead><tbody>"]
    for row in rows:
        cells = "".join(f'<td class="n">{c}</td>' if i in numeric else f"<td>{c}</td>" for i, c in enumerate(row))
        out.append(f"<tr>{cells}</tr>")
    return "".join(out) + "</tbody></table>"


def _summary(report: dict[str, Any]) -> str:
    head, missed = units.verdict(report)
    css = "pass" if report["passed"] else "miss"
    host = report.get("host") or {}
    data = report.get("data") or {}
    out = [f'<p class="verdict"><span class="{css}">{escape(head)}</span> — deployable model: '
           f"<b>{escape(units.deployable(report))}</b>.</p>"]
    if missed:
        out.append("<p>What failed:</p><ul>" + "".join(f"<li>{escape(s)}</li>" for s in missed) + "</ul>")
    chance = report.get("at_chance") or []
    if chance:
        out.append('<p class="miss">AT CHANCE — not distinguishable from guessing, never deployable:</p><ul>'
                   + "".join(f"<li>{escape(r['model'])}: {escape(r['split'])} top-1 {_pct(r['top1'])}, better than "
                             f"chance needs ≥ {_pct(r['threshold'])}</li>" for r in chance) + "</ul>")
    out.append(f"<p>edgekd {escape(str(report['edgekd_version']))}, {escape(str(report.get('created_utc', '')))}, "
               f"{escape(str(report.get('duration_s', '')))} s on {escape(str(host.get('cpu', '?')))} "
               f"({escape(str(host.get('cores', '?')))} cores). Data: {escape(str(data.get('name', '?')))} "
               f"({escape(str((data.get('samples') or {}).get('test', '?')))} test samples).</p>")
    return "".join(out)


def _confusion(report: dict[str, Any]) -> str:
    found = [(m["name"], m["confusion_matrix"]) for m in report["models"] if m.get("confusion_matrix")]
    if not found:
        return ('<p class="muted">not in this report (no runnable deployable model, or a report from before '
                "edgekd measured it)</p>")
    name, matrix = found[0]
    if not matrix.get("counts"):
        return f'<p class="muted">{escape(matrix.get("note", "not stored"))}</p>'
    return (f"<p>The model the gate judged ({escape(name)}) on the {escape(matrix.get('split', 'test'))} split; "
            "rows are the true class, columns the predicted one.</p>"
            + _plot(lambda: learning_plots.confusion_matrix(matrix, name), f"confusion matrix of {name}"))


def _kd_vs_baseline(versus: dict[str, Any] | None) -> str:
    if not versus:
        return ('<p class="muted">no hard-label baseline (set <code>distill.train_baseline: true</code> to train the '
                "same student without the teacher and compare)</p>")
    rows = [[escape(name), _pct(val), _pct(test)] for name, val, test in table_rows(versus)]
    return (_table(["model", "val top-1 (kept weights)", "test top-1"], rows, {1, 2})
            + f"<p>{escape(discordant(versus))} {escape(verdict(versus))}</p>")


def _temperature(ts: dict[str, Any]) -> str:
    if not ts.get("enabled"):
        return ('<p class="muted">off (set <code>calibration.temperature_scaling: true</code> to fit T on the val '
                "split and fold it into the exported models)</p>")
    before, after = ts.get("ece_before", {}), ts.get("ece_after", {})
    rows = [[escape(split), _num(before.get(split)), _num(after.get(split))] for split in ("val", "test")]
    temperature = "not measured" if ts.get("temperature") is None else f"{ts['temperature']:.4f}"
    return (f"<p>T = <b>{temperature}</b>, fitted on the {escape(ts.get('fitted_on', 'val'))} split, "
            f"{escape(ts.get('folded_into', ''))}. Every exported model carries it.</p>"
            + _table(["split", "ECE before", "ECE after"], rows, {1, 2}))


def _targets(report: dict[str, Any]) -> str:
    rows = report.get("predicted_on_targets") or []
    if not rows:
        return '<p class="muted">no prediction (no ONNX graph of the deployable model)</p>'
    from .cross_target import HEADER, NUMERIC, cross_target_cells

    chosen = str(report.get("chosen"))
    verdicts = {"yes": '<span class="pass">yes</span>', "no": '<span class="miss">no</span>'}
    table = [[verdicts.get(cell, escape(cell)) if i == 7 else escape(cell) for i, cell in enumerate(row)]
             for row in cross_target_cells(report)]
    return (_plot(lambda: plots.latency_on_targets(rows, chosen), f"predicted latency of {chosen} on every profile")
            + "<p>Latency predicted from the graph (upper bound judged against each profile's p90 budget); model "
              "size measured; accuracy and calibration measured once on the host's test split.</p>"
            + _table(list(HEADER), table, set(NUMERIC)))


def _parity(report: dict[str, Any]) -> str:
    matrix = report.get("parity_matrix")
    if matrix and matrix.get("models"):
        names = matrix["models"]
        rows = [[f"<b>{escape(a)}</b>"] + [f"{_pct(matrix['top1_agreement'][i][j])} / "
                                           f"{_num(matrix['max_abs_diff'][i][j])}" for j in range(len(names))]
                for i, a in enumerate(names)]
        return ("<p>Each cell: top-1 agreement / max |Δlogit| between the row and column models on the test "
                "split.</p>" + _table(["model"] + names, rows, set(range(1, len(names) + 1))))
    rows = [[escape(m["name"]), _pct(m["parity"].get("top1_agreement")), _num(m["parity"].get("max_abs_diff")),
             _num(m["parity"].get("tolerance")), _verdict(m["parity"].get("passed"))]
            for m in report["models"] if m.get("parity")]
    if not rows:
        return '<p class="muted">no exported model to compare</p>'
    return _table(["model", "agreement vs student", "max |Δlogit|", "tolerance", "result"], rows, {1, 2, 3})


def _verdict(passed: bool | None) -> str:
    if passed is None:
        return '<span class="muted">—</span>'
    return '<span class="pass">pass</span>' if passed else '<span class="miss">MISS</span>'


def _budgets(budgets: list[dict[str, Any]]) -> str:
    rows = [[_status(b), escape(b["metric"]), escape(units.budget_value(b)), escape(units.budget_limit(b)),
             escape(str(b.get("model", ""))), escape(str(b.get("source", "")))] for b in budgets]
    return _table(["result", "metric", "value", "limit", "model", "source"], rows, {2, 3})


def _status(budget: dict[str, Any]) -> str:
    status = units.budget_status(budget)
    if status in ("pass", "MISS"):
        return _verdict(status == "pass")
    return f'<span class="skip">{escape(status)}</span>'


def _models(report: dict[str, Any]) -> str:
    rows = []
    for m in report["models"]:
        acc, cal = m.get("accuracy") or {}, m.get("calibration") or {}
        lat = m.get("latency_ms") or {}
        host, pred = lat.get("host") or {}, lat.get("predicted") or {}
        mem = m.get("memory") or {}
        unmeasured = "n/a¹" if m["format"] == "coreml" else "—"
        host_text = (units.ms(host.get("p90")) + (" (noisy)" if host.get("noisy") else "")) if host else unmeasured
        rows.append([escape(m["name"]), escape(m["format"]), escape(m["precision"]), _num(m["params"]),
                     units.macs(m.get("macs")), _bytes(m.get("size_bytes")),
                     _pct(acc.get("top1")) if acc else unmeasured,
                     f"{cal['ece']:.4f}" if cal.get("ece") is not None else unmeasured, host_text,
                     units.ms(pred.get("p50")), _bytes(mem.get("peak_activation_bytes"))])
    table = _table(["model", "format", "precision", "params", "MACs", "size", "top-1", "ECE", "host p90",
                    f"predicted {report['target']['name']}", "arena"], rows, set(range(3, 11)))
    if any(m["format"] == "coreml" for m in report["models"]):
        table += f'<p class="muted">{escape(COREML_FOOTNOTE)}</p>'
    return table


def _notes(report: dict[str, Any]) -> str:
    items = [f"<li><b>report</b>: {escape(n)}</li>" for n in report.get("notes", [])]
    items += [f"<li><b>{escape(m['name'])}</b>: {escape(n)}</li>" for m in report["models"] for n in m.get("notes", [])]
    items += [f"<li><b>conversion failure</b>: {escape(f['error'])}</li>"
              for f in report.get("conversion_failures") or []]
    noisy = [(m["name"], ((m.get("latency_ms") or {}).get("host") or {})) for m in report["models"]
             if ((m.get("latency_ms") or {}).get("host") or {}).get("noisy")]
    for name, host in noisy:
        why = "; ".join(host.get("noise") or []) or "CV above 0.25, a long tail or too few runs"
        items.append(f"<li><b>host latency</b>: too noisy to trust for {escape(name)} ({escape(why)})</li>")
    return f"<ul>{''.join(items)}</ul>" if items else '<p class="muted">none</p>'
