"""Screening an untrained candidate: predicted latency and memory against the budgets, TFLite Micro on MCUs."""

from __future__ import annotations

import pytest
import torch

from edgekd.config import load_config
from edgekd.data.bundle import DataBundle, Split
from edgekd.progress import NullReporter
from edgekd.search.screen import closest_miss, judge, screen
from edgekd.search.space import Candidate
from edgekd.stage import BuildContext
from edgekd.targets import load_target


def _ctx(tmp_path, target: str, shape=(1, 8, 8), budgets=None, *overrides) -> BuildContext:
    split = Split(torch.randn(16, *shape), torch.arange(16) % 4)
    data = DataBundle(name="tiny", task="image", class_names=("a", "b", "c", "d"), input_shape=shape, train=split,
                      val=split, test=split, representative=split)
    profile = load_target(target)
    if budgets is not None:
        profile = profile.model_copy(update={"budgets": profile.budgets.model_copy(update=budgets)})
    return BuildContext(config=load_config(None, list(overrides)), target=profile, out_dir=tmp_path, data=data,
                        reporter=NullReporter(), threads=1)


def test_budgets_decide_feasibility_and_the_reason_names_the_miss(tmp_path):
    small, large = Candidate("mobilenetv2", {"width": 0.25, "depth": 0.5}), Candidate("mobilenetv2", {"width": 1.0})
    free = _ctx(tmp_path, "raspberry-pi-4", budgets={"max_latency_p90_ms": None, "max_peak_ram_bytes": None})
    records = [judge(c, free, tmp_path, 0) for c in (small, large)]
    assert all(r["feasible"] for r in records)
    assert records[0]["macs"] < records[1]["macs"]
    assert records[0]["predicted_latency_ms"]["high"] < records[1]["predicted_latency_ms"]["high"]
    assert records[0]["precision"] == "int8"  # the pi runs INT8: the QDQ graph is what is judged
    # A RAM budget between the two: the large one misses, by the ratio it reports.
    limit = (records[0]["memory"]["peak_ram_bytes"] + records[1]["memory"]["peak_ram_bytes"]) // 2
    tight = _ctx(tmp_path, "raspberry-pi-4", budgets={"max_latency_p90_ms": None, "max_peak_ram_bytes": limit})
    judged = [judge(c, tight, tmp_path, 0) for c in (small, large)]
    assert judged[0]["feasible"] and not judged[1]["feasible"]
    assert judged[1]["reason"].startswith("peak_ram_bytes ")
    assert judged[1]["overshoot"] == pytest.approx(judged[1]["memory"]["peak_ram_bytes"] / limit)
    assert closest_miss(judged)["key"] == large.key
    # The teacher's MACs are the upper reference.
    capped = judge(small, free, tmp_path, teacher_macs=records[0]["macs"] - 1)
    assert not capped["feasible"] and "macs_vs_teacher" in capped["reason"]


def test_screen_records_are_reused_on_resume(tmp_path):
    ctx = _ctx(tmp_path, "raspberry-pi-4")
    cand = Candidate("mobilenetv2", {"width": 0.25, "depth": 0.5})
    first = screen(cand, ctx, tmp_path / "s", 0)
    (tmp_path / "s" / "mobilenetv2_depth_0.5_width_0.25_.fp32.onnx").unlink()
    assert screen(cand, ctx, tmp_path / "s", 0) == first  # from the record, not exported again
    assert not (tmp_path / "s" / "mobilenetv2_depth_0.5_width_0.25_.fp32.onnx").exists()


def test_invalid_option_is_infeasible_not_a_crash(tmp_path):
    record = judge(Candidate("mobilenetv2", {"width": -1.0}), _ctx(tmp_path, "raspberry-pi-4"), tmp_path, 0)
    assert not record["feasible"] and record["reason"].startswith("cannot build/export: ")


@pytest.mark.timeout(300)
def test_mcu_candidate_runs_in_tflite_micro(tmp_path):
    ctx = _ctx(tmp_path, "stm32h7a3", shape=(1, 16, 8))
    record = judge(Candidate("ds-cnn", {"size": "s", "width": 0.25}), ctx, tmp_path, 0)
    assert record["feasible"], record["reason"]
    assert "TFLite Micro" in record["checked_on"]
    mem = record["memory"]
    assert mem["tflm_arena_bytes"] > 0 and mem["peak_ram_bytes"] == mem["tflm_arena_bytes"]  # weights in flash
    assert mem["model_bytes"] == (tmp_path / "ds-cnn_size_s_width_0.25_.int8.tflite").stat().st_size
