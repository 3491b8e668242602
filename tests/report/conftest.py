"""One real (tiny) build shared by the report tests: 1 teacher epoch, 1 distillation epoch."""

import copy
import json

import pytest


@pytest.fixture(scope="session")
def built(quick_pi4_build):
    """The output folder of a real build on raspberry-pi-4 (temperature scaling on; tests/conftest.py)."""
    return quick_pi4_build.out_dir


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
