"""The "INT8 is slower than FP32 on this host" note is for host builds only (issue 18, item 6)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from edgekd.artifact import Artifact
from edgekd.measure import host, stage


@pytest.mark.parametrize("kind, noted", [("host", True), ("mcu", False), ("phone", False), ("sbc", False)])
def test_slow_int8_note_only_where_the_host_is_the_device(kind, noted, monkeypatch):
    monkeypatch.setattr(host, "compare_side_by_side", lambda fp32, int8, ctx: 1.6)
    ctx = SimpleNamespace(config=SimpleNamespace(bench=SimpleNamespace(latency_mode="short")),
                          target=SimpleNamespace(kind=kind))
    arts = [Artifact(name="student-fp32.onnx", role="student", format="onnx", precision="fp32"),
            Artifact(name="student-int8.onnx", role="student", format="onnx", precision="int8")]
    int8 = stage._flag_slow_int8(arts, ctx)[1]
    assert int8.metrics["int8_vs_fp32_host_latency_ratio"] == 1.6  # measured either way
    assert any("INT8 is slower than FP32 on this host" in n for n in int8.notes) == noted
