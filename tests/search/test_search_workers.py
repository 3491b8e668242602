"""A killed search resumes without rerunning finished trials; two workers share one sqlite study.

Both run the real CLI in subprocesses (``edgekd build --fit``), with every candidate feasible
(a generous latency budget) and no pruner, so each trial runs its epochs and the trial log
says exactly which candidate trained when.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.timeout(900)

ENV = {**os.environ, "OMP_NUM_THREADS": "1", "COLUMNS": "200", "PYTHONUNBUFFERED": "1"}
SPACE = ["student.search.space.widths=[0.25,0.35,0.5]", "student.search.space.options={mobilenetv2: {depth: [0.5]}}",
         "student.search.max_trials=3", "student.search.pruner=none"]


def _cmd(out: Path, profile: Path, overrides: list[str], *extra: str) -> list[str]:
    sets = [arg for item in overrides for arg in ("--set", item)]
    return [sys.executable, "-m", "edgekd.cli", "build", "--fit", "--out", str(out), "--target", str(profile),
            *sets, *extra]


def _study_trials(url: str, name: str) -> list:
    import optuna

    return optuna.load_study(study_name=name, storage=url).get_trials(deepcopy=False)


@pytest.mark.slow  # ~40 s of subprocess builds: make test-all
def test_killed_search_resumes_without_rerunning_finished_trials(tmp_path, fast, budget_profile):
    profile = budget_profile(tmp_path, 1e6)
    overrides = fast + SPACE + ["student.search.trial_epochs=2", "student.search.study_name=resume-test"]
    out = tmp_path / "out"
    proc = subprocess.Popen(_cmd(out, profile, overrides), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True, env=ENV)
    seen = []
    for line in proc.stderr:
        seen.append(line)
        if line.lstrip().startswith("trial 1 ") and "epoch 1/2" in line:
            proc.send_signal(signal.SIGKILL)  # trial 0 finished, trial 1 half-way
            break
    proc.wait(timeout=300)
    assert proc.returncode == -signal.SIGKILL, "".join(seen)
    url = f"sqlite:///{out / '.edgekd-work' / 'search' / 'study.db'}"
    before = {t.number: (t.state.name, t.params.get("candidate")) for t in _study_trials(url, "resume-test")}
    assert before[0][0] == "COMPLETE" and before[1][0] == "RUNNING"

    resumed = subprocess.run(_cmd(out, profile, overrides, "--resume"), capture_output=True, text=True, env=ENV,
                             timeout=600)
    assert resumed.returncode in (0, 3), resumed.stderr[-3000:]
    assert not [line for line in resumed.stderr.splitlines() if line.lstrip().startswith("trial 0 ")]
    trials = {t["number"]: t for t in json.loads((out / "report.json").read_text())["search"]["trials"]}
    assert trials[0]["state"] == "complete" and trials[0]["candidate"] == before[0][1]
    assert trials[1]["state"] == "fail"  # the killed attempt, requeued
    finished = [t["candidate"] for t in trials.values() if t["state"] == "complete"]
    assert sorted(finished) == sorted({before[0][1], before[1][1], *finished}) and len(finished) == 3
    assert [t for t in trials.values() if t.get("retry_of") == 1][0]["candidate"] == before[1][1]


@pytest.mark.slow  # ~30 s of subprocess builds: make test-all
def test_two_workers_share_one_sqlite_study_without_duplicates(tmp_path, fast, budget_profile):
    profile = budget_profile(tmp_path, 1e6)
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    overrides = fast + SPACE + ["student.search.trial_epochs=1", f"student.search.storage={url}",
                                "student.search.study_name=shared"]
    procs = [subprocess.Popen(_cmd(tmp_path / f"worker{i}", profile, overrides), stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, text=True, env=ENV) for i in range(2)]
    errors = [p.communicate(timeout=800)[1] for p in procs]
    for proc, err in zip(procs, errors):
        assert proc.returncode in (0, 3), err[-3000:]
    trials = _study_trials(url, "shared")
    trained = [t.params["candidate"] for t in trials if t.user_attrs.get("trained")]
    assert len(trained) == len(set(trained)) == 3  # every candidate once, none twice
    assert all(t.state.name in ("COMPLETE", "FAIL") for t in trials)
    reports = [json.loads((tmp_path / f"worker{i}" / "report.json").read_text()) for i in range(2)]
    assert reports[0]["search"]["chosen"] == reports[1]["search"]["chosen"]
    # Both workers trained: the queue was shared, not run twice.
    per_worker = [sum(" epoch 1/1" in line and line.lstrip().startswith("trial ") for line in err.splitlines())
                  for err in errors]
    assert sum(per_worker) == 3
