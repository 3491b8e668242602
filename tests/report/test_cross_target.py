"""The cross-target table (every profile: predicted latency, memory, fit) in report.md, report.html and the console."""

import copy

from edgekd.report.console import cross_target_table
from edgekd.report.cross_target import cross_target_cells
from edgekd.report.html import render_html
from edgekd.report.markdown import render_markdown

from .test_markdown_golden import REPORT

ROWS = [
    {"target": "pi", "kind": "sbc", "precision": "int8", "supported": True, "p50": 2.5, "low": 2.0, "high": 3.0,
     "budget_ms": 50.0, "format": "onnx", "runs_as_is": True, "model_bytes": 2048, "peak_ram_bytes": 300000,
     "budgets": [{"metric": "latency_p90_ms (predicted upper bound)", "limit": 50.0, "value": 3.0, "passed": True},
                 {"metric": "top1", "limit": 0.9, "value": 0.85, "passed": False}],
     "fits": False},
    {"target": "mcu", "kind": "mcu", "precision": "int8", "supported": True, "p50": 120.0, "low": 80.0,
     "high": 200.0, "budget_ms": 250.0, "format": "onnx", "runs_as_is": False, "model_bytes": 2048,
     "peak_ram_bytes": 4096, "budgets": [{"metric": "peak_ram_bytes", "limit": 8192.0, "value": 4096.0,
                                          "passed": True}], "fits": True},
    {"target": "odd", "kind": "npu", "precision": "int8", "supported": False, "p50": None, "low": None,
     "high": None, "error": "no int8 peak", "budget_ms": None, "format": "onnx", "runs_as_is": False,
     "model_bytes": 2048, "peak_ram_bytes": None, "budgets": [], "fits": True},
]

EXPECTED_MD = """\
## s-int8.onnx on every profile

Predicted from the graph (latency upper bound judged against each profile's p90 budget); model size measured; \
accuracy and calibration measured once on the host's test split. "runs as-is": the profile lists this model's \
format and precision.

| profile | kind | runs as-is | predicted ms p50 [low–high] | p90 budget ms | model size | RAM needed | fits \
| missed budgets |
|---|---|---|---:|---:|---:|---:|---|---|
| pi | sbc | yes | 2.5 [2–3] | 50 | 2.0 KiB | 293.0 KiB | no | top1 |
| mcu | mcu | no | 120 [80–200] | 250 | 2.0 KiB | 4.0 KiB | yes | — |
| odd | npu | no | — | — | 2.0 KiB | — | yes | no int8 peak |
"""


def report_with_rows():
    report = copy.deepcopy(REPORT)
    report["predicted_on_targets"] = copy.deepcopy(ROWS)
    for model in report["models"]:  # the HTML plots colour models by role
        model["role"] = "teacher" if model["format"] == "torch" else "student"
    return report


def test_markdown_cross_target_golden():
    text = render_markdown(report_with_rows())
    section = text[text.index("## s-int8.onnx on every profile"):]
    assert section.startswith(EXPECTED_MD)
    # after the budgets, before the failures and notes
    assert text.index("## Budgets") < text.index("on every profile") < text.index("## Conversion failures")


def test_no_rows_no_section():
    assert "on every profile" not in render_markdown(REPORT)
    assert cross_target_cells(REPORT) == []


def test_html_has_the_same_cells_with_verdict_colours():
    page = render_html(report_with_rows())
    for header in ("runs as-is", "RAM needed", "fits", "missed budgets"):
        assert f"<th>{header}</th>" in page
    assert '<td><span class="miss">no</span></td><td>top1</td>' in page
    assert '<td class="n">120 [80–200]</td>' in page and "no int8 peak" in page


def test_console_table_has_a_row_per_profile():
    from rich.console import Console

    console = Console(width=250, record=True)
    console.print(cross_target_table(report_with_rows()))
    text = console.export_text()
    assert "s-int8.onnx on every profile" in text
    assert all(name in text for name in ("pi", "mcu", "odd", "293.0 KiB", "top1"))
