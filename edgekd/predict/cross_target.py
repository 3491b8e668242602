"""Where else the chosen model fits: its figures judged against every profile's budgets.

The predict stage costs the chosen (deployable) model's graph on every profile in the targets
folder; this module adds, per profile, the memory the model would need there and one entry per
budget of that profile (the same metrics the build's gate uses, on the same numbers):

* latency: the predicted upper bound on that profile (a prediction has no p90);
* model size and RAM: the artifact's file size; the activation arena (the one TFLite Micro
  measured when the profile runs TFLite Micro and it was measured, else the tensor-liveness
  estimate) plus the weights when the profile keeps them in RAM;
* accuracy and calibration: measured once on the host (test split), judged by each profile's limits.

A profile whose formats or precisions do not include the model's is still judged (the same
network would ship in its format); ``runs_as_is`` says so.
"""

from __future__ import annotations

from typing import Any, Sequence

from ..artifact import Artifact, accuracy_source


def ram_on(chosen: Artifact, profile: Any) -> int | None:
    """RAM the model needs on ``profile``: its arena, plus the weights unless they stay in flash."""
    memory = chosen.metrics.get("memory") or {}
    arena = memory.get("peak_activation_bytes")
    if profile.runtime.name == "tflite-micro" and memory.get("tflm_arena_bytes"):
        arena = memory["tflm_arena_bytes"]
    if arena is None:
        return None
    return int(arena if profile.memory.weights_in == "flash" else arena + (memory.get("weights_bytes") or 0))


def fit_on(profile: Any, chosen: Artifact, artifacts: Sequence[Artifact], high_ms: float | None) -> dict[str, Any]:
    """The fields a cross-target row adds: format fit, memory, one entry per budget and ``fits``.

    Args:
        profile: The device profile.
        chosen: The build's deployable artifact (with its measured and predicted metrics).
        artifacts: Every artifact of the build (the teacher and the accuracy source are found there).
        high_ms: The predicted upper-bound latency of ``chosen`` on ``profile`` (None: not predicted).
    """
    accuracy_of = accuracy_source(chosen, artifacts)
    teacher = next((a for a in artifacts if a.role == "teacher"), None)
    top1 = (accuracy_of.metrics.get("accuracy") or {}).get("top1")
    teacher_top1 = (teacher.metrics.get("accuracy") or {}).get("top1") if teacher else None
    ece = (accuracy_of.metrics.get("calibration") or {}).get("ece")
    size, ram = chosen.metrics.get("size_bytes"), ram_on(chosen, profile)
    budgets = profile.budgets
    entries: list[dict[str, Any]] = []

    def add(metric: str, limit, value, higher_is_better: bool = False) -> None:
        if limit is None:
            return
        passed = value is not None and (value >= limit if higher_is_better else value <= limit)
        entries.append({"metric": metric, "limit": float(limit), "value": None if value is None else float(value),
                        "passed": bool(passed)})

    add("latency_p90_ms (predicted upper bound)", budgets.max_latency_p90_ms, high_ms)
    add("model_bytes", budgets.max_model_bytes, size)
    add("peak_ram_bytes", budgets.max_peak_ram_bytes, ram)
    add("model_bytes_vs_device_storage", profile.memory.flash_bytes, size)
    add("peak_ram_bytes_vs_device_ram", profile.memory.ram_bytes, ram)
    add("top1", budgets.min_top1, top1, higher_is_better=True)
    if top1 is not None and teacher_top1 is not None:
        add("top1_drop_vs_teacher", budgets.max_top1_drop, teacher_top1 - top1)
    add("ece", budgets.max_ece, ece)
    teacher_ece = (teacher.metrics.get("calibration") or {}).get("ece") if teacher else None
    if ece is not None and teacher_ece is not None:
        add("ece_increase_vs_teacher", budgets.max_ece_increase_vs_teacher, ece - teacher_ece)
    return {"format": chosen.format, "runs_as_is": chosen.format in profile.formats
            and chosen.precision in profile.precisions, "model_bytes": size, "peak_ram_bytes": ram,
            "budgets": entries, "fits": all(e["passed"] for e in entries)}
