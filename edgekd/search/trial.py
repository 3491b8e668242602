"""One low-fidelity trial: a short KD run of one candidate, reporting val top-1 after every epoch."""

from __future__ import annotations

from typing import Any, Callable

from ..stage import BuildContext
from .resolution import context_for
from .space import Candidate


def make_trainer(by_key: dict[str, Candidate], teacher, ctx: BuildContext) -> Callable[[Any, str], float]:
    """``train(trial, key) -> val top-1 of the kept weights`` (``distill.keep``), for ``study.run_queue``.

    Each trial uses the build's own distillation objective and optimiser settings for
    ``student.search.trial_epochs`` epochs (no checkpoint: a killed trial is rerun whole).
    """

    def train(trial, key: str) -> float:
        import optuna
        import torch

        from ..distill import ddp
        from ..distill.methods import build_objective
        from ..distill.sizing import DISTILL_MAX_BATCH, effective_batch_size
        from ..distill.trainer import TrainSpec, fit
        from ..students import build_student

        cand = by_key[key]
        data = context_for(ctx, cand.resolution).data  # the student's inputs at its size, the teacher's as they were
        dcfg, scfg = ctx.config.distill, ctx.config.student.search
        device = ddp.select_device(dcfg.device)
        torch.manual_seed(ctx.config.seed + 1)  # the same initialisation the full distillation uses
        model = build_student(cand.student, data.num_classes, data.input_shape, **cand.options)
        objective = build_objective(teacher.model, model, data.train, dcfg, data.input_shape, device,
                                    teacher_name=teacher.name, teacher_input_shape=teacher.input_shape)
        batch, _rule = effective_batch_size(dcfg.batch_size, len(data.train), DISTILL_MAX_BATCH)  # as distill
        spec = TrainSpec(epochs=scfg.trial_epochs, lr=dcfg.lr, weight_decay=dcfg.weight_decay,
                         batch_size=batch, optimizer=dcfg.optimizer,
                         warmup_epochs=min(dcfg.warmup_epochs, scfg.trial_epochs - 1), keep=dcfg.keep)

        def on_epoch(epoch: int, val_top1: float) -> None:
            trial.report(val_top1, epoch)
            if trial.should_prune():
                raise optuna.TrialPruned(f"val top-1 {val_top1:.4f} trails the other trials at epoch {epoch}")

        try:
            history = fit(model, data.train, data.val, spec, objective.loss, seed=ctx.config.seed,
                          label=f"trial {trial.number} {key}", reporter=ctx.reporter, extra=objective.extra,
                          device=device, on_epoch=on_epoch)
        finally:
            objective.close()
            teacher.model.cpu()
        return float(history["kept_val_top1"])

    return train
