"""Suite-wide settings: every stage run in a test checks that it declared what it reads."""

import json
import os

import pytest

# A stage reading a config key or profile field it did not declare in Stage.reads fails the build
# (edgekd.stage): the resume key is derived from the declaration, so it must be complete.
os.environ.setdefault("EDGEKD_CHECK_READS", "1")
# Tiny builds skip the PNG plots of report.html (2-4 s each, dozens of builds); the tests of the
# plots and of report.html turn them back on (the plots_on fixture).
os.environ.setdefault("EDGEKD_REPORT_PLOTS", "0")
# Under pytest-xdist (`make test`: one worker per core) each worker and the builds it spawns use one
# torch/BLAS thread: more would put four busy threads on two cores. Set, not defaulted: the Makefile
# exports OMP_NUM_THREADS=2 for everything else, and with it `make test` took 11 min 43 s against
# 7 min 18 s once set (same checkout, back to back, 2026-11-30).
if os.environ.get("PYTEST_XDIST_WORKER"):
    os.environ["OMP_NUM_THREADS"] = "1"


@pytest.fixture
def plots_on(monkeypatch):
    """Plots drawn in report.html for this test."""
    monkeypatch.setenv("EDGEKD_REPORT_PLOTS", "1")


def shared_build(tmp_path_factory, name: str, **kwargs):
    """``edgekd.build(None, **kwargs)`` once per test run, also across pytest-xdist workers.

    Under xdist each worker has its own session, so a session fixture used by modules on both
    workers would build twice. The first worker to ask builds into a folder of the run's shared
    temp root (under a file lock); the others wait for it and read its report. Tests treat the
    folder as read-only, as they already did within one worker.
    """
    from filelock import FileLock

    import edgekd
    from edgekd.api import BuildResult

    if not os.environ.get("PYTEST_XDIST_WORKER"):
        return edgekd.build(None, out_dir=tmp_path_factory.mktemp(name) / "out", **kwargs)
    root = tmp_path_factory.getbasetemp().parent  # the run's temp root, shared by its workers
    out = root / name / "out"
    with FileLock(str(root / f"{name}.lock")):
        if (out / "manifest.json").is_file():  # written last: the build finished
            return BuildResult(json.loads((out / "report.json").read_text()), out)
        return edgekd.build(None, out_dir=out, **kwargs)


@pytest.fixture(scope="session")
def mcu_build(tmp_path_factory):
    """The README's quick first try on a microcontroller: the embedded digits, stm32h743, 2 + 2 epochs.

    Shared by the build contract tests and the deploy bundle tests (one MCU build per run).
    """
    return shared_build(tmp_path_factory, "mcu", target="stm32h743",
                        overrides=["teacher.epochs=2", "distill.epochs=2", "bench.latency_mode=off"])


QUICK_PI4 = ("teacher.epochs=1", "distill.epochs=1", "export.formats=[onnx]", "calibration.temperature_scaling=true",
             "distill.train_baseline=true")


@pytest.fixture(scope="session")
def quick_pi4_build(tmp_path_factory):
    """One real tiny build on raspberry-pi-4 (1 + 1 epochs, ONNX, temperature scaling, plots drawn).

    Shared by the build-contract tests (tests/test_build.py) and the report tests (tests/report/):
    the contract does not depend on how long the models trained.
    """
    mp = pytest.MonkeyPatch()
    mp.setenv("EDGEKD_REPORT_PLOTS", "1")  # report.html's plots are what tests/report/test_html.py checks
    try:
        return shared_build(tmp_path_factory, "quick-pi4", target="raspberry-pi-4", overrides=QUICK_PI4)
    finally:
        mp.undo()
