"""A resumed long run keeps the curve it recorded, also when its role had already finished."""

from __future__ import annotations

import json


def test_load_partial_keeps_a_finished_runs_curve_and_only_for_its_key(bench_module, tmp_path):
    curve = bench_module("curve")
    out = tmp_path / "vision-long-baseline.json"
    saved = {"run_key": "c6a4", "status": "done", "curves": {"baseline": {"100": {"test_top1": 0.6838}}}}
    out.write_text(json.dumps(saved))
    assert curve.load_partial(out, "c6a4")["curves"] == saved["curves"]
    assert curve.load_partial(out, "other") is None  # another config or role starts afresh
    out.write_text(json.dumps({**saved, "status": "running"}))
    assert curve.load_partial(out, "c6a4")["status"] == "running"
    out.write_text("{not json")
    assert curve.load_partial(out, "c6a4") is None
    assert curve.load_partial(tmp_path / "missing.json", "c6a4") is None
