"""Tiny inputs for the search tests: 8x8 digits, a 2-epoch teacher, a profile with only a latency budget."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from edgekd.targets import load_target

# Four mobilenetv2 widths at 8x8: the predicted latency grows with the width, so a budget between
# two of them splits the space into feasible and infeasible candidates.
FAST = ["teacher.epochs=2", "teacher.width=8", "data.resolution=8", "distill.epochs=1", "distill.batch_size=256",
        "bench.latency_mode=off", "export.formats=[onnx]", "student.search.enabled=true",
        "student.search.space.students=[mobilenetv2]", "student.search.space.widths=[0.25,0.5,1.0,2.0]",
        "student.search.space.options={mobilenetv2: {depth: [1.0]}}", "student.search.trial_epochs=2",
        "student.search.max_trials=4", "student.search.max_teacher_macs_ratio=null"]


@pytest.fixture
def fast() -> list[str]:
    """Config overrides of a fast searched build (copy: tests append to it)."""
    return list(FAST)


@pytest.fixture
def budget_profile():
    """``make(folder, max_latency_ms)``: a raspberry-pi-4 profile YAML with only a latency budget."""

    def make(folder: Path, max_latency_ms: float, name: str = "pi4-budget") -> Path:
        data = load_target("raspberry-pi-4").model_dump(mode="json")
        data["name"] = name
        # Only latency: accuracy budgets would judge the 1-epoch runs of a test.
        data["budgets"] = {"max_latency_p90_ms": max_latency_ms}
        path = folder / f"{name}.yaml"
        path.write_text(yaml.safe_dump(data), encoding="utf-8")
        return path

    return make
