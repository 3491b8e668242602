"""report.html: one self-contained page (inline CSS, plots as base64 PNG, no external URL)."""

from __future__ import annotations

import base64
from html import escape
from typing import Any

from . import plots
from .markdown import _bytes, _num, _pct

SECTION_TITLES = ("Summary", "Accuracy vs predicted latency", "Reliability diagrams", "Temperature scaling",
                  "Predicted latency on every profile", "Parity matrix", "Budgets", "Models", "Notes")

_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:2em auto;max-width:1200px;color:#222;
padding:0 1em}
h1{font-size:1.6em} h2{border-bottom:1px solid #ddd;padding-bottom:.2em;margin-top:1.6em}
table{border-collapse:collapse;font-size:.85em;margin:.5em 0} th,td{border:1px solid #ddd;padding:.25em .5em}
th{background:#f4f4f4} td.n{text-align:right;font-variant-numeric:tabular-nums}
.pass{color:#1a7f37;font-weight:600} .miss{color:#cf222e;font-weight:700} .muted{color:#777}
img{max-width:100%;border:1px solid #eee} .verdict{font-size:1.2em}
"""


def render_html(report: dict[str, Any]) -> str:
    """The whole report as one HTML document (no external resource of any kind)."""
    target = report["target"]["name"]
    body = [
        f"<h1>edgekd build report — {escape(target)}</h1>",
        _section("Summary", _summary(report)),
        _section("Accuracy vs predicted latency", _img(plots.accuracy_vs_latency(report["models"], target),
                 f"top-1 vs predicted latency on {target}")),
        _section("Reliability diagrams", _img(plots.reliability_diagrams(report["models"]), "reliability diagrams")),
        _section("Temperature scaling", _temperature(report.get("temperature_scaling") or {})),
        _section("Predicted latency on every profile", _targets(report)),
        _section("Parity matrix", _parity(report)),
        _section("Budgets", _budgets(report["budgets"])),
        _section("Models", _models(report)),
        _section("Notes", _notes(report)),
    ]
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>edgekd report — {escape(target)}</title><style>{_CSS}</style></head><body>\n"
            + "\n".join(body) + "\n</body></html>\n")


def _section(title: str, inner: str) -> str:
    anchor = title.lower().replace(" ", "-")
    return f'<section id="{escape(anchor)}"><h2>{escape(title)}</h2>\n{inner}\n</section>'


def _img(png: bytes | None, alt: str) -> str:
    if png is None:
        return '<p class="muted">nothing to plot (no model has the measurements this plot needs)</p>'
    data = base64.b64encode(png).decode("ascii")
    return f'<img alt="{escape(alt)}" src="data:image/png;base64,{data}">'


def _table(header: list[str], rows: list[list[str]], numeric: set[int] = frozenset()) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    out = [f"<table><thead><tr>{head}</tr></thead><tbody>"]
    for row in rows:
        cells = "".join(f'<td class="n">{c}</td>' if i in numeric else f"<td>{c}</td>" for i, c in enumerate(row))
        out.append(f"<tr>{cells}</tr>")
    return "".join(out) + "</tbody></table>"


def _summary(report: dict[str, Any]) -> str:
    verdict = '<span class="pass">PASSED</span>' if report["passed"] else '<span class="miss">FAILED</span>'
    host = report.get("host") or {}
    data = report.get("data") or {}
    misses = [b["metric"] for b in report["budgets"] if not b["passed"]]
    miss_text = f" Missed: {escape(', '.join(misses))}." if misses else ""
    return (f'<p class="verdict">{verdict} — deployable model: <b>{escape(str(report.get("chosen")))}</b>.'
            f"{miss_text}</p><p>edgekd {escape(str(report['edgekd_version']))}, "
            f"{escape(str(report.get('created_utc', '')))}, {escape(str(report.get('duration_s', '')))} s on "
            f"{escape(str(host.get('cpu', '?')))} ({escape(str(host.get('cores', '?')))} cores). Data: "
            f"{escape(str(data.get('name', '?')))}.</p>")


def _temperature(ts: dict[str, Any]) -> str:
    if not ts.get("enabled"):
        return ('<p class="muted">off (set <code>calibration.temperature_scaling: true</code> to fit T on the val '
                "split and fold it into the exported models)</p>")
    before, after = ts.get("ece_before", {}), ts.get("ece_after", {})
    rows = [[escape(split), _num(before.get(split)), _num(after.get(split))] for split in ("val", "test")]
    return (f"<p>T = <b>{ts['temperature']:.4f}</b>, fitted on the {escape(ts.get('fitted_on', 'val'))} split, "
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
    return (_img(plots.latency_on_targets(rows, chosen), f"predicted latency of {chosen} on every profile")
            + "<p>Latency predicted from the graph (upper bound judged against each profile's p90 budget); model "
              "size measured; accuracy and calibration measured once on the host's test split.</p>"
            + _table(list(HEADER), table, set(NUMERIC)))


def _parity(report: dict[str, Any]) -> str:
    matrix = report.get("parity_matrix")
    if matrix and matrix.get("models"):
        names = matrix["models"]
        rows = [[f"<b>{escape(a)}</b>"] + [f"{100 * matrix['top1_agreement'][i][j]:.1f}% / "
                                           f"{matrix['max_abs_diff'][i][j]:.2g}" for j in range(len(names))]
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
    rows = [[escape(b["metric"]), _num(b["limit"]), _num(b["value"]), escape(str(b.get("model", ""))),
             escape(str(b.get("source", ""))), _verdict(b["passed"])] for b in budgets]
    return _table(["metric", "limit", "value", "model", "source", "result"], rows, {1, 2})


def _models(report: dict[str, Any]) -> str:
    rows = []
    for m in report["models"]:
        acc, cal = m.get("accuracy") or {}, m.get("calibration") or {}
        lat = m.get("latency_ms") or {}
        host, pred = lat.get("host") or {}, lat.get("predicted") or {}
        mem = m.get("memory") or {}
        rows.append([escape(m["name"]), escape(m["format"]), escape(m["precision"]), _num(m["params"]),
                     _num(m["macs"]), _bytes(m.get("size_bytes")), _pct(acc.get("top1")), _num(cal.get("ece")),
                     _num(host.get("p90")), _num(pred.get("p50")), _bytes(mem.get("peak_activation_bytes"))])
    return _table(["model", "format", "precision", "params", "MACs", "size", "top-1", "ECE", "host p90 ms",
                   f"predicted {report['target']['name']} ms", "arena"], rows, set(range(3, 11)))


def _notes(report: dict[str, Any]) -> str:
    items = [f"<li><b>{escape(m['name'])}</b>: {escape(n)}</li>" for m in report["models"] for n in m.get("notes", [])]
    items += [f"<li><b>conversion failure</b>: {escape(f['error'])}</li>"
              for f in report.get("conversion_failures") or []]
    noisy = [m["name"] for m in report["models"] if ((m.get("latency_ms") or {}).get("host") or {}).get("noisy")]
    if noisy:
        items.append(f"<li><b>host latency</b>: too noisy to trust for {escape(', '.join(noisy))} "
                     "(CV above 0.25 or a long tail)</li>")
    return f"<ul>{''.join(items)}</ul>" if items else '<p class="muted">none</p>'
