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
        model, histories, notes = _train_scratch(ctx)
        for i, history in enumerate(histories):
            state = state.with_curve(_member_label(i), history)
        path, rel = ctx.artifact_file("teacher.pt")
        buffer = io.BytesIO()
        torch.save(model.state_dict(), buffer)
        atomic.write_bytes(path, buffer.getvalue())
        description = (f"ScratchCNN(width={cfg.width}) trained {plural(cfg.epochs, 'epoch')} on {data.name}, "
                       f"batch {histories[0]['batch_size']}")
        if cfg.members > 1:
            description = (f"mean logits of {cfg.members} {description} (seeds {ctx.config.seed}.."
                           f"{ctx.config.seed + cfg.members - 1}); " + _ensemble_val(model, histories, data.val))
        params, macs = count_params_macs(model, data.input_shape)
        teacher = Artifact(name="teacher", role="teacher", format="torch", precision="fp32", path=rel, model=model,
                           input_shape=data.input_shape, params=params, macs=macs).with_note(description)
        for note in notes:
            teacher = teacher.with_note(note)
    else:
        teacher = _load_file_teacher(cfg, data)
    return state.add(teacher)


def rebuild(art: Artifact, ctx: BuildContext):
    """The teacher's model on resume: the scratch CNN from its saved weights, or the user's file again."""
    cfg = ctx.config.teacher
    if cfg.kind != "scratch-cnn":
        return _load_file_teacher(cfg, ctx.data).model
    model = _scratch_network(ctx)
    model.load_state_dict(torch.load(ctx.resolve(art.path), weights_only=True))
    return model.eval()


def _scratch_network(ctx, member: int | None = None):
    """One member's ScratchCNN (seeded ``seed + member``), or with ``member=None`` the whole teacher.

    With ``teacher.members`` > 1 the teacher is the mean of the members' logits (:class:`MeanLogits`).
    """
    from .scratch import MeanLogits, ScratchCNN

    cfg, data = ctx.config.teacher, ctx.data
    if member is None:
        members = [_scratch_network(ctx, i) for i in range(cfg.members)]
        return members[0] if cfg.members == 1 else MeanLogits(members)
    torch.manual_seed(ctx.config.seed + member)
    return ScratchCNN(data.input_shape[0], data.num_classes, cfg.width)


def _member_label(member: int) -> str:
    """``teacher`` for the first (or only) member, then ``teacher-2``, ``teacher-3``, ..."""
    return "teacher" if member == 0 else f"teacher-{member + 1}"


def _ensemble_val(model, histories: list[dict], val) -> str:
    """The ensemble's val top-1 beside its members' (what the averaging bought)."""
    from ..distill.trainer import evaluate_top1

    members = ", ".join(f"{100 * h['kept_val_top1']:.2f}%" for h in histories)
    return f"val top-1 {100 * evaluate_top1(model, val):.2f}% (members {members})"


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


def _train_scratch(ctx) -> tuple[torch.nn.Module, list[dict], list[str]]:
    """Train each member of the scratch teacher; the teacher, the members' histories and their chance notes."""
    cfg = ctx.config.teacher
    batch, rule = effective_batch_size(cfg.batch_size, len(ctx.data.train), TEACHER_MAX_BATCH)
    spec = TrainSpec(epochs=cfg.epochs, lr=cfg.lr, weight_decay=cfg.weight_decay, batch_size=batch, keep=cfg.keep)
    trained, histories, notes = [], [], []
    for member in range(cfg.members):
        label = _member_label(member)
        model = _scratch_network(ctx, member)
        # Each member has its own checkpoint: a kill during member 3 keeps members 1 and 2.
        history = fit(model, ctx.data.train, ctx.data.val, spec,
                      lambda logits, y, _i, _x: F.cross_entropy(logits, y), seed=ctx.config.seed + member,
                      label=label, checkpoint=ctx.work_dir / "checkpoints" / f"{label}.ckpt", reporter=ctx.reporter)
        history, chance = finish_history(history, rule, ctx.data.val.y, f"the {label}", "teacher.epochs, "
                                         "teacher.batch_size", ctx.reporter if ddp.is_main() else NullReporter())
        trained.append(model)
        histories.append(history)
        notes += [chance] if chance else []
    if cfg.members == 1:
        return trained[0], histories, notes
    from .scratch import MeanLogits

    return MeanLogits(trained).eval(), histories, notes


def _source_file(cfg) -> Path:
    """The user's file the teacher comes from (the checkpoint, for a factory + weights)."""
    if cfg.kind != "torch":
        return Path(cfg.path)
    return Path(cfg.weights) if cfg.weights is not None else cfg.factory_parts()[0]


# Teacher files and the data are hashed (inputs.*): a changed file or split reruns everything.
STAGE = Stage(name="teacher", run=run, rebuild=rebuild, all_ranks=True,
              reads=("config.seed", "config.data", "config.teacher", "inputs.data", "inputs.teacher_files"))
