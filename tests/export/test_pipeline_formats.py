"""Whole builds: every format FP32 + INT8 with parity entries; an unsupported op fails one format only."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from edgekd.api import build
from edgekd.students.registry import _REGISTRY, register_student

FAST = ["teacher.epochs=1", "distill.epochs=1", "bench.latency_mode=off"]


class CumprodNet(nn.Module):
    """A student with ``torch.cumprod``: the ONNX exporter rejects it, coremltools converts it."""

    def __init__(self, num_classes: int, channels: int):
        super().__init__()
        self.conv = nn.Conv2d(channels, 8, 3, padding=1)
        self.head = nn.Linear(8, num_classes)

    def forward(self, x):
        x = torch.cumprod(torch.sigmoid(x), dim=3)
        return self.head(torch.relu(self.conv(x)).mean((2, 3)))


@pytest.fixture
def cumprod_student():
    """Register a test-only student for one test, then remove it (the registry is global)."""
    @register_student("test-cumprod", "any", "test only: a cumprod op the ONNX exporter rejects")
    def _build_cumprod(num_classes, input_shape, *, unused: int = 0):
        return CumprodNet(num_classes, input_shape[0])

    yield "test-cumprod"
    _REGISTRY.pop("test-cumprod", None)


def _build(out, overrides):
    return build(None, "pixel-8", out, overrides=overrides).report  # a missed budget still returns the report


@pytest.mark.slow  # ~40 s (three converters); each format's export and parity also has its own fast test
def test_pixel8_writes_three_formats_fp32_and_int8_with_parity(tmp_path):
    out = tmp_path / "run"
    report = _build(out, [*FAST, "export.formats=[onnx,tflite,coreml]"])
    names = {m["name"]: m for m in report["models"]}
    for fmt in ("onnx", "tflite", "coreml"):
        for precision in ("fp32", "int8"):
            model = names[f"student-{precision}.{fmt}"]
            assert (out / model["path"]).exists()
    assert (out / names["student-fp16.coreml"]["path"]).exists()
    runnable = [m for m in report["models"] if m["format"] in ("onnx", "tflite")]
    assert len(runnable) == 4
    for m in runnable:
        assert m["parity"]["reference"] == "student"
        assert {"top1_agreement", "max_abs_diff"} <= set(m["parity"])
    assert all(m["parity"]["passed"] for m in runnable if m["precision"] == "fp32")


def test_unsupported_op_fails_one_format_and_keeps_the_others(tmp_path, cumprod_student):
    out = tmp_path / "run"
    report = _build(out, [*FAST, "student.name=test-cumprod", "student.options={}", "export.formats=[onnx,coreml]"])
    failures = report["conversion_failures"]
    assert len(failures) == 1 and failures[0]["format"] == "onnx"
    assert "cumprod" in failures[0]["op"] and "\n" not in failures[0]["error"]
    names = {m["name"]: m for m in report["models"]}
    assert "student-fp32.onnx" not in names
    assert (out / names["student-fp32.coreml"]["path"]).exists()  # the format that worked is kept
    budget = next(b for b in report["budgets"] if b["metric"] == "failed_conversions")
    assert budget["passed"] is False and budget["value"] == 1
