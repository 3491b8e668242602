"""A clearly more accurate twin of the deployable model (same precision, another format) is named with the fix."""

from __future__ import annotations

import copy

from edgekd.report.alternatives import better_alternatives
from edgekd.report.console import verdict_lines
from edgekd.report.markdown import render_markdown

from .test_markdown_golden import REPORT


def _report(twin_top1: float, twin_format: str = "tflite", twin_precision: str = "int8", test: int = 360) -> dict:
    report = copy.deepcopy(REPORT)
    report["target"]["formats"] = ["onnx", "tflite"]
    report["data"]["samples"]["test"] = test
    chosen = next(m for m in report["models"] if m["name"] == report["chosen"])
    chosen["accuracy"]["top1"] = 0.711
    twin = {**copy.deepcopy(chosen), "name": f"s-{twin_precision}.{twin_format}", "format": twin_format,
            "precision": twin_precision}
    twin["accuracy"]["top1"] = twin_top1
    report["models"].append(twin)
    return report


def test_a_clearly_better_int8_tflite_is_named_with_how_to_ship_it():
    [sentence] = better_alternatives(_report(0.906))
    assert sentence.startswith("s-int8.tflite reaches 90.60% top-1, clearly above the chosen s-int8.onnx (71.10%;")
    assert sentence.endswith("to ship tflite, set export.formats: [tflite]")
    assert any("better twin:" in line for line in verdict_lines(_report(0.906)))
    assert "A more accurate twin of the deployable model:" in render_markdown(_report(0.906))


def test_differences_the_test_split_cannot_resolve_are_not_claimed():
    assert better_alternatives(_report(0.74)) == []  # +2.9 pts on 360 samples: within the interval
    assert better_alternatives(_report(0.74, test=20000)) != []  # the same gap on 20,000 samples is resolved


def test_other_precisions_and_formats_the_target_cannot_run_are_ignored():
    assert better_alternatives(_report(0.906, twin_precision="fp32")) == []
    assert better_alternatives(_report(0.906, twin_format="coreml")) == []
    assert better_alternatives(REPORT) == []
