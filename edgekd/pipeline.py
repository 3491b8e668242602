"""The stage list, and the loop that runs, caches and restores every stage the same way.

Order: teacher → search (off by default) → distill → prune → calibrate → export → quantize → measure → predict →
judge → deploy → report. Quantization follows export because ONNX Runtime's static INT8 works on the
exported ONNX graph; calibration (temperature scaling) precedes export so every format ships
the calibrated logits. Each entry names a module's ``STAGE`` declaration
(:class:`edgekd.stage.Stage`); modules are imported only when a build runs, so
``import edgekd`` stays light. Adding a stage is one new module plus one line here.
"""

from __future__ import annotations

import importlib
import os
import time

from .stage import BuildContext, Stage, checking_reads, undeclared
from .state import BuildState

STAGES: tuple[str, ...] = (
    "edgekd.teachers.stage:STAGE",
    "edgekd.search.stage:STAGE",
    "edgekd.distill.stage:STAGE",
    "edgekd.prune.stage:STAGE",
    "edgekd.calibrate.stage:STAGE",
    "edgekd.export.stage:STAGE",
    "edgekd.quantize.stage:STAGE",
    "edgekd.measure.stage:STAGE",
    "edgekd.predict.stage:STAGE",
    "edgekd.report.gate:STAGE",
    "edgekd.deploy.stage:STAGE",
    "edgekd.report.build_report:STAGE",
)


def load_stages() -> tuple[Stage, ...]:
    """Import every declared stage, in order."""
    stages = []
    for dotted in STAGES:
        module_name, _, attr = dotted.partition(":")
        stages.append(getattr(importlib.import_module(module_name), attr))
    return tuple(stages)


def run_pipeline(ctx: BuildContext) -> BuildState:
    """Run every enabled stage and return the final state.

    Each finished stage is recorded in ``work_dir`` (see :mod:`edgekd.resume`); on
    ``--resume`` a stage whose declared inputs are unchanged is restored, not rerun. Under
    torchrun, ranks other than 0 return after the last stage that runs on every rank
    (the returned state has no report).
    """
    from .distill import ddp
    from .resume import StageCache

    stages = load_stages()
    cache = StageCache(ctx, stages)
    state = BuildState()
    for stage in stages:
        if not stage.enabled(ctx.config):
            if stage.off_note:
                ctx.reporter.note(stage.off_note)
            continue
        if not stage.all_ranks and not ddp.is_main():
            return state  # worker ranks have done their share; rank 0 exports, measures, reports
        restored = cache.begin(stage)
        if restored is not None:
            ctx.reporter.stage(stage.name, "(resumed: reused from .edgekd-work)")
            state = restored.evolve(resumed_s=restored.elapsed_s)
        else:
            if cache.carried_s:  # a killed run's checkpointed progress on this stage is reused: count its time
                state = state.evolve(elapsed_s=state.elapsed_s + cache.carried_s,
                                     resumed_s=state.resumed_s + cache.carried_s)
            ctx.reporter.stage(stage.name)
            state = _run_one(stage, state, ctx)
            cache.finish(stage, state)
        if stage.adapts is not None:
            ctx = cache.ctx = stage.adapts(state, ctx)
    return state


def run_stages(names: tuple[str, ...], ctx: BuildContext, state: BuildState | None = None) -> BuildState:
    """Run only the named stages, in pipeline order, without the stage cache (benchmarks use it).

    Raises:
        KeyError: a name that is not a stage.
    """
    stages = {s.name: s for s in load_stages()}
    unknown = set(names) - set(stages)
    if unknown:
        raise KeyError(f"no stage named {', '.join(sorted(unknown))}; stages: {', '.join(stages)}")
    state = state or BuildState()
    for stage in stages.values():
        if stage.name in names:
            state = _run_one(stage, state, ctx)
            if stage.adapts is not None:
                ctx = stage.adapts(state, ctx)
    return state


def _run_one(stage: Stage, state: BuildState, ctx: BuildContext) -> BuildState:
    """Run one stage, timing it; with read checking on, fail on a read it did not declare."""
    started = time.perf_counter()
    log: set[str] = set()
    new = stage.run(state, ctx.recording(log) if checking_reads() else ctx)
    missing = undeclared(stage, log)
    if missing:
        raise AssertionError(f"stage {stage.name!r} read {', '.join(missing)} without declaring it in "
                             f"Stage.reads (its resume key would miss them)")
    return new.evolve(elapsed_s=new.elapsed_s + time.perf_counter() - started)


def default_threads(ctx_threads: int | None, target) -> int:
    """Threads for host measurements: never more than this machine has."""
    wanted = ctx_threads or target.runtime.threads
    return max(1, min(wanted, os.cpu_count() or 1))
