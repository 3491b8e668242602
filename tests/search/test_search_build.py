"""A searched build end to end: screening, trials, the chosen student, the report, exit 3 on no fit.

The budget is placed between the predicted latencies of two candidates (measured by the
screen itself on the same input shape), so the space always has feasible and infeasible ones.
"""

from __future__ import annotations

import json

import pytest
import torch

import edgekd
from edgekd.config import load_config
from edgekd.data.bundle import DataBundle, Split
from edgekd.progress import NullReporter
from edgekd.report.schema import validate_report
from edgekd.search.screen import judge
from edgekd.search.space import Candidate
from edgekd.stage import BuildContext
from edgekd.targets import load_target

pytestmark = pytest.mark.timeout(600)


def _predicted_high(tmp_path, width: float) -> float:
    """Predicted latency upper bound of an untrained mobilenetv2 on 1x8x8 digits (the builds' shape)."""
    split = Split(torch.randn(8, 1, 8, 8), torch.arange(8) % 10)
    data = DataBundle(name="shape-only", task="image", class_names=tuple(str(i) for i in range(10)),
                      input_shape=(1, 8, 8), train=split, val=split, test=split, representative=split)
    ctx = BuildContext(config=load_config(None), target=load_target("raspberry-pi-4"), out_dir=tmp_path, data=data,
                       reporter=NullReporter(), threads=1)
    record = judge(Candidate("mobilenetv2", {"depth": 0.5, "width": width}), ctx, tmp_path, 0)
    return record["predicted_latency_ms"]["high"]


@pytest.fixture(scope="module")
def searched(tmp_path_factory):
    folder = tmp_path_factory.mktemp("searched")
    budget = (_predicted_high(folder, 0.35) + _predicted_high(folder, 0.75)) / 2
    return folder, budget


def test_infeasible_never_trained_and_report_sections(searched, fast, budget_profile, plots_on):
    folder, budget = searched
    profile = budget_profile(folder, budget)
    fast += ["student.search.space.widths=[0.25,0.35,0.75,1.0]", "student.search.trial_epochs=1",
             "student.search.space.options={mobilenetv2: {depth: [0.5]}}"]
    result = edgekd.build(None, target=str(profile), out_dir=folder / "out", overrides=fast)
    report = json.loads((folder / "out" / "report.json").read_text())
    validate_report(report, source="report.json")
    search = report["search"]
    feasible = {c["key"] for c in search["candidates"] if c["feasible"]}
    infeasible = {c["key"] for c in search["candidates"] if not c["feasible"]}
    assert feasible == {"mobilenetv2(depth=0.5,width=0.25)", "mobilenetv2(depth=0.5,width=0.35)"}
    assert infeasible == {"mobilenetv2(depth=0.5,width=0.75)", "mobilenetv2(depth=0.5,width=1.0)"}
    # The trial log (the Optuna study's trials): only feasible candidates, each trained once.
    trained = [t["candidate"] for t in search["trials"] if t["trained"]]
    assert sorted(trained) == sorted(feasible)
    for cand in search["candidates"]:
        if not cand["feasible"]:
            assert cand["trials"] == [] and cand["val_top1_by_epoch"] == {}
            assert "latency_p90_ms (predicted upper bound)" in cand["reason"]
        else:
            assert set(cand["val_top1_by_epoch"]) == {"1"}
    # The winner is what distill trained, and the shipped model meets the latency budget.
    assert search["chosen"]["key"] in feasible
    student = next(m for m in report["models"] if m["name"] == "student")
    assert student["architecture"] == {"student": "mobilenetv2", "options": search["chosen"]["options"]}
    assert result.passed and result.exit_code == 0
    md = (folder / "out" / "report.md").read_text()
    assert "## Student search" in md and md.count("| mobilenetv2(depth=0.5,") == 4
    html = (folder / "out" / "report.html").read_text()
    assert 'id="student-search"' in html and "data:image/png;base64" in html.split('id="student-search"')[1][:3000]


def test_nothing_feasible_exits_3_keeping_the_closest_miss(searched, fast, budget_profile):
    folder, budget = searched
    profile = budget_profile(folder, budget / 1000, name="pi4-impossible")
    fast += ["student.search.space.widths=[0.25,0.75]", "student.search.space.options={mobilenetv2: {depth: [0.5]}}"]
    result = edgekd.build(None, target=str(profile), out_dir=folder / "miss", overrides=fast)
    assert result.exit_code == 3 and not result.passed
    search = result.report["search"]
    assert search["feasible"] == 0 and search["trials"] == [] and search["trials_run"] == 0
    # The closest miss is the smaller, faster one; it is the student that was distilled and shipped.
    assert search["closest_miss"]["key"] == search["chosen"]["key"] == "mobilenetv2(depth=0.5,width=0.25)"
    assert "closest miss: mobilenetv2(depth=0.5,width=0.25)" in search["chosen_reason"]
    student = next(m for m in result.report["models"] if m["name"] == "student")
    assert student["architecture"]["options"] == {"depth": 0.5, "width": 0.25}
    missed = [b for b in result.report["budgets"] if not b["passed"]]
    assert [b["metric"] for b in missed] == ["latency_p90_ms (predicted upper bound)"]


class _StopAtDistill(NullReporter):
    """Interrupts the build as the distill stage starts (the search stage is finished and recorded)."""

    def stage(self, name, detail=""):
        if name == "distill" and not detail:
            raise KeyboardInterrupt


def _onnx_input_hw(path) -> list[int]:
    import onnx

    dims = onnx.load(str(path)).graph.input[0].type.tensor_type.shape.dim
    return [d.dim_value for d in dims][-2:]


@pytest.mark.slow
def test_searched_resolution_holds_after_the_search_and_after_a_resume(tmp_path, fast, budget_profile):
    """A latency budget only the smaller input meets: the search picks it, and distill, export and the
    report use that size, also when the build is interrupted after the search and resumed."""
    def high(size: int) -> float:
        split = Split(torch.randn(8, 1, size, size), torch.arange(8) % 10)
        data = DataBundle(name="shape-only", task="image", class_names=tuple(str(i) for i in range(10)),
                          input_shape=(1, size, size), train=split, val=split, test=split, representative=split)
        ctx = BuildContext(config=load_config(None), target=load_target("raspberry-pi-4"), out_dir=tmp_path,
                           data=data, reporter=NullReporter(), threads=1)
        return judge(Candidate("mobilenetv2", {"depth": 1.0, "width": 1.0}), ctx, tmp_path, 0)[
            "predicted_latency_ms"]["high"]

    profile = budget_profile(tmp_path, (high(16) + high(8)) / 2, name="pi4-res")
    fast += ["data.resolution=16", "student.search.space.widths=[1.0]", "student.search.trial_epochs=1",
             "student.search.space.resolutions=[[16,16],[8,8]]"]
    out = tmp_path / "out"
    with pytest.raises(KeyboardInterrupt):
        edgekd.build(None, target=str(profile), out_dir=out, overrides=fast, reporter=_StopAtDistill())
    result = edgekd.build(None, target=str(profile), out_dir=out, overrides=fast, resume=True)
    search = result.report["search"]
    keys = {c["key"]: c["feasible"] for c in search["candidates"]}
    assert keys == {"mobilenetv2(depth=1.0,width=1.0)@16x16": False, "mobilenetv2(depth=1.0,width=1.0)@8x8": True}
    assert search["chosen"]["resolution"] == [8, 8]
    assert result.report["data"]["input_shape"] == [1, 8, 8]
    assert result.report["data"]["teacher_input_shape"] == [1, 16, 16]
    onnx_files = sorted((out / "artifacts").glob("*.onnx"))
    assert onnx_files and all(_onnx_input_hw(f) == [8, 8] for f in onnx_files if "teacher" not in f.name)
    assert result.passed and result.exit_code == 0
