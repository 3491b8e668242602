"""Search stage (before ``distill``, only with ``student.search.enabled`` / ``edgekd build --fit``).

1. Every candidate of the space is screened untrained against the target's budgets
   (:mod:`edgekd.search.screen`); infeasible ones are recorded with the reason and never trained.
2. The feasible ones run short KD trials in an Optuna study (:mod:`edgekd.search.study`),
   largest first, alternating students, at most ``max_trials``, within ``budget_minutes``.
3. The winner is the finished trial with the best val top-1 (ties: the faster predicted
   latency). ``distill`` then trains it with the full ``distill`` budget.

When no candidate is feasible nothing trains in the search: the closest miss (smallest worst
budget overshoot) is distilled instead, so the build keeps the best it can and the gate fails
(exit 3) naming it.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from typing import Any

from ..artifact import find
from ..errors import ConfigError
from ..stage import BuildContext, Stage
from ..state import BuildState
from .resolution import chosen_context, context_for
from .screen import closest_miss, screen
from .space import Candidate, candidates, space_digest


def run(state: BuildState, ctx: BuildContext) -> BuildState:
    """The state with the search record (``state.search``): candidates, trials and the chosen student."""
    if int(os.environ.get("WORLD_SIZE", "1") or 1) > 1:
        raise ConfigError("student.search does not run under torchrun",
                          fix="search in one process (edgekd build --fit), then distil the winner with torchrun")
    started = time.perf_counter()
    scfg, student_cfg = ctx.config.student.search, ctx.config.student
    teacher = find(state.artifacts, role="teacher")[0]
    space = candidates(ctx.data.task, scfg.space, student_cfg.name, dict(student_cfg.options))
    folder = ctx.work_dir / "search"
    records = []
    for i, cand in enumerate(space):
        ctx.reporter.stage("search", f"screen {i + 1}/{len(space)}: {cand.key}")
        # MACs unknown: no upper reference. A resized candidate is screened on its own input size.
        records.append(screen(cand, context_for(ctx, cand.resolution), folder / "graphs", teacher.macs or 0))
    feasible = [r for r in records if r["feasible"]]
    ctx.reporter.note(f"search: {len(feasible)} of {len(records)} candidates meet the budgets untrained")
    study_info: dict[str, Any] = {}
    trials: list[dict[str, Any]] = []
    if feasible:
        study_info, trials = _run_study(feasible, teacher, ctx, space)
    chosen, why = _choose(records, trials)
    _attach_trials(records, trials)
    record = {"enabled": True, "objective": "val top-1 of short KD runs, among candidates that meet every budget",
              "space_size": len(records), "feasible": len(feasible), "trials_run": sum(t["trained"] for t in trials),
              "study": study_info, "trial_epochs": scfg.trial_epochs, "pruner": scfg.pruner,
              "candidates": records, "trials": trials, "chosen": chosen, "chosen_reason": why,
              "closest_miss": _miss_summary(closest_miss(records)) if not feasible else None,
              "seconds": round(time.perf_counter() - started, 2)}
    ctx.reporter.note(f"search: chose {chosen['key']} ({why})")
    return state.evolve(search=record)


def _run_study(feasible: list[dict[str, Any]], teacher, ctx: BuildContext,
               space: list[Candidate]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    from .study import default_url, fill_queue, open_study, requeue_dead, run_queue, trial_log
    from .trial import make_trainer

    scfg = ctx.config.student.search
    url = scfg.storage or default_url(ctx.work_dir)
    (ctx.work_dir / "search").mkdir(parents=True, exist_ok=True)
    name = scfg.study_name or _study_name(ctx, space)
    study, created = open_study(url, name, scfg.pruner, scfg.trial_epochs, ctx.config.seed)
    requeued = requeue_dead(study) if scfg.storage is None else []
    fill_queue(study, created, _order(feasible), scfg.max_trials)
    deadline = None if scfg.budget_minutes is None else time.monotonic() + 60 * scfg.budget_minutes
    by_key = {r["key"]: Candidate.from_dict(r) for r in feasible}
    run_queue(study, make_trainer(by_key, teacher, ctx), list(by_key), deadline,
              lambda text: ctx.reporter.stage("search", text))
    info = {"name": name, "storage": "work folder (sqlite)" if scfg.storage is None else "student.search.storage",
            "created_here": created, "requeued_after_kill": requeued}
    return info, trial_log(study)


def _order(feasible: list[dict[str, Any]]) -> list[str]:
    """Queue order: largest MACs first within each student, students alternating (diverse early trials)."""
    per_student: dict[str, list[dict[str, Any]]] = {}
    for rec in sorted(feasible, key=lambda r: (-r["macs"], r["key"])):
        per_student.setdefault(rec["student"], []).append(rec)
    order, lists = [], [per_student[s] for s in sorted(per_student)]
    while any(lists):
        for items in lists:
            if items:
                order.append(items.pop(0)["key"])
    return order


def _choose(records: list[dict[str, Any]], trials: list[dict[str, Any]]) -> tuple[dict[str, Any], str]:
    by_key = {r["key"]: r for r in records}
    done = [t for t in trials if t["state"] == "complete" and t["candidate"] in by_key]
    if done:
        best = max(done, key=lambda t: (t["value"], -by_key[t["candidate"]]["predicted_latency_ms"]["high"]))
        rec = by_key[best["candidate"]]
        return _spec(rec), (f"best val top-1 of the finished trials ({100 * best['value']:.2f}% after "
                            f"{len(best['val_top1_by_epoch'])} epochs) among {sum(r['feasible'] for r in records)} "
                            f"candidates that meet every budget")
    feasible = [r for r in records if r["feasible"]]
    if feasible:  # budget ran out before any trial finished: the largest feasible candidate
        rec = max(feasible, key=lambda r: r["macs"])
        return _spec(rec), "no trial finished within the budget: the largest candidate that meets every budget"
    miss = closest_miss(records) or records[0]
    return _spec(miss), f"no candidate meets every budget; closest miss: {miss['key']} ({miss['reason']})"


def _attach_trials(records: list[dict[str, Any]], trials: list[dict[str, Any]]) -> None:
    """Each candidate record gets the numbers of its trials (empty for the ones never trained)."""
    for rec in records:
        mine = [t for t in trials if t["candidate"] == rec["key"] and t["trained"]]
        rec["trials"] = [t["number"] for t in mine]
        last = mine[-1] if mine else None  # a retried trial's last attempt is the one that counts
        rec["trial_state"] = last["state"] if last else ("not trained" if not rec["feasible"] else "not run")
        rec["val_top1_by_epoch"] = dict(last["val_top1_by_epoch"]) if last else {}
        rec["train_s"] = last["train_s"] if last else None


def _spec(rec: dict[str, Any]) -> dict[str, Any]:
    return {"key": rec["key"], **Candidate.from_dict(rec).to_dict()}


def _miss_summary(rec: dict[str, Any] | None) -> dict[str, Any] | None:
    return None if rec is None else {"key": rec["key"], "reason": rec["reason"], "overshoot": rec["overshoot"]}


def _study_name(ctx: BuildContext, space: list[Candidate]) -> str:
    """Same config, data and target give the same name (workers of one study agree on it)."""
    from ..resume import data_digest

    scfg = ctx.config.student.search
    material = {"space": space_digest(space), "trial_epochs": scfg.trial_epochs, "pruner": scfg.pruner,
                "max_trials": scfg.max_trials, "distill": ctx.config.distill.model_dump(mode="json"),
                "seed": ctx.config.seed, "target": ctx.target.name, "data": data_digest(ctx.data)}
    digest = hashlib.sha256(json.dumps(material, sort_keys=True).encode()).hexdigest()[:16]
    return f"edgekd-search-{digest}"


def chosen_architecture(state: BuildState) -> tuple[str, dict[str, Any]] | None:
    """``(student, options)`` the search chose, or None when no search ran."""
    chosen = (state.search or {}).get("chosen")
    return (chosen["student"], dict(chosen["options"])) if chosen else None


STAGE = Stage(name="search", run=run, enabled=lambda config: config.student.search.enabled, all_ranks=True,
              reads=("config.seed", "config.student", "config.distill", "config.quantize", "config.export",
                     "target", "inputs.data", "inputs.teacher_files"),
              adapts=chosen_context)
