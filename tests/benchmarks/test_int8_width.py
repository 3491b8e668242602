"""bench-int8-width: ratios, the fastest INT8 model and the table row, hand-worked from made-up timings."""

from __future__ import annotations

import pytest


def test_rows_and_table_from_hand_made_timings(bench_module):
    mod = bench_module("int8_width")
    p50 = {"fp32.onnx": 0.400, "int8.onnx": 0.300, "fp32.tflite": 0.500, "int8-pt2e.tflite": 0.350,
           "int8-aeq-f1.tflite": 0.250}
    stats = {f"w1.0/{v}": {"p50": t} for v, t in p50.items()}
    rows = mod.rows_for([1.0], stats, {1.0: 20_000_000}, 80_000_000)
    row = rows[0]
    assert (row["channels"], row["macs_share_of_teacher"]) == (64, 0.25)
    assert row["ratio"] == pytest.approx({"onnx int8": 0.75, "tflite pt2e": 0.70, "tflite aeq-f1": 0.50})
    result = {"date": "2026-12-01", "machine": {"cpu": "X", "cpu_features": ["avx2"]}, "seconds": 3,
              "teacher_macs": 80_000_000, "rows": rows}
    assert mod.markdown(result).splitlines()[-1] == (
        "| 1.0 | 64 | 20.00 | 25.0% | 400 | 0.75× | 500 | 0.70× | 0.50× | 250 (int8-aeq-f1.tflite) |")
