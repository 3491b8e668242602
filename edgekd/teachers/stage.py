"""Teacher stage: produce the teacher artifact (trained on the spot, or loaded from the user's file).

A loaded teacher is checked against the data (input shape/layout, class count) and scored on
the val split (it must beat chance: ``teacher.min_val_top1``) before any training starts. Its
artifact points at the user's own file (absolute path; nothing is copied into ``artifacts/``).
"""

from __future__ import annotations

import io
from pathlib import Path

import torch
import torch.nn.functional as F

from .. import atomic
from ..artifact import Artifact, Format
from ..distill import ddp
from ..distill.sizing import TEACHER_MAX_BATCH, effective_batch_size, finish_history
from ..distill.trainer import TrainSpec, fit
from ..progress import NullReporter
from ..stage import BuildContext, Stage
from ..state import BuildState
from ..students import count_params_macs
from ..text import plural


def run(state: BuildState, ctx: BuildContext) -> BuildState:
    """Add the teacher artifact (role ``teacher``, fp32): trained on the spot, or the user's loaded file."""
    cfg = ctx.config.teacher
    data = ctx.data
    if cfg.kind == "scratch-cnn":
        model, history, chance = _train_scratch(ctx)
        state = state.with_curve("teacher", history)
        path, rel = ctx.artifact_file("teacher.pt")
        buffer = io.BytesIO()
        torch.save(model.state_dict(), buffer)
        atomic.write_bytes(path, buffer.getvalue())
        description = (f"ScratchCNN(width={cfg.width}) trained {plural(cfg.epochs, 'epoch')} on {data.name}, "
                       f"batch {history['batch_size']}")
        params, macs = count_params_macs(model, data.input_shape)
        teacher = Artifact(name="teacher", role="teacher", format="torch", precision="fp32", path=rel, model=model,
                           input_shape=data.input_shape, params=params, macs=macs).with_note(description)
        teacher = teacher.with_note(chance) if chance else teacher
    else:
        teacher = _load_file_teacher(cfg, data)
    return state.add(teacher)


def rebuild(art: Artifact, ctx: BuildContext):
    """The teacher's model on resume: the scratch CNN from its saved weights, or the user's file again."""
    cfg = ctx.config.teacher
    if cfg.kind != "scratch-cnn":
        return _load_file_teacher(cfg, ctx.data).model
    from .scratch import ScratchCNN

    model = ScratchCNN(ctx.data.input_shape[0], ctx.data.num_classes, cfg.width)
    model.load_state_dict(torch.load(ctx.resolve(art.path), weights_only=True))
    return model.eval()


# The artifact format of each file kind: the runtime the teacher really runs in. Keras has no
# artifact format of its own; its in-memory wrapper is torch-callable.
_FORMATS: dict[str, Format] = {"torch": "torch", "torchscript": "torch", "onnx": "onnx", "tflite": "tflite",
                               "keras": "torch"}


def _load_file_teacher(cfg, data) -> Artifact:
    from .loaders import load_teacher, teacher_size

    # With teacher.features / teacher.input the teacher eats its own inputs, not the student's.
    shape = getattr(data, "teacher_input_shape", None) or data.input_shape
    # Without a val split (unit use) the outputs are judged on probes and the sanity check is skipped.
    model, description = load_teacher(cfg, shape, data.num_classes, val=getattr(data, "val", None),
                                      class_names=getattr(data, "class_names", None),
                                      task=getattr(data, "task", "image"))
    params, macs, size_note = teacher_size(model, shape)
    teacher = Artifact(name="teacher", role="teacher", format=_FORMATS[cfg.kind], precision="fp32",
                       path=str(_source_file(cfg).resolve()), model=model, input_shape=shape,
                       params=params, macs=macs).with_note(description)
    return teacher.with_note(size_note) if size_note else teacher


def _train_scratch(ctx):
    from .scratch import ScratchCNN

    cfg = ctx.config.teacher
    torch.manual_seed(ctx.config.seed)
    model = ScratchCNN(ctx.data.input_shape[0], ctx.data.num_classes, cfg.width)
    batch, rule = effective_batch_size(cfg.batch_size, len(ctx.data.train), TEACHER_MAX_BATCH)
    spec = TrainSpec(epochs=cfg.epochs, lr=cfg.lr, weight_decay=cfg.weight_decay, batch_size=batch, keep=cfg.keep)
    history = fit(model, ctx.data.train, ctx.data.val, spec, lambda logits, y, _i, _x: F.cross_entropy(logits, y),
                  seed=ctx.config.seed, label="teacher", checkpoint=ctx.work_dir / "checkpoints" / "teacher.ckpt",
                  reporter=ctx.reporter)
    history, chance = finish_history(history, rule, ctx.data.val.y, "the teacher", "teacher.epochs, "
                                     "teacher.batch_size", ctx.reporter if ddp.is_main() else NullReporter())
    return model, history, chance


def _source_file(cfg) -> Path:
    """The user's file the teacher comes from (the checkpoint, for a factory + weights)."""
    if cfg.kind != "torch":
        return Path(cfg.path)
    return Path(cfg.weights) if cfg.weights is not None else cfg.factory_parts()[0]


# Teacher files and the data are hashed (inputs.*): a changed file or split reruns everything.
STAGE = Stage(name="teacher", run=run, rebuild=rebuild, all_ranks=True,
              reads=("config.seed", "config.data", "config.teacher", "inputs.data", "inputs.teacher_files"))
