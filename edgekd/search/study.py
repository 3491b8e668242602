"""The Optuna study: short KD trials of the feasible candidates, stopped early by a pruner.

Storage: an Optuna RDB storage (SQLAlchemy URL). By default a sqlite file in the build's work
folder, so ``edgekd build --resume`` continues a killed search: finished trials stay in the
file and are never rerun. ``student.search.storage`` points several machines (or processes) at
one study; they share its queue.

Queue: whoever creates the study enqueues every feasible candidate once (creating a study is
atomic in the database, so exactly one worker does); the others wait until the queue is marked
ready. Each worker pops queued trials (Optuna claims a waiting trial in one transaction, so two
workers never run the same one) until the queue is empty or the budget is spent. A trial that
finds the queue already empty trains nothing and is marked failed with that reason.

Dead workers: in the default (private) storage a trial still ``RUNNING`` when a build starts
belongs to a killed run; it is failed and its candidate queued again. In a shared storage
Optuna's heartbeat does the same once the trial's worker has been silent for the grace period.

Fidelity: a trial trains its candidate for ``trial_epochs`` epochs with the build's distillation
objective and reports val top-1 after each epoch; the pruner (Hyperband or successive halving,
resource = epochs) stops trials that trail the others at the same epoch.
"""

from __future__ import annotations

import time
import warnings
from pathlib import Path
from typing import Any, Callable

from ..errors import ConfigError

READY_ATTR = "queue_ready"
QUEUE_WAIT_S = 600.0  # how long a worker waits for the creating worker to fill the queue
HEARTBEAT_S = 10
GRACE_S = 60


class QueueEmpty(Exception):
    """Raised inside a trial that found no queued candidate (another worker took the last one)."""


def open_study(url: str, name: str, pruner: str, trial_epochs: int, seed: int):
    """Create or load the study; returns ``(study, created)``.

    Raises:
        ConfigError: The storage URL cannot be opened.
    """
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    storage = _storage(url)
    kwargs = {"study_name": name, "storage": storage, "direction": "maximize",
              "pruner": _pruner(pruner, trial_epochs), "sampler": optuna.samplers.RandomSampler(seed=seed)}
    try:
        return optuna.create_study(load_if_exists=False, **kwargs), True
    except optuna.exceptions.DuplicatedStudyError:
        return optuna.create_study(load_if_exists=True, **kwargs), False


def _storage(url: str):
    """The RDB storage; retried briefly because two workers may create the tables at the same moment."""
    for attempt in range(5):
        try:
            return _open_storage(url)
        except ConfigError:
            if attempt == 4 or not url.startswith("sqlite"):
                raise
            time.sleep(1.0 + attempt)
    raise AssertionError("unreachable")


def _open_storage(url: str):
    import optuna

    try:
        # sqlite locks the whole file per write: wait for another worker's write instead of failing.
        engine = {"connect_args": {"timeout": 60}} if url.startswith("sqlite") else None
        with warnings.catch_warnings():  # heartbeats are marked experimental; we rely on them knowingly
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            storage = optuna.storages.RDBStorage(
                url, engine_kwargs=engine, heartbeat_interval=HEARTBEAT_S, grace_period=GRACE_S,
                heartbeat_stale_trial_callback=optuna.storages.RetryHeartbeatStaleTrialCallback(max_retry=2))
    except Exception as exc:  # noqa: BLE001 - SQLAlchemy raises many types for a bad URL
        raise ConfigError(f"student.search.storage {url!r} cannot be opened: {str(exc).splitlines()[0][:160]}",
                          fix="use a SQLAlchemy URL such as sqlite:////path/study.db") from None
    return storage


def _pruner(name: str, trial_epochs: int):
    import optuna

    if name == "hyperband":
        return optuna.pruners.HyperbandPruner(min_resource=1, max_resource=trial_epochs, reduction_factor=3)
    if name == "successive-halving":
        return optuna.pruners.SuccessiveHalvingPruner(min_resource=1, reduction_factor=2)
    return optuna.pruners.NopPruner()


def fill_queue(study, created: bool, ordered_keys: list[str], max_trials: int) -> None:
    """Enqueue the first ``max_trials`` candidates (creator only), else wait until the creator has."""
    if created:
        for key in ordered_keys[:max_trials]:
            study.enqueue_trial({"candidate": key}, user_attrs={"queued": True})
        study.set_user_attr(READY_ATTR, True)
        return
    deadline = time.monotonic() + QUEUE_WAIT_S
    while not study.user_attrs.get(READY_ATTR):
        if time.monotonic() > deadline:
            raise ConfigError(f"study {study.study_name!r} was created but its queue never filled",
                              fix="delete the study (or set student.search.study_name) and rebuild")
        time.sleep(0.5)


def requeue_dead(study) -> list[int]:
    """Fail the trials left ``RUNNING`` by a killed run (private storage only) and queue their candidates again."""
    from optuna.trial import TrialState

    dead = study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
    for trial in dead:
        study.tell(trial.number, state=TrialState.FAIL)
        study.set_user_attr(f"killed_trial_{trial.number}", "its run was killed; queued again")
        if "candidate" in trial.params:
            study.enqueue_trial({"candidate": trial.params["candidate"]},
                                user_attrs={"queued": True, "retry_of": trial.number})
    return [t.number for t in dead]


def run_queue(study, train: Callable[[Any, str], float], keys: list[str], deadline: float | None,
              report: Callable[[str], None]) -> None:
    """Pop queued trials until the queue is empty or ``deadline`` (``time.monotonic()``) passes.

    ``train(trial, key)`` trains one candidate and returns its val top-1; it may raise
    ``optuna.TrialPruned``. Afterwards, waits for other workers' running trials so every worker
    picks the winner from the same finished study.
    """
    from optuna.trial import TrialState

    def objective(trial) -> float:
        if not trial.user_attrs.get("queued"):
            trial.set_user_attr("skipped", "queue empty: another worker took the last candidate")
            raise QueueEmpty()
        key = trial.suggest_categorical("candidate", keys)
        started = time.perf_counter()
        trial.set_user_attr("trained", True)
        try:
            return train(trial, key)
        finally:
            trial.set_user_attr("train_s", round(time.perf_counter() - started, 3))

    while deadline is None or time.monotonic() < deadline:
        if not study.get_trials(deepcopy=False, states=(TrialState.WAITING,)):
            break
        timeout = None if deadline is None else max(deadline - time.monotonic(), 0.0)
        study.optimize(objective, n_trials=1, timeout=timeout, catch=(QueueEmpty,), gc_after_trial=True)
    while deadline is None or time.monotonic() < deadline:
        running = study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
        if not running:
            break
        report(f"waiting for {len(running)} trial(s) of other workers")
        time.sleep(2.0)


def trial_log(study) -> list[dict[str, Any]]:
    """Every trial of the study as JSON: number, state, candidate, val top-1 per epoch, value, time."""
    rows = []
    for trial in study.get_trials(deepcopy=False):
        rows.append({"number": trial.number, "state": trial.state.name.lower(),
                     "candidate": trial.params.get("candidate"),
                     "val_top1_by_epoch": {str(k): float(v) for k, v in sorted(trial.intermediate_values.items())},
                     "value": trial.value if trial.value is not None else None,
                     "trained": bool(trial.user_attrs.get("trained")),
                     "train_s": trial.user_attrs.get("train_s"),
                     "retry_of": trial.user_attrs.get("retry_of"),
                     "skipped": trial.user_attrs.get("skipped")})
    return rows


def default_url(work_dir: Path) -> str:
    """The private sqlite study file of a build."""
    return f"sqlite:///{(work_dir / 'search' / 'study.db').absolute()}"
