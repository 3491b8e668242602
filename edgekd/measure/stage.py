"""Measure stage: every artifact on the test split and on this host.

For each model: top-1 and agreement with the teacher, probability calibration (ECE, NLL,
Brier), parity against the torch model it was exported from, host latency in its real
runtime and the process's peak RSS meanwhile, and each INT8 model timed side by side with
its FP32 twin. The model the gate will judge (the deployable one, or the twin its accuracy
comes from) also gets its confusion matrix on the test split, and with a hard-label baseline
the KD student is compared with it sample by sample. Predictions for the device are
the predict stage's work.
"""

from __future__ import annotations

import numpy as np

from .. import atomic
from ..artifact import Artifact, accuracy_source, choose_deployable, torch_ancestor
from ..stage import BuildContext, Stage
from ..state import BuildState
from . import kd_vs_baseline
from .host import measure_host_latency, open_artifact_runner

# FP32 exports must match the torch student this closely (max |Δlogit|), else the build fails.
FP32_PARITY_ATOL = 1e-3
# Beyond this many classes the matrix (classes² counts) would dwarf the rest of report.json.
CONFUSION_MAX_CLASSES = 100


def run(state: BuildState, ctx: BuildContext) -> BuildState:
    """The state with accuracy, calibration, parity, host latency and RSS filled in for every artifact."""
    from .calibration import agreement, calibration_metrics, reliability_bins

    x_test, y_test = ctx.data.test.numpy()
    # A teacher with inputs of its own (teacher.features, teacher.input) eats them, row for row; 8-bit
    # pixels stay uint8 here (the teacher's runner scales them chunk by chunk).
    x_teacher = ctx.data.test.for_teacher().numpy()
    logits_of: dict[str, np.ndarray] = {}
    measured: list[Artifact] = []
    for art in state.artifacts:
        ctx.reporter.stage("measure", art.name)
        runner = open_artifact_runner(art, ctx)
        x_art = x_teacher if art.role == "teacher" else x_test
        metrics: dict = {"size_bytes": _size(art, ctx)}
        if runner is None:  # Core ML on Linux: no prediction possible
            metrics.update(_coreml_checks(art, ctx))
        else:
            logits = runner.predict(x_art)
            logits_of[art.name] = logits
            teacher_logits = logits_of.get("teacher", logits)
            cal = calibration_metrics(logits, y_test)
            metrics["accuracy"] = {"top1": cal["top1"], "agreement_with_teacher": agreement(logits, teacher_logits)}
            metrics["calibration"] = {**{k: cal[k] for k in ("ece", "mce", "nll", "brier")},
                                      "reliability": reliability_bins(logits, y_test)}
            parity = _parity(art, logits, logits_of, x_test, state.artifacts, ctx)
            if parity:
                metrics["parity"] = parity
        host, rss = measure_host_latency(runner, x_art[:1], ctx)
        metrics["latency_ms"] = {"host": host}
        metrics["memory"] = {"host_peak_rss_bytes": rss}
        measured.append(art.with_metrics(**metrics))
    measured = _with_confusion_matrix(measured, logits_of, y_test, ctx)
    versus = kd_vs_baseline.compare(logits_of, y_test, state.training_curves)
    if versus is not None:
        ctx.reporter.note(kd_vs_baseline.verdict(versus))
    return state.evolve(artifacts=_flag_slow_int8(measured, ctx), parity_matrix=_parity_matrix(logits_of),
                        kd_vs_baseline=versus)


def _with_confusion_matrix(artifacts: list[Artifact], logits_of: dict[str, np.ndarray], labels: np.ndarray,
                           ctx: BuildContext) -> list[Artifact]:
    """Attach the test-split confusion matrix to the model whose accuracy the gate judges."""
    chosen = choose_deployable(artifacts, ctx.target)
    if chosen is None:
        return artifacts
    source = accuracy_source(chosen, artifacts)
    if source.name not in logits_of:
        return artifacts
    matrix = confusion_matrix(logits_of[source.name], labels, list(ctx.data.class_names))
    return [a.with_metrics(confusion_matrix=matrix) if a.name == source.name else a for a in artifacts]


def confusion_matrix(logits: np.ndarray, labels: np.ndarray, class_names: list[str]) -> dict:
    """Counts of (true class, predicted class) on the test split; rows are true classes.

    Returns:
        ``{"split": "test", "labels": class names, "counts": [[...]]}``, or without ``counts``
        (and with a ``note``) above :data:`CONFUSION_MAX_CLASSES` classes.
    """
    k = len(class_names)
    if k > CONFUSION_MAX_CLASSES:
        return {"split": "test", "labels": [], "note": f"{k} classes: matrix not stored (limit "
                                                       f"{CONFUSION_MAX_CLASSES})"}
    predicted = np.asarray(logits).argmax(axis=1)
    counts = np.zeros((k, k), dtype=np.int64)
    np.add.at(counts, (np.asarray(labels, dtype=np.int64), predicted), 1)
    return {"split": "test", "labels": list(class_names), "counts": counts.tolist()}


def _parity_matrix(logits_of: dict[str, np.ndarray]) -> dict:
    """Top-1 agreement and max |Δlogit| between every pair of runnable models (for report.html)."""
    from .parity import compare_logits

    names = list(logits_of)
    agree = [[compare_logits(logits_of[a], logits_of[b])["top1_agreement"] for b in names] for a in names]
    diff = [[compare_logits(logits_of[a], logits_of[b])["max_abs_diff"] for b in names] for a in names]
    return {"models": names, "top1_agreement": agree, "max_abs_diff": diff}


def _size(art: Artifact, ctx: BuildContext) -> int:
    return atomic.size_of(ctx.resolve(art.path)) if art.path else 0


def _parity(art: Artifact, logits: np.ndarray, logits_of: dict, x_test: np.ndarray, artifacts,
            ctx: BuildContext) -> dict | None:
    """Compare an exported artifact with the torch model it came from."""
    from .parity import compare_logits, first_diverging_node

    reference = torch_ancestor(art, artifacts)  # the pruned student when the prune stage ran
    if art.format == "torch" or reference == art.name or reference not in logits_of:  # a file teacher has no twin
        return None
    parity = {"reference": reference, **compare_logits(logits_of[reference], logits)}
    if art.precision == "fp32":
        parity["tolerance"] = FP32_PARITY_ATOL
        parity["passed"] = parity["max_abs_diff"] <= FP32_PARITY_ATOL
        if not parity["passed"] and art.format == "onnx":
            student = next(a for a in artifacts if a.name == reference)
            parity["first_diverging_node"] = first_diverging_node(
                ctx.resolve(art.path), student.model, x_test[:1], FP32_PARITY_ATOL)
    return parity


def _coreml_checks(art: Artifact, ctx: BuildContext) -> dict:
    from ..export.coreml import inspect_coreml

    spec = inspect_coreml(ctx.resolve(art.path))
    ok = list(spec["inputs"]) and list(spec["outputs"])
    return {"coreml": {**spec, "loads": bool(ok),
                       "note": "Core ML prediction needs macOS: accuracy and numeric parity not measured on Linux"}}


def _flag_slow_int8(artifacts: list[Artifact], ctx: BuildContext) -> list[Artifact]:
    """Measure each INT8 model side by side with its FP32 twin; on host builds, say so when INT8 is slower."""
    from .host import compare_side_by_side

    by_name = {a.name: a for a in artifacts}
    out = []
    for art in artifacts:
        twin = by_name.get(art.name.replace("int8", "fp32")) if art.precision == "int8" else None
        if twin is None or art.format == "coreml" or ctx.config.bench.latency_mode == "off":
            out.append(art)
            continue
        ratio = compare_side_by_side(twin, art, ctx)
        art = art.with_metrics(int8_vs_fp32_host_latency_ratio=ratio)
        # On a device target the host's INT8 kernels say nothing about the device's (an MCU runs
        # INT8 only; the device's INT8 speed is in the predicted latency): the note is for host builds.
        if ratio > 1.0 and ctx.target.kind == "host":
            art = art.with_note(f"INT8 is slower than FP32 on this host ({ratio:.2f}x the FP32 p50, measured "
                                f"side by side in {art.format} runtime); check the target's INT8 kernels")
        out.append(art)
    return out


STAGE = Stage(name="measure", run=run, reads=("config.bench.latency_mode", "inputs.threads", "target.formats",
                                              "target.precisions", "target.kind"))
