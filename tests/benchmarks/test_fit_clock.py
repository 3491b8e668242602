"""bench-fit's wall time of a build survives interruptions: a resumed build adds its earlier time."""

from __future__ import annotations

import time


def test_a_resumed_build_reports_the_time_of_every_process(tmp_path, monkeypatch, bench_module):
    fit = bench_module("fit")
    monkeypatch.setattr(fit.ElapsedClock, "EVERY_S", 0.05)
    path = tmp_path / "default.elapsed_s"
    with fit.ElapsedClock(path, resume=False):
        time.sleep(0.3)
        assert float(path.read_text()) > 0.1  # written while running: a kill keeps it
    first = float(path.read_text())
    with fit.ElapsedClock(path, resume=True) as clock:
        time.sleep(0.2)
    assert clock.total() >= first + 0.2
    assert float(path.read_text()) == round(clock.total(), 1)
    with fit.ElapsedClock(path, resume=False) as fresh:  # a fresh build starts from zero
        pass
    assert fresh.total() < 0.1
