"""Teacher stage: produce the teacher artifact (trained on the spot, or loaded)."""

from __future__ import annotations

import io

import torch
import torch.nn.functional as F

from .. import atomic
from ..artifact import Artifact
from ..distill.trainer import TrainSpec, fit
from ..students import count_params_macs


def run(artifacts: list[Artifact], ctx) -> list[Artifact]:
    """Add the teacher artifact (role ``teacher``, torch, fp32)."""
    cfg = ctx.config.teacher
    data = ctx.data
    if cfg.kind == "scratch-cnn":
        model = _train_scratch(ctx)
        path, rel = ctx.artifact_file("teacher.pt")
        buffer = io.BytesIO()
        torch.save(model.state_dict(), buffer)
        atomic.write_bytes(path, buffer.getvalue())
        description = f"ScratchCNN(width={cfg.width}) trained {cfg.epochs} epochs on {data.name}"
    else:  # pragma: no cover - the config schema admits no other kind yet
        raise AssertionError(cfg.kind)
    params, macs = count_params_macs(model, data.input_shape)
    teacher = Artifact(name="teacher", role="teacher", format="torch", precision="fp32", path=rel, model=model,
                       input_shape=data.input_shape, params=params, macs=macs)
    return [*artifacts, teacher.with_note(description)]


def _train_scratch(ctx):
    from .scratch import ScratchCNN

    cfg = ctx.config.teacher
    torch.manual_seed(ctx.config.seed)
    model = ScratchCNN(ctx.data.input_shape[0], ctx.data.num_classes, cfg.width)
    spec = TrainSpec(epochs=cfg.epochs, lr=cfg.lr, weight_decay=cfg.weight_decay, batch_size=cfg.batch_size)
    history = fit(model, ctx.data.train, ctx.data.val, spec, lambda logits, y, _i, _x: F.cross_entropy(logits, y),
                  seed=ctx.config.seed, label="teacher", checkpoint=ctx.work_dir / "checkpoints" / "teacher.ckpt",
                  reporter=ctx.reporter)
    ctx.extras["teacher_history"] = history
    return model
