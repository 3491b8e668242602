"""The budget gate: judge the deployable artifact against the target's budgets and capacity."""

from __future__ import annotations

from typing import Any, Sequence

from ..artifact import Artifact, choose_deployable
from ..stage import BuildContext, Stage
from ..state import BuildState


def judge(artifacts: Sequence[Artifact], target,
          conversion_failures: Sequence[dict]) -> tuple[Artifact | None, list[dict]]:
    """Evaluate every budget of ``target`` (and its RAM/flash capacity) on the deployable artifact.

    Returns:
        The chosen artifact and one entry per budget: metric, limit, value, passed, model, source.
    """
    chosen = choose_deployable(artifacts, target)
    if chosen is None:
        # Nothing to judge is a failed gate, not an empty (and so passing) list of budgets.
        return None, [{"metric": "deployable_student", "limit": 1.0, "value": 0.0, "passed": False, "model": None,
                       "source": "no student model in the report (a build always has one)"}]
    by_name = {a.name: a for a in artifacts}
    accuracy_of = _accuracy_source(chosen, artifacts)
    teacher = by_name.get("teacher")
    budgets = target.budgets
    entries: list[dict[str, Any]] = []

    def add(metric: str, limit, value, higher_is_better: bool = False, source: str = "budget",
            model: str | None = None) -> None:
        if limit is None:
            return
        passed = value is not None and (value >= limit if higher_is_better else value <= limit)
        entries.append({"metric": metric, "limit": float(limit), "value": None if value is None else float(value),
                        "passed": bool(passed), "model": model or chosen.name, "source": source})

    top1 = _get(accuracy_of, "accuracy", "top1")
    add("top1", budgets.min_top1, top1, higher_is_better=True, model=accuracy_of.name)
    if teacher is not None:
        # A null (not measured) top-1 on either side leaves the drop unknown: its budget fails.
        teacher_top1 = _get(teacher, "accuracy", "top1")
        drop = teacher_top1 - top1 if teacher_top1 is not None and top1 is not None else None
        add("top1_drop_vs_teacher", budgets.max_top1_drop, drop, model=accuracy_of.name)
    ece = _get(accuracy_of, "calibration", "ece")
    add("ece", budgets.max_ece, ece, model=accuracy_of.name)
    teacher_ece = _get(teacher, "calibration", "ece") if teacher is not None else None
    if teacher is not None:
        increase = ece - teacher_ece if ece is not None and teacher_ece is not None else None
        add("ece_increase_vs_teacher", budgets.max_ece_increase_vs_teacher, increase, model=accuracy_of.name)
    latency_value, latency_metric = _latency(chosen, target)
    add(latency_metric, budgets.max_latency_p90_ms, latency_value)
    size = chosen.metrics.get("size_bytes")
    add("model_bytes", budgets.max_model_bytes, size)
    ram = peak_ram_bytes(chosen, target)
    add("peak_ram_bytes", budgets.max_peak_ram_bytes, ram)
    add("model_bytes_vs_device_storage", target.memory.flash_bytes, size, source="device capacity")
    add("peak_ram_bytes_vs_device_ram", target.memory.ram_bytes, ram, source="device capacity")
    add("failed_conversions", 0, len(conversion_failures), source="export")
    parity_misses = [a for a in artifacts if a.metrics.get("parity", {}).get("passed") is False]
    add("fp32_parity_failures", 0, len(parity_misses), source="parity")
    return chosen, entries


def peak_ram_bytes(art: Artifact, target) -> int | None:
    """RAM the model needs on the device: the activation arena, plus weights unless they stay in flash."""
    memory = art.metrics.get("memory") or {}
    arena = memory.get("peak_activation_bytes")
    if arena is None:
        return None
    weights = memory.get("weights_bytes") or 0
    return int(arena if target.memory.weights_in == "flash" else arena + weights)


def _latency(art: Artifact, target) -> tuple[float | None, str]:
    latency = art.metrics.get("latency_ms") or {}
    if target.kind == "host":
        host = latency.get("host") or {}
        return host.get("p90"), "latency_p90_ms (measured on host)"
    predicted = latency.get("predicted") or {}
    # A prediction has no p90; its upper bound is the conservative stand-in.
    return predicted.get("high"), "latency_p90_ms (predicted upper bound)"


def _accuracy_source(chosen: Artifact, artifacts: list[Artifact]) -> Artifact:
    """Where the chosen model's accuracy was measured (Core ML cannot run on Linux)."""
    if chosen.metrics.get("accuracy"):
        return chosen
    same = [a for a in artifacts if a.role == chosen.role and a.precision == chosen.precision
            and a.metrics.get("accuracy")]
    fallback = [a for a in artifacts if a.role == "student" and a.format == "torch"][-1:]
    return (same or fallback or [chosen])[0]


def _get(art: Artifact, *keys: str):
    node: Any = art.metrics
    for key in keys:
        if not isinstance(node, dict) or key not in node:
            return None
        node = node[key]
    return node


def run(state: BuildState, ctx: BuildContext) -> BuildState:
    """The state with the deployable artifact chosen and every budget judged."""
    chosen, budgets = judge(state.artifacts, ctx.target, state.conversion_failures)
    return state.evolve(chosen=chosen.name if chosen else None, budgets=budgets)


# Cheap and pure: recomputed on every run rather than cached.
STAGE = Stage(name="judge", run=run, cached=False,
              reads=("target.budgets", "target.memory", "target.formats", "target.precisions", "target.kind"))
