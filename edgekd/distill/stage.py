"""Distill stage: train the student from the teacher (and, optionally, a hard-label baseline).

``distill.method`` picks the objective (:mod:`edgekd.distill.methods`). Under ``torchrun``
every rank trains (DistributedDataParallel) but only rank 0 writes files; the pipeline stops
the other ranks after this stage, since export, quantization and measurement are
single-process work.
"""

from __future__ import annotations

import io

import torch
import torch.nn.functional as F

from .. import atomic
from ..artifact import Artifact, find
from ..progress import NullReporter
from ..search.stage import chosen_architecture
from ..stage import BuildContext, Stage
from ..state import BuildState
from ..students import build_options, build_student, count_params_macs
from ..text import plural
from . import ddp
from .methods import build_objective, mixing_of
from .sizing import DISTILL_MAX_BATCH, effective_batch_size, finish_history
from .trainer import TrainSpec, fit


def run(state: BuildState, ctx: BuildContext) -> BuildState:
    """Add the distilled student (and the baseline when ``distill.train_baseline``)."""
    teacher = find(state.artifacts, role="teacher")[0]
    cfg = ctx.config.distill
    device = ddp.select_device(cfg.device)
    arch = chosen_architecture(state)
    student_model = _new_student(ctx, arch)
    objective = build_objective(teacher.model, student_model, ctx.data.train, cfg, ctx.data.input_shape, device,
                                teacher_name=teacher.name, teacher_input_shape=teacher.input_shape)
    try:
        student, history = _train(ctx, "student", student_model, objective.loss, teacher.name, device,
                                  objective.extra)
    finally:
        objective.close()
        teacher.model.cpu()  # later stages run the teacher on the host
    state = state.with_curve("student", history).evolve(distill_method={
        "method": cfg.method, "description": objective.description, "soft_label_cache": objective.cached})
    if arch is not None:  # the searched student: resume rebuilds it from this record, not student.name
        student = student.with_metrics(architecture={"student": arch[0], "options": arch[1]})
    student = student.with_note(f"{cfg.method} from {teacher.name}: {objective.description}, "
                                f"{plural(cfg.epochs, 'epoch')}, batch {history['batch_size']}")
    size_note = student_vs_teacher(student, teacher)
    if size_note:
        ctx.reporter.note(size_note)
        student = student.with_note(size_note)
    state = state.add(student)
    if cfg.train_baseline:
        baseline, history = train_baseline(ctx, device, arch)
        state = state.with_curve("baseline", history).add(baseline)
    return state


def rebuild(art: Artifact, ctx: BuildContext):
    """A trained student or baseline on resume: the registry network with its saved weights."""
    model = _new_student(ctx, architecture_of(art))
    model.load_state_dict(torch.load(ctx.resolve(art.path), weights_only=True))
    return model.eval()


def train_baseline(ctx, device, arch: tuple[str, dict] | None = None) -> tuple[Artifact, dict]:
    """The hard-label baseline: the same student, initial weights, recipe and budget, no teacher.

    Its loss is cross-entropy on the labels, which with mixup/CutMix are the mixed label
    probabilities (``F.cross_entropy`` takes them as they are). ``arch``: the searched student, if any.
    """
    baseline, history = _train(ctx, "baseline", _new_student(ctx, arch),
                               lambda logits, y, _i, _x: F.cross_entropy(logits, y), None, device)
    if arch is not None:  # resume rebuilds it from this record, not student.name
        baseline = baseline.with_metrics(architecture={"student": arch[0], "options": arch[1]})
    return baseline.evolve(role="baseline").with_note("same student, hard labels only, same budget"
                                                      + _recipe_note(ctx.config.distill)), history


def _recipe_note(cfg) -> str:
    parts = [f"mixup {cfg.mixup}" if cfg.mixup else "", f"cutmix {cfg.cutmix}" if cfg.cutmix else "",
             f"EMA {cfg.ema}" if cfg.ema else ""]
    text = ", ".join(p for p in parts if p)
    return f" and recipe ({text})" if text else ""


def architecture_of(art: Artifact) -> tuple[str, dict] | None:
    """``(student, options)`` recorded on a searched student's artifact, else None (the config's student)."""
    arch = art.metrics.get("architecture")
    return (arch["student"], dict(arch["options"])) if arch else None


def _new_student(ctx, arch: tuple[str, dict] | None = None):
    data = ctx.data
    torch.manual_seed(ctx.config.seed + 1)  # same initial weights for student and baseline
    # A searched architecture is built exactly as found; the configured student gets its build defaults.
    name, options = arch or (ctx.config.student.name, build_options(ctx.config.student.name,
                                                                     ctx.config.student.options))
    return build_student(name, data.num_classes, data.input_shape, **options)


def student_vs_teacher(student: Artifact, teacher: Artifact) -> str | None:
    """A warning when the student costs at least as many MACs as its teacher (``None`` otherwise or when unknown)."""
    if student.macs is None or not teacher.macs or student.macs < teacher.macs:
        return None
    return (f"the student ({student.macs:,} MACs) is not smaller than its teacher ({teacher.macs:,} MACs, "
            f"{student.macs / teacher.macs:.2f}x): pick a smaller student (student.options, e.g. width) or "
            "budget it with max_student_macs_ratio")


def _train(ctx, name: str, model, loss_fn, parent: str | None, device, extra=None) -> tuple[Artifact, dict]:
    cfg = ctx.config.distill
    data = ctx.data
    batch, rule = effective_batch_size(cfg.batch_size, len(data.train), DISTILL_MAX_BATCH)
    spec = TrainSpec(epochs=cfg.epochs, lr=cfg.lr, weight_decay=cfg.weight_decay, batch_size=batch,
                     optimizer=cfg.optimizer, warmup_epochs=cfg.warmup_epochs, patience=cfg.patience,
                     mixing=mixing_of(cfg, data.num_classes), ema_decay=cfg.ema, keep=cfg.keep)
    history = fit(model, data.train, data.val, spec, loss_fn, seed=ctx.config.seed, label=name,
                  checkpoint=ctx.work_dir / "checkpoints" / f"{name}.ckpt", reporter=ctx.reporter,
                  extra=extra, device=device)
    history, chance = finish_history(history, rule, data.val.y, f"the {name}", "distill.epochs, distill.batch_size",
                                     ctx.reporter if ddp.is_main() else NullReporter())
    model.cpu()  # export and measurement run on the host
    path, rel = ctx.artifact_file(f"{name}.pt")
    if ddp.is_main():
        buffer = io.BytesIO()
        torch.save(model.state_dict(), buffer)
        atomic.write_bytes(path, buffer.getvalue())
    params, macs = count_params_macs(model, data.input_shape)
    art = Artifact(name=name, role="student", format="torch", precision="fp32", path=rel, model=model,
                   input_shape=data.input_shape, params=params, macs=macs, parent=parent)
    return (art.with_note(chance) if chance else art), history


STAGE = Stage(name="distill", run=run, rebuild=rebuild, all_ranks=True,
              reads=("config.seed", "config.student", "config.distill"))
