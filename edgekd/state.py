"""The typed record a build accumulates, stage by stage (it replaces an untyped ``extras`` dict).

Every stage receives the :class:`BuildState` built so far and returns a new one; a state is
never mutated in place, so a stage's input stays valid for resume and for the stages after it.
Everything but the in-memory models is JSON-able: the stage cache (:mod:`edgekd.resume`)
stores it after each stage, and the report stage turns it into ``report.json``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from .artifact import Artifact


@dataclass(frozen=True)
class BuildState:
    """What a build knows after the stages run so far.

    Attributes:
        artifacts: Every model built so far (teacher, students, exports), in build order.
        training_curves: Per trained model name (``teacher``, ``student``, ``baseline``,
            ``student-pruned``): its trainer history (per-epoch loss and val top-1), or None.
        distill_method: The distillation objective used (method, description, soft-label cache).
        temperature_scaling: The probability-calibration step (``{"enabled": False}`` when off).
        conversion_failures: One entry per format a converter rejected (format, op, error).
        parity_matrix: Top-1 agreement and max |Δlogit| between every pair of runnable models.
        kd_vs_baseline: The KD student against the hard-label baseline on the test split, paired
            (:mod:`edgekd.measure.kd_vs_baseline`), or None without ``distill.train_baseline``.
        predicted_on_targets: The deployable model's predicted latency on every profile.
        chosen: Name of the artifact that would ship (the gate judges it).
        budgets: One entry per budget of the target (metric, limit, value, passed, model, source).
        search: The student search (``student.search``): every candidate, its feasibility, the
            trials and the chosen student; None when the search is off.
        deploy: The deploy bundle written for the chosen model (folder, runtime family, files), or None.
        report: The report.json content, once the report stage ran.
        elapsed_s: Seconds spent in finished stages, summed across resumed runs.
        resumed_s: Of those, the seconds of stages restored from an earlier (killed) run.
    """

    artifacts: tuple[Artifact, ...] = ()
    training_curves: dict[str, Any] = field(default_factory=dict)
    distill_method: dict[str, Any] | None = None
    temperature_scaling: dict[str, Any] = field(default_factory=lambda: {"enabled": False})
    conversion_failures: tuple[dict[str, Any], ...] = ()
    parity_matrix: dict[str, Any] | None = None
    kd_vs_baseline: dict[str, Any] | None = None
    predicted_on_targets: tuple[dict[str, Any], ...] = ()
    chosen: str | None = None
    budgets: tuple[dict[str, Any], ...] = ()
    search: dict[str, Any] | None = None
    deploy: dict[str, Any] | None = None
    report: dict[str, Any] | None = None
    elapsed_s: float = 0.0
    resumed_s: float = 0.0

    def evolve(self, **changes: Any) -> "BuildState":
        """A copy with ``changes`` applied (lists are stored as tuples)."""
        for name in ("artifacts", "conversion_failures", "predicted_on_targets", "budgets"):
            if name in changes:
                changes[name] = tuple(changes[name])
        return dataclasses.replace(self, **changes)

    def add(self, *artifacts: Artifact) -> "BuildState":
        """A copy with ``artifacts`` appended."""
        return self.evolve(artifacts=(*self.artifacts, *artifacts))

    def with_curve(self, name: str, history: Any) -> "BuildState":
        """A copy that records the training history of model ``name``."""
        return self.evolve(training_curves={**self.training_curves, name: history})

    def with_failure(self, failure: dict[str, Any]) -> "BuildState":
        """A copy with one more failed conversion."""
        return self.evolve(conversion_failures=(*self.conversion_failures, failure))

    def artifact(self, name: str) -> Artifact:
        """The artifact called ``name``."""
        for art in self.artifacts:
            if art.name == name:
                return art
        raise LookupError(f"no artifact named {name!r}")

    def fields_record(self) -> dict[str, Any]:
        """Every field but the artifacts, as JSON-able values (the stage cache stores them)."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "artifacts"}

    @classmethod
    def from_fields(cls, record: dict[str, Any], artifacts: list[Artifact]) -> "BuildState":
        """Inverse of :meth:`fields_record` (unknown keys of an older record are ignored)."""
        known = {f.name for f in dataclasses.fields(cls)} - {"artifacts"}
        return cls().evolve(artifacts=artifacts, **{k: v for k, v in record.items() if k in known})
