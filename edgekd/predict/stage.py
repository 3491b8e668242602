"""Predict stage: latency and memory of every artifact on the target, and of the deployable one everywhere.

For each artifact with an analysable graph (see :mod:`edgekd.predict.analysis`): predicted
p50 latency with low/high bounds on the target (its fitted runtime model when the profile has
one, else the roofline), weights bytes and the activation arena from tensor liveness. Then the
deployable artifact is predicted on every profile in the targets folder (the cross-target table).
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
    for art in state.artifacts:
        ctx.reporter.stage("predict", art.name)
        graph = graph_for(art, state.artifacts, ctx)
        latency = {**(art.metrics.get("latency_ms") or {}), "predicted": _predict(graph, art, ctx)}
        memory = {**_memory(graph), **(art.metrics.get("memory") or {})}
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


def _memory(graph) -> dict:
    from .memory import analyze_onnx

    if graph is None:
        return {"weights_bytes": None, "peak_activation_bytes": None}
    mem = analyze_onnx(graph)
    return {"weights_bytes": int(mem["weights_bytes"]), "peak_activation_bytes": int(mem["peak_activation_bytes"])}


def on_every_target(chosen: Artifact | None, artifacts, ctx: BuildContext) -> list[dict[str, Any]]:
    """Predicted latency of the deployable artifact's graph on every profile in the targets folder.

    Each profile is costed at the artifact's precision (a profile without that precision runs it
    at its fallback rate, see :meth:`TargetProfile.peak_macs`); ``supported`` says whether the
    profile lists the artifact's precision (the network would ship in the profile's own format).
    """
    from ..errors import BadInputError
    from ..targets import list_targets
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
        rows.append(row)
    return rows


# The whole profile: the roofline reads peaks, bandwidths, efficiencies and fitted runtime models.
STAGE = Stage(name="predict", run=run,
              reads=("target", "config.quantize.method", "config.quantize.per_channel", "config.export.opset",
                     "inputs.targets"))
