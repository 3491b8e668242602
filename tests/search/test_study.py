"""The study's queue, pruner and budget, with a stand-in for training (no network is trained here)."""

from __future__ import annotations

import time

import optuna
import pytest

from edgekd.errors import ConfigError
from edgekd.search.study import fill_queue, open_study, requeue_dead, run_queue, trial_log

KEYS = ["a", "b", "c", "d"]
CURVES = {"a": [0.5, 0.6, 0.7], "b": [0.1, 0.1, 0.1], "c": [0.2, 0.2, 0.2], "d": [0.9, 0.95, 0.97]}


def _fake_train(trial, key: str) -> float:
    """Report a fixed curve per candidate, stopping when the pruner says so (as the real trainer does)."""
    for epoch, value in enumerate(CURVES[key], start=1):
        trial.report(value, epoch)
        if trial.should_prune():
            raise optuna.TrialPruned()
    return max(CURVES[key])


def _study(tmp_path, pruner: str, name: str = "s"):
    return open_study(f"sqlite:///{tmp_path / 'study.db'}", name, pruner, trial_epochs=3, seed=0)


def test_successive_halving_stops_trailing_trials_and_keeps_each_candidate_once(tmp_path):
    study, created = _study(tmp_path, "successive-halving")
    assert created
    fill_queue(study, created, KEYS, max_trials=4)
    run_queue(study, _fake_train, KEYS, deadline=None, report=lambda _text: None)
    log = {row["candidate"]: row for row in trial_log(study)}
    assert sorted(log) == KEYS and all(row["trained"] for row in log.values())
    # a (first) runs fully; b and c trail a at epoch 1 and stop there; d leads and completes.
    assert log["a"]["state"] == "complete" and log["d"]["state"] == "complete"
    assert log["b"]["state"] == "pruned" and log["b"]["val_top1_by_epoch"] == {"1": 0.1}
    assert log["c"]["state"] == "pruned"
    assert log["d"]["value"] == pytest.approx(0.97)


def test_max_trials_and_an_expired_budget_limit_the_queue(tmp_path):
    study, created = _study(tmp_path, "none")
    fill_queue(study, created, KEYS, max_trials=2)
    run_queue(study, _fake_train, KEYS, deadline=time.monotonic() - 1, report=lambda _text: None)
    assert [row["state"] for row in trial_log(study)] == ["waiting", "waiting"]  # budget spent: nothing ran
    run_queue(study, _fake_train, KEYS, deadline=None, report=lambda _text: None)
    assert [(row["candidate"], row["state"]) for row in trial_log(study)] == [("a", "complete"), ("b", "complete")]


def test_a_trial_left_running_by_a_killed_run_is_failed_and_queued_again(tmp_path):
    study, created = _study(tmp_path, "none")
    fill_queue(study, created, KEYS[:2], max_trials=2)
    orphan = study.ask()  # claims "a" and never finishes, as a killed process would
    assert orphan.suggest_categorical("candidate", KEYS) == "a"
    again, created_again = _study(tmp_path, "none")
    assert not created_again
    assert requeue_dead(again) == [0]
    run_queue(again, _fake_train, KEYS, deadline=None, report=lambda _text: None)
    rows = trial_log(again)
    assert [(r["candidate"], r["state"]) for r in rows] == [("a", "fail"), ("b", "complete"), ("a", "complete")]
    assert rows[2]["retry_of"] == 0


def test_bad_storage_url_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="student.search.storage"):
        open_study("nosuchdb://x", "s", "none", 1, 0)
