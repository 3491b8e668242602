"""The one record that flows between stages.

Each stage takes the list of artifacts built so far and returns new
:class:`Artifact` records; records are never mutated in place, so a stage's
inputs stay valid for the stages after it (and for resume).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Literal, Sequence

Role = Literal["teacher", "student", "baseline"]
Format = Literal["torch", "onnx", "tflite", "coreml"]
Precision = Literal["fp32", "fp16", "int8"]

FORMATS: tuple[str, ...] = ("torch", "onnx", "tflite", "coreml")
# Lowest first: the deployable artifact is the lowest precision the target runs.
_PRECISION_ORDER = ("int8", "fp16", "fp32")
PRECISIONS: tuple[str, ...] = ("fp32", "fp16", "int8")


@dataclass(frozen=True)
class Artifact:
    """One model at one point of the pipeline.

    Attributes:
        name: Unique, human-readable name, e.g. ``student-int8.onnx``.
        role: ``teacher``, ``student`` or ``baseline`` (a student trained without the teacher).
        format: The runtime format the model is in.
        precision: Numeric precision of weights/activations.
        path: File or folder, relative to the build's output folder (``None`` for in-memory models).
        model: The in-memory object (a ``torch.nn.Module``) when there is one; never serialised.
        input_shape: Shape of one input sample, channels first (C, H, W).
        params: Parameter count of the underlying network.
        macs: Multiply-accumulates for one sample.
        parent: Name of the artifact this one was derived from.
        metrics: Everything measured so far (accuracy, calibration, latency, memory, parity, ...).
        notes: Plain-language remarks that belong in the report (e.g. "INT8 slower than FP32").
    """

    name: str
    role: Role
    format: Format
    precision: Precision
    path: str | None = None
    model: Any = field(default=None, repr=False, compare=False)
    input_shape: tuple[int, ...] = ()
    params: int = 0
    macs: int = 0
    parent: str | None = None
    metrics: dict[str, Any] = field(default_factory=dict)
    notes: tuple[str, ...] = ()

    def evolve(self, **changes: Any) -> "Artifact":
        """Return a copy with ``changes`` applied (records are immutable)."""
        return dataclasses.replace(self, **changes)

    def with_metrics(self, **metrics: Any) -> "Artifact":
        """Return a copy whose metrics are merged with ``metrics``."""
        return self.evolve(metrics={**self.metrics, **metrics})

    def with_note(self, note: str) -> "Artifact":
        """Return a copy with one more note."""
        return self.evolve(notes=(*self.notes, note))

    def to_dict(self) -> dict[str, Any]:
        """The JSON form used in report.json (``model`` is left out)."""
        return {
            "name": self.name,
            "role": self.role,
            "format": self.format,
            "precision": self.precision,
            "path": self.path,
            "parent": self.parent,
            "input_shape": list(self.input_shape),
            "params": int(self.params),
            "macs": int(self.macs),
            **self.metrics,
            "notes": list(self.notes),
        }


def find(artifacts: Sequence[Artifact], **match: Any) -> list[Artifact]:
    """Artifacts whose attributes equal every ``match`` value."""
    return [a for a in artifacts if all(getattr(a, k) == v for k, v in match.items())]


def final_student(artifacts: Sequence[Artifact]) -> Artifact:
    """The torch student that export, quantization and parity use: the last one built.

    ``student`` after distillation, ``student-pruned`` when the prune stage ran.
    """
    students = [a for a in artifacts if a.role == "student" and a.format == "torch"]
    if not students:
        raise LookupError("no torch student among the artifacts")
    return students[-1]


def torch_ancestor(art: Artifact, artifacts: Sequence[Artifact]) -> str:
    """Name of the torch model an artifact derives from (follows ``parent`` to the first torch model)."""
    by_name = {a.name: a for a in artifacts}
    while art.format != "torch" and art.parent in by_name:
        art = by_name[art.parent]
    return art.name


def choose_deployable(artifacts: Sequence[Artifact], target) -> Artifact | None:
    """The artifact that would ship: the target's preferred format, lowest precision it supports."""
    students = [a for a in artifacts if a.role == "student" and a.format != "torch"]
    for fmt in target.formats:
        for precision in _PRECISION_ORDER:
            if precision not in target.precisions:
                continue
            for art in students:
                if art.format == fmt and art.precision == precision:
                    return art
    torch_students = [a for a in artifacts if a.role == "student" and a.format == "torch"]
    return torch_students[-1] if torch_students else None  # the pruned student when the prune stage ran


def accuracy_source(chosen: Artifact, artifacts: Sequence[Artifact]) -> Artifact:
    """Where ``chosen``'s accuracy was measured: itself, else a measured model of the same role and precision.

    Core ML cannot run on Linux, so a chosen Core ML model takes its figures from a twin that
    did run (else the last torch student).
    """
    if chosen.metrics.get("accuracy"):
        return chosen
    same = [a for a in artifacts if a.role == chosen.role and a.precision == chosen.precision
            and a.metrics.get("accuracy")]
    fallback = [a for a in artifacts if a.role == "student" and a.format == "torch"][-1:]
    return (same or fallback or [chosen])[0]
