"""Golden output of the student-search table in report.md, and its HTML section, for a hand-made record."""

from edgekd.report.html import render_html
from edgekd.report.markdown import render_markdown
from edgekd.report.search import search_markdown

SEARCH = {
    "space_size": 2, "feasible": 1, "trials_run": 1, "trial_epochs": 2, "pruner": "hyperband",
    "chosen": {"key": "mobilenetv2(width=0.25)", "student": "mobilenetv2", "options": {"width": 0.25}},
    "chosen_reason": "best val top-1 of the finished trials",
    "trials": [{"number": 0, "state": "complete", "candidate": "mobilenetv2(width=0.25)",
                "val_top1_by_epoch": {"1": 0.5, "2": 0.75}, "value": 0.75, "trained": True}],
    "candidates": [
        {"key": "mobilenetv2(width=0.25)", "student": "mobilenetv2", "options": {"width": 0.25}, "params": 1000,
         "macs": 20000, "predicted_latency_ms": {"p50": 1.5, "low": 1.0, "high": 2.0},
         "memory": {"peak_ram_bytes": 2048, "model_bytes": 4096}, "feasible": True, "reason": "meets every budget",
         "val_top1_by_epoch": {"1": 0.5, "2": 0.75}, "trial_state": "complete", "screen_s": 1.25, "train_s": 3.0},
        {"key": "mobilenetv2(width=1.0)", "student": "mobilenetv2", "options": {"width": 1.0}, "params": 9000,
         "macs": 300000, "predicted_latency_ms": {"p50": 7.5, "low": 5.0, "high": 12.0},
         "memory": {"peak_ram_bytes": 8192, "model_bytes": 40960}, "feasible": False,
         "reason": "latency_p90_ms (predicted upper bound) 12 > 5", "val_top1_by_epoch": {},
         "trial_state": "not trained", "screen_s": 2.0, "train_s": None},
    ],
}

EXPECTED = """
## Student search

2 candidates screened untrained against the budgets, 1 feasible, 1 short KD trials (2 epochs at most, \
hyperband pruner). Chosen: **mobilenetv2(width=0.25)** — best val top-1 of the finished trials.

| candidate | params | MACs | predicted ms p50 [high] | peak RAM | model bytes | feasible | reason \
| val top-1 by epoch | trial | screen + train s |
|---|---:|---:|---:|---:|---:|---|---|---|---|---:|
| mobilenetv2(width=0.25) (chosen) | 1,000 | 20,000 | 1.5 [2] | 2.0 KiB | 4.0 KiB | yes | meets every budget \
| 50.00% → 75.00% | complete | 4.2 |
| mobilenetv2(width=1.0) | 9,000 | 300,000 | 7.5 [12] | 8.0 KiB | 40.0 KiB | no \
| latency_p90_ms (predicted upper bound) 12 > 5 | — | not trained | 2.0 |"""


def test_search_table_golden():
    assert "\n".join(search_markdown(SEARCH)) == EXPECTED


def test_search_section_only_when_searched():
    report = {"edgekd_version": "0.1.0", "created_utc": "x", "duration_s": 1.0, "host": {"cpu": "c", "cores": 2},
              "target": {"name": "pi", "budgets": {"max_latency_p90_ms": 5.0}}, "data": {"name": "d",
              "samples": {"test": 1}}, "chosen": None, "passed": True, "models": [], "budgets": []}
    assert "Student search" not in render_markdown(report)
    assert "build --fit" in render_html(report)  # the off note says how to turn it on
    searched = render_html({**report, "search": SEARCH})
    section = searched.split('id="student-search"')[1].split("</section>")[0]
    assert "data:image/png;base64" in section and "not trained" in section
    assert render_markdown({**report, "search": SEARCH}).count("| mobilenetv2(width=") == 2


def test_console_names_the_chosen_student(capsys, tmp_path):
    from edgekd.report.console import render_build

    report = {"edgekd_version": "0.1.0", "created_utc": "x", "duration_s": 1.0, "host": {"cpu": "c", "cores": 2},
              "target": {"name": "pi"}, "data": {"name": "d", "samples": {"test": 1}}, "chosen": None,
              "passed": True, "models": [], "budgets": [], "search": SEARCH}
    render_build(report, tmp_path)
    printed = " ".join(capsys.readouterr().out.split())
    assert "search: 1 of 2 candidates meet the budgets untrained, 1 trials; chose mobilenetv2(width=0.25)" in printed
