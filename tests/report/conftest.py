"""One real (tiny) build shared by the report tests: 1 teacher epoch, 1 distillation epoch."""

import copy
import json

import pytest

import edgekd

OVERRIDES = ("teacher.epochs=1", "distill.epochs=1", "export.formats=[onnx]",
             "calibration.temperature_scaling=true")


@pytest.fixture(scope="session")
def built(tmp_path_factory):
    """The output folder of a real build on raspberry-pi-4 (temperature scaling on)."""
    out = tmp_path_factory.mktemp("report-build")
    # report.html's plots are what tests/report/test_html.py checks (tests/conftest.py turns them off)
    mp = pytest.MonkeyPatch()
    mp.setenv("EDGEKD_REPORT_PLOTS", "1")
    try:
        result = edgekd.build(None, target="raspberry-pi-4", out_dir=out, overrides=OVERRIDES)
    finally:
        mp.undo()
    return result.out_dir


@pytest.fixture
def report(built):
    """A fresh deep copy of the built report.json, free to edit."""
    return copy.deepcopy(json.loads((built / "report.json").read_text()))


@pytest.fixture
def save(tmp_path):
    """``save(report, name)`` writes a report dict under tmp_path and returns the path as str."""
    def _save(report, name="report.json") -> str:
        path = tmp_path / name
        path.write_text(json.dumps(report))
        return str(path)
    return _save


@pytest.fixture(autouse=True)
def _report_plots_on(plots_on):
    """Every report test renders report.html with its plots."""
