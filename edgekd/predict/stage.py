"""Predict stage: latency and memory of every artifact on the target, and of the deployable one everywhere.

For each artifact with an analysable graph (see :mod:`edgekd.predict.analysis`): predicted
p50 latency with low/high bounds on the target (its fitted runtime model when the profile has
one, else the roofline), weights bytes and the activation arena from tensor liveness — read
from the ``.tflite`` itself for TFLite artifacts, the file that ships. On a TFLite Micro target
the deployable ``.tflite`` also runs in the TFLM interpreter to measure the arena it really
needs (``tflm_arena_bytes``; the gate judges RAM on it). Then the deployable artifact is
predicted on every profile in the targets folder (the cross-target table).
"""

from __future__ import annotations

from typing import Any

from ..artifact import Artifact, choose_deployable
from ..stage import BuildContext, Stage
from ..state import BuildState
from .analysis import graph_for


def run(state: BuildState, ctx: BuildContext) -> BuildState:
    """The state with ``latency_ms.predicted`` and the memory figures of every artifact, and the cross-target table."""
    predicted = []
    deployable = choose_deployable(state.artifacts, ctx.target)
    for art in state.artifacts:
        ctx.reporter.stage("predict", art.name)
        graph = graph_for(art, state.artifacts, ctx)
        latency = {**(art.metrics.get("latency_ms") or {}), "predicted": _predict(graph, art, ctx)}
        memory = {**_memory(graph, art, ctx), **(art.metrics.get("memory") or {})}
        if art is deployable and art.format == "tflite" and ctx.target.runtime.name == "tflite-micro":
            memory.update(_tflm_arena(art, ctx))
        predicted.append(art.with_metrics(latency_ms=latency, memory=memory))
    chosen = choose_deployable(predicted, ctx.target)
    return state.evolve(artifacts=predicted, predicted_on_targets=on_every_target(chosen, predicted, ctx))


def _predict(graph, art: Artifact, ctx: BuildContext) -> dict | None:
    from .latency import FORMAT_RUNTIMES, band_description, predict_latency

    if graph is None:
        return None
    pred = predict_latency(graph, ctx.target, art.precision, runtime=FORMAT_RUNTIMES.get(art.format))
    out = {"p50": pred["p50"], "low": pred["low"], "high": pred["high"], "target": ctx.target.name,
           "method": pred["method"], "band": band_description(pred)}
    if "threads" in pred:
        out["threads"] = pred["threads"]
    return out


def _memory(graph, art: Artifact, ctx: BuildContext) -> dict:
    """Weights and activation arena (tensor liveness) of the file that ships, else of its ONNX stand-in."""
    from .memory import analyze_onnx

    if art.format == "tflite" and art.path:
        from .tflite_memory import analyze_tflite

        mem = analyze_tflite(ctx.resolve(art.path))
    elif graph is not None:
        mem = analyze_onnx(graph)
    else:
        return {"weights_bytes": None, "peak_activation_bytes": None}
    return {"weights_bytes": int(mem["weights_bytes"]), "peak_activation_bytes": int(mem["peak_activation_bytes"])}


def _tflm_arena(art: Artifact, ctx: BuildContext) -> dict:
    """The arena the deployable ``.tflite`` needs in the TFLite Micro interpreter, or why it was not measured."""
    from .tflm_arena import tflm_arena_report

    ctx.reporter.stage("predict", f"{art.name}: TFLite Micro arena")
    report = tflm_arena_report(ctx.resolve(art.path))
    if report.get("arena_bytes") is None:
        return {"tflm_arena_bytes": None, "tflm_arena_note": report.get("reason") or "not measured"}
    return {"tflm_arena_bytes": int(report["arena_bytes"]),
            "tflm_arena_note": "smallest arena that allocates and runs one inference in the TFLite Micro "
                               "interpreter (reference kernels; optimized kernels add scratch buffers)"}


def on_every_target(chosen: Artifact | None, artifacts, ctx: BuildContext) -> list[dict[str, Any]]:
    """Predicted latency, memory and fit (per budget) of the deployable artifact on every profile.

    Each profile is costed at the artifact's precision (a profile without that precision runs it
    at its fallback rate, see :meth:`TargetProfile.peak_macs`); ``supported`` says whether the
    profile lists the artifact's precision (the network would ship in the profile's own format);
    the memory and budget fields are :func:`edgekd.predict.cross_target.fit_on`'s.
    """
    from ..errors import BadInputError
    from ..targets import list_targets
    from .cross_target import fit_on
    from .latency import predict_latency

    if chosen is None:
        return []
    graph = graph_for(chosen, artifacts, ctx)
    if graph is None:
        return []
    rows = []
    for profile in list_targets():
        row: dict[str, Any] = {"target": profile.name, "kind": profile.kind, "precision": chosen.precision,
                               "supported": chosen.precision in profile.precisions}
        try:
            pred = predict_latency(graph, profile, chosen.precision)
            row.update(p50=pred["p50"], low=pred["low"], high=pred["high"])
        except BadInputError as exc:
            row.update(p50=None, low=None, high=None, error=exc.one_line())
        row["budget_ms"] = profile.budgets.max_latency_p90_ms
        row.update(fit_on(profile, chosen, artifacts, row["high"]))
        rows.append(row)
    return rows


# The whole profile: the roofline reads peaks, bandwidths, efficiencies and fitted runtime models.
STAGE = Stage(name="predict", run=run,
              reads=("target", "config.quantize.method", "config.quantize.per_channel",
                     "config.quantize.float_first_conv", "config.quantize.engine", "config.quantize.tflite_engine",
                     "config.export.opset", "inputs.targets"))
