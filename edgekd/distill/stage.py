"""Distill stage: train the student from the teacher (and, optionally, a hard-label baseline)."""

from __future__ import annotations

import io

import torch
import torch.nn.functional as F

from .. import atomic
from ..artifact import Artifact, find
from ..students import build_student, count_params_macs
from .losses import hinton_kd_loss
from .trainer import TrainSpec, fit, predict_logits


def run(artifacts: list[Artifact], ctx) -> list[Artifact]:
    """Add the distilled student (and the baseline when ``distill.train_baseline``)."""
    teacher = find(artifacts, role="teacher")[0]
    cfg = ctx.config.distill
    data = ctx.data
    kd_loss = _kd_loss(teacher.model, data.train, cfg)

    student = _train(ctx, "student", kd_loss, teacher.name)
    new = [student.with_note(f"Hinton KD from {teacher.name}: T={cfg.temperature}, alpha={cfg.alpha}, "
                             f"{cfg.epochs} epochs")]
    if cfg.train_baseline:
        baseline = _train(ctx, "baseline", lambda logits, y, _i, _x: F.cross_entropy(logits, y), None)
        new.append(baseline.evolve(role="baseline").with_note("same student, hard labels only, same budget"))
    return [*artifacts, *new]


def _kd_loss(teacher_model, train, cfg):
    """Hinton KD loss; with a soft-label cache when the inputs are not augmented.

    Without augmentation the teacher's logits for a sample never change, so they are
    computed once instead of running the teacher at every step.
    """
    if train.augment is None:
        cached = predict_logits(teacher_model, train.x)

        def loss(logits, labels, idx, _inputs):
            return hinton_kd_loss(logits, cached[idx], labels, cfg.temperature, cfg.alpha)
    else:
        def loss(logits, labels, _idx, inputs):
            with torch.inference_mode():
                teacher_logits = teacher_model(inputs)
            return hinton_kd_loss(logits, teacher_logits.clone(), labels, cfg.temperature, cfg.alpha)
    return loss


def _train(ctx, name: str, loss_fn, parent: str | None) -> Artifact:
    cfg = ctx.config.distill
    data = ctx.data
    torch.manual_seed(ctx.config.seed + 1)  # same initial weights for student and baseline
    model = build_student(ctx.config.student.name, data.num_classes, data.input_shape, **ctx.config.student.options)
    spec = TrainSpec(epochs=cfg.epochs, lr=cfg.lr, weight_decay=cfg.weight_decay, batch_size=cfg.batch_size,
                     optimizer=cfg.optimizer, warmup_epochs=cfg.warmup_epochs)
    history = fit(model, data.train, data.val, spec, loss_fn, seed=ctx.config.seed, label=name,
                  checkpoint=ctx.work_dir / "checkpoints" / f"{name}.ckpt", reporter=ctx.reporter)
    ctx.extras[f"{name}_history"] = history
    path, rel = ctx.artifact_file(f"{name}.pt")
    buffer = io.BytesIO()
    torch.save(model.state_dict(), buffer)
    atomic.write_bytes(path, buffer.getvalue())
    params, macs = count_params_macs(model, data.input_shape)
    return Artifact(name=name, role="student", format="torch", precision="fp32", path=rel, model=model,
                    input_shape=data.input_shape, params=params, macs=macs, parent=parent)
