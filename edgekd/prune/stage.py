"""Prune stage: shrink the distilled student, then recover its accuracy with KD from the teacher.

Runs after distill when ``prune.enabled``. Adds ``student-pruned`` (role student, parent
``student``); export, quantize and bench then use it, because it is the last torch student.
"""

from __future__ import annotations

import copy
import io

import torch

from .. import atomic
from ..artifact import Artifact, find
from ..distill.losses import hinton_kd_loss
from ..distill.sizing import DISTILL_MAX_BATCH, effective_batch_size, finish_history
from ..distill.trainer import TrainSpec, evaluate_top1, fit, predict_logits
from ..stage import BuildContext, Stage
from ..state import BuildState
from ..students import count_params_macs
from ..text import plural
from .prune import UNSTRUCTURED_NOTE, make_permanent, prune_structured, prune_to_latency, prune_unstructured, sparsity

NAME = "student-pruned"


def run(state: BuildState, ctx: BuildContext) -> BuildState:
    """Add the pruned, KD-recovered student."""
    student = state.artifact("student")
    teacher = find(state.artifacts, role="teacher")[0]
    pcfg, dcfg, data = ctx.config.prune, ctx.config.distill, ctx.data
    model = copy.deepcopy(student.model).eval()
    val_before = evaluate_top1(model, data.val)
    masks = None
    if pcfg.method == "structured" and pcfg.target_latency_ms is not None:
        ctx.reporter.note(f"prune: structured channel pruning until the predicted latency on {ctx.target.name} is at "
                          f"most {pcfg.target_latency_ms:g} ms ({pcfg.importance} importance)")
        info = prune_to_latency(model, data.input_shape, data.num_classes, _latency_of(ctx, shipped=False),
                                pcfg.target_latency_ms, importance=pcfg.importance, round_to=pcfg.round_to,
                                confirm=_latency_of(ctx))
    elif pcfg.method == "structured":
        ctx.reporter.note(f"prune: structured channel pruning to {pcfg.target_macs_ratio:.2f}x the MACs "
                          f"({pcfg.importance} importance)")
        info = prune_structured(model, data.input_shape, data.num_classes, pcfg.target_macs_ratio,
                                importance=pcfg.importance, round_to=pcfg.round_to)
    else:
        params0, macs0 = count_params_macs(model, data.input_shape)
        masks = prune_unstructured(model, 1.0 - pcfg.target_macs_ratio, data.num_classes)
        info = {"params_before": params0, "params_after": params0, "macs_before": macs0, "macs_after": macs0,
                "macs_ratio": 1.0}  # masks only: the dense cost does not change
    val_pruned = evaluate_top1(model, data.val)
    history = _recover(model, teacher.model, data, pcfg, dcfg, ctx) if pcfg.recovery_epochs else None
    chance = None
    if history is not None:
        history, chance = finish_history(history, _batch(dcfg, data)[1], data.val.y, "the pruned student",
                                         "prune.recovery_epochs", ctx.reporter)
    if masks is not None:
        make_permanent(masks)
        info["weight_sparsity"] = sparsity(model)
    model.eval()
    params, macs = count_params_macs(model, data.input_shape)
    metrics = {"prune": {
        "method": pcfg.method, "importance": pcfg.importance if pcfg.method == "structured" else "l1",
        "target_macs_ratio": pcfg.target_macs_ratio, "target_latency_ms": pcfg.target_latency_ms, **info,
        "params_after": params, "macs_after": macs,
        "val_top1_before_pruning": val_before, "val_top1_after_pruning": val_pruned,
        "val_top1_after_recovery": evaluate_top1(model, data.val),
        "recovery_epochs": pcfg.recovery_epochs,
        "recovery_curve": [{"epoch": e["epoch"], "loss": e["loss"], "val_top1": e["val_top1"]}
                           for e in (history or {}).get("epochs", [])],
    }}
    path, rel = ctx.artifact_file(f"{NAME}.pt")
    buffer = io.BytesIO()
    # Weights only: resume and users rebuild it with edgekd.prune.reshape.fit_to_state_dict (no pickled code).
    torch.save(model.state_dict(), buffer)
    atomic.write_bytes(path, buffer.getvalue())
    pruned = Artifact(name=NAME, role="student", format="torch", precision="fp32", path=rel, model=model,
                      input_shape=data.input_shape, params=params, macs=macs, parent=student.name,
                      metrics={**metrics, **({"architecture": student.metrics["architecture"]}
                                             if "architecture" in student.metrics else {})})
    p = metrics["prune"]
    if "latency_after_ms" in p:
        pruned = pruned.with_note(
            f"pruned to a latency target on {ctx.target.name}: predicted upper bound {p['latency_before_ms']:.3g} -> "
            f"{p['latency_after_ms']:.3g} ms (target {pcfg.target_latency_ms:g} ms) in {plural(p['steps'], 'step')}")
    if pcfg.method == "structured":
        pruned = pruned.with_note(
            f"structured pruning: MACs {p['macs_before']:,} -> {p['macs_after']:,} "
            f"({p['macs_after'] / p['macs_before']:.2f}x), "
            f"params {p['params_before']:,} -> {p['params_after']:,}; val top-1 {_pct(val_before)} -> "
            f"{_pct(val_pruned)} after pruning -> {_pct(p['val_top1_after_recovery'])} after "
            f"{plural(pcfg.recovery_epochs, 'KD recovery epoch')}")
    else:
        pruned = pruned.with_note(f"{UNSTRUCTURED_NOTE}; {info['weight_sparsity']:.0%} of weights are zero; val top-1 "
                                  f"{_pct(val_before)} -> {_pct(p['val_top1_after_recovery'])} after recovery")
    return state.with_curve(NAME, history).add(pruned.with_note(chance) if chance else pruned)


def rebuild(art: Artifact, ctx: BuildContext):
    """The pruned student on resume: the registry network resized to the saved channel counts."""
    from ..distill.stage import architecture_of
    from ..students import build_options, build_student
    from .reshape import fit_to_state_dict

    data, scfg = ctx.data, ctx.config.student
    name, options = architecture_of(art) or (scfg.name, build_options(scfg.name, scfg.options))
    model = build_student(name, data.num_classes, data.input_shape, **options)
    state = torch.load(ctx.resolve(art.path), weights_only=True)
    fit_to_state_dict(model, state)  # channel counts come from the pruned weights
    model.load_state_dict(state)
    return model.eval()


def _latency_of(ctx: BuildContext, shipped: bool = True):
    """A pruned model's predicted latency upper bound on the target, in ms: as shipped (exported and
    quantized: the gate's figure), or from its float graph at the shipped precision (``shipped=False``)."""
    import tempfile
    from pathlib import Path

    from ..predict.deployed import predicted_deployed, predicted_standin

    def latency(model) -> float:
        with tempfile.TemporaryDirectory(prefix=f"prune{atomic.TMP_MARK}", dir=ctx.work_dir) as folder:
            frozen = copy.deepcopy(model).eval()
            pred = (predicted_deployed(frozen, ctx, Path(folder), "pruned")[0] if shipped
                    else predicted_standin(frozen, ctx, Path(folder), "pruned"))
        return float(pred["high"])

    return latency


def _recover(model, teacher_model, data, pcfg, dcfg, ctx) -> dict:
    """KD fine-tuning of the pruned model (same Hinton loss as distillation, lower learning rate)."""
    if data.train.augment is None:
        cached = predict_logits(teacher_model, data.train.for_teacher())

        def loss(logits, labels, idx, _inputs):
            return hinton_kd_loss(logits, cached[idx], labels, dcfg.temperature, dcfg.alpha)
    else:
        def loss(logits, labels, idx, inputs):
            with torch.inference_mode():
                teacher_logits = teacher_model(data.train.teacher_batch(idx, inputs))
            return hinton_kd_loss(logits, teacher_logits.clone(), labels, dcfg.temperature, dcfg.alpha)
    spec = TrainSpec(epochs=pcfg.recovery_epochs, lr=pcfg.lr, weight_decay=dcfg.weight_decay,
                     batch_size=_batch(dcfg, data)[0], optimizer=dcfg.optimizer, warmup_epochs=0,
                     keep=dcfg.keep)
    # No checkpoint file: the pruned architecture is not the registry's, so a resume could not rebuild it.
    return fit(model, data.train, data.val, spec, loss, seed=ctx.config.seed + 7, label=NAME,
               reporter=ctx.reporter)


def _batch(dcfg, data) -> tuple[int, str]:
    """Recovery trains with the distillation batch size (``auto``: sized to the training split)."""
    return effective_batch_size(dcfg.batch_size, len(data.train), DISTILL_MAX_BATCH)


def _pct(value: float) -> str:
    return f"{100 * value:.2f}%"


# With prune.target_latency_ms the pruned student depends on the device predictor: the whole profile,
# the quantize settings and the export settings (format, opset) of the shipped model.
STAGE = Stage(name="prune", run=run, rebuild=rebuild, enabled=lambda config: config.prune.enabled,
              reads=("config.seed", "config.student", "config.prune", "config.distill", "config.quantize",
                     "config.export", "target", "inputs.data"))
