"""The arena TFLite Micro really needs, measured in its Python interpreter, beside the liveness estimate."""

from __future__ import annotations

from edgekd.predict.tflite_memory import analyze_tflite
from edgekd.predict.tflm_arena import _Prober, measure_tflm_arena, tflm_arena_report


def test_measured_arena_is_the_smallest_that_runs(golden_files):
    path = golden_files["int8"]
    report = tflm_arena_report(path)
    arena = report["arena_bytes"]
    assert arena is not None and report["reason"] is None
    prober = _Prober(path, 1)
    try:
        assert prober.probe(arena)["ok"] and not prober.probe(arena - 16)["ok"]
    finally:
        prober.close()
    # TFLM's planned activation buffers (the arena head) can never be smaller than the liveness peak;
    # its greedy planner may pack them less tightly. The persistent tail comes on top.
    estimate = analyze_tflite(path)["peak_activation_bytes"]
    assert report["recorded_head"] >= estimate > 0
    assert arena >= report["recorded_total"] == report["recorded_head"] + report["recorded_tail"]


def test_model_with_an_op_tflm_lacks_gives_none_and_the_reason(custom_op_tflite):
    report = tflm_arena_report(custom_op_tflite)
    assert report["arena_bytes"] is None and "EdgekdTestOp" in report["reason"]
    assert measure_tflm_arena(custom_op_tflite) is None
