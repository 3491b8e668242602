"""The budget gate: judge the deployable artifact against the target's budgets and capacity.

Every entry says what it judged (``metric``, ``limit``, ``value``, ``unit``, ``model``, ``source``)
and how it came out:

* ``passed: true`` — met; ``passed: false`` — missed (the build exits 3). A value that was not
  measured is a miss, never a pass.
* ``judged: false`` (with ``passed: true`` and a ``note``) — *not judged*: the measurement exists but
  is not trustworthy enough to fail a build on. Today that is measured host latency flagged noisy
  (CV, tail or too few runs: :mod:`edgekd.measure.latency`). It does not fail the build, and the
  renderers print "not judged: noisy (...)" instead of "pass", so it is never mistaken for a met
  budget. Rebuild on a quiet machine (or ``bench.latency_mode=full``) to have it judged.

Besides the profile's budgets, two lines are always judged when top-1 was measured: the
deployable model's and the teacher's top-1 must be better than chance on the test split
(an exact one-sided binomial test, :func:`edgekd.stats.above_chance_threshold`): a model at
chance is never deployable, whatever else it meets.
"""

from __future__ import annotations

from typing import Any, Sequence

from .. import stats
from ..artifact import Artifact, accuracy_source, choose_deployable
from ..stage import BuildContext, Stage
from ..state import BuildState


def judge(artifacts: Sequence[Artifact], target, conversion_failures: Sequence[dict],
          data: dict | None = None) -> tuple[Artifact | None, list[dict]]:
    """Evaluate every budget of ``target`` (and its RAM/flash capacity) on the deployable artifact.

    Args:
        artifacts: Every measured model of the build.
        target: The device profile.
        conversion_failures: Formats a converter rejected.
        data: The report's ``data`` summary (classes, split sizes); enables the better-than-chance lines.

    Returns:
        The chosen artifact and one entry per budget: metric, limit, value, unit, passed, judged,
        model, source (and a note when not judged).
    """
    chosen = choose_deployable(artifacts, target)
    if chosen is None:
        # Nothing to judge is a failed gate, not an empty (and so passing) list of budgets.
        return None, [{"metric": "deployable_student", "limit": 1.0, "value": 0.0, "passed": False, "model": None,
                       "source": "no student model in the report (a build always has one)"}]
    by_name = {a.name: a for a in artifacts}
    accuracy_of = accuracy_source(chosen, artifacts)
    teacher = by_name.get("teacher")
    budgets = target.budgets
    entries: list[dict[str, Any]] = []

    def add(metric: str, limit, value, unit: str, higher_is_better: bool = False, source: str = "budget",
            model: str | None = None, not_judged: str | None = None, unmeasured: str | None = None) -> None:
        if limit is None:
            return
        passed = value is not None and (value >= limit if higher_is_better else value <= limit)
        entry = {"metric": metric, "limit": float(limit), "value": None if value is None else float(value),
                 "unit": unit, "passed": bool(passed), "judged": True, "model": model or chosen.name,
                 "source": source}
        if not_judged and value is not None:
            entry.update(passed=True, judged=False, note=f"not judged: {not_judged}")
        if unmeasured and value is None:  # a figure the build chose not to measure is not a miss
            entry.update(passed=True, judged=False, note=f"not judged: {unmeasured}")
        entries.append(entry)

    top1 = _get(accuracy_of, "accuracy", "top1")
    for line in _chance_lines(accuracy_of, teacher, data):
        add(**line)
    add("top1", budgets.min_top1, top1, "fraction", higher_is_better=True, model=accuracy_of.name)
    if teacher is not None:
        # A null (not measured) top-1 on either side leaves the drop unknown: its budget fails.
        teacher_top1 = _get(teacher, "accuracy", "top1")
        drop = teacher_top1 - top1 if teacher_top1 is not None and top1 is not None else None
        add("top1_drop_vs_teacher", budgets.max_top1_drop, drop, "fraction", model=accuracy_of.name)
    ece = _get(accuracy_of, "calibration", "ece")
    add("ece", budgets.max_ece, ece, "ece", model=accuracy_of.name)
    teacher_ece = _get(teacher, "calibration", "ece") if teacher is not None else None
    if teacher is not None:
        increase = ece - teacher_ece if ece is not None and teacher_ece is not None else None
        add("ece_increase_vs_teacher", budgets.max_ece_increase_vs_teacher, increase, "ece", model=accuracy_of.name)
    latency_value, latency_metric, noisy = _latency(chosen, target)
    host_off = target.kind == "host" and not (chosen.metrics.get("latency_ms") or {}).get("host")
    add(latency_metric, budgets.max_latency_p90_ms, latency_value, "ms", not_judged=noisy,
        unmeasured="host latency was not timed (bench.latency_mode=off)" if host_off else None)
    teacher_macs = teacher.macs if teacher is not None else None
    ratio = chosen.macs / teacher_macs if teacher_macs and chosen.macs is not None else None
    add("student_macs_ratio", budgets.max_student_macs_ratio, ratio, "ratio",
        unmeasured="the teacher's MACs are unknown" if teacher is not None else None)
    size = chosen.metrics.get("size_bytes")
    add("model_bytes", budgets.max_model_bytes, size, "bytes")
    ram = peak_ram_bytes(chosen, target)
    add("peak_ram_bytes", budgets.max_peak_ram_bytes, ram, "bytes")
    add("model_bytes_vs_device_storage", target.memory.flash_bytes, size, "bytes", source="device capacity")
    add("peak_ram_bytes_vs_device_ram", target.memory.ram_bytes, ram, "bytes", source="device capacity")
    add("failed_conversions", 0, len(conversion_failures), "count", source="export")
    parity_misses = [a for a in artifacts if a.metrics.get("parity", {}).get("passed") is False]
    add("fp32_parity_failures", 0, len(parity_misses), "count", source="parity")
    return chosen, entries


def _chance_lines(accuracy_of: Artifact, teacher: Artifact | None, data: dict | None) -> list[dict]:
    """Better-than-chance lines for the deployable model (and the teacher) on the test split."""
    test_n = ((data or {}).get("samples") or {}).get("test")
    classes = len((data or {}).get("classes") or ())
    if not test_n or classes < 2:
        return []
    lines = []
    # One test split, one chance rate: read from the deployable model's confusion matrix.
    threshold = stats.above_chance_threshold(int(test_n), chance_rate(accuracy_of, classes))
    for art, metric in ((accuracy_of, "top1_above_chance"), (teacher, "teacher_top1_above_chance")):
        top1 = _get(art, "accuracy", "top1") if art is not None else None
        if art is None or top1 is None:
            continue
        lines.append({"metric": metric, "limit": threshold,
                      "value": top1, "unit": "fraction", "higher_is_better": True, "source": "chance",
                      "model": art.name})
    return lines


def chance_rate(art: Artifact, classes: int) -> float:
    """Top-1 of always guessing the most frequent test class (from the confusion matrix), else 1 / classes."""
    counts = (art.metrics.get("confusion_matrix") or {}).get("counts")
    if counts:
        per_class = [sum(row) for row in counts]
        if sum(per_class):
            return max(per_class) / sum(per_class)
    return 1.0 / classes


def peak_ram_bytes(art: Artifact, target) -> int | None:
    """RAM the model needs on the device: the activation arena, plus weights unless they stay in flash.

    The arena is the one TFLite Micro measured for the shipped file on TFLite Micro targets (it
    includes the interpreter's persistent data), else the tensor-liveness estimate.
    """
    from ..predict.cross_target import ram_on

    return ram_on(art, target)


def _latency(art: Artifact, target) -> tuple[float | None, str, str | None]:
    """The latency judged, its label, and why it cannot be judged (noisy host timing), else None."""
    latency = art.metrics.get("latency_ms") or {}
    if target.kind == "host":
        host = latency.get("host") or {}
        return host.get("p90"), "latency_p90_ms (measured on host)", host_noise(host)
    predicted = latency.get("predicted") or {}
    # A prediction has no p90; its upper bound is the conservative stand-in.
    return predicted.get("high"), "latency_p90_ms (predicted upper bound)", None


def host_noise(host: dict) -> str | None:
    """Why a host measurement is too noisy to judge (``noisy (reasons)``), else None.

    Reports from before the runs rule carry no ``noise`` list; their run count is checked here.
    """
    from ..measure.latency import MIN_RUNS

    reasons = list(host.get("noise") or [])
    runs = host.get("runs")
    if isinstance(runs, int) and runs < MIN_RUNS and not any("run" in r for r in reasons):
        reasons.append(f"{runs} timed run{'s' if runs != 1 else ''} < {MIN_RUNS}")
    if not (host.get("noisy") or reasons):
        return None
    return "noisy" + (f" ({'; '.join(reasons)})" if reasons else "")


def _get(art: Artifact, *keys: str):
    node: Any = art.metrics
    for key in keys:
        if not isinstance(node, dict) or key not in node:
            return None
        node = node[key]
    return node


def run(state: BuildState, ctx: BuildContext) -> BuildState:
    """The state with the deployable artifact chosen and every budget judged."""
    chosen, budgets = judge(state.artifacts, ctx.target, state.conversion_failures, ctx.data.summary())
    return state.evolve(chosen=chosen.name if chosen else None, budgets=budgets)


# Cheap and pure: recomputed on every run rather than cached.
STAGE = Stage(name="judge", run=run, cached=False,
              reads=("target.budgets", "target.memory", "target.formats", "target.precisions", "target.kind",
                     "target.runtime.name"))
