"""The in-memory dataset every stage reads: fixed train/val/test/representative splits."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
import torch


@dataclass(frozen=True)
class Split:
    """Inputs (N, C, H, W) float32 and integer labels (N,).

    ``augment`` (train splits only) maps a batch of inputs and a seeded generator to an
    augmented batch; the trainer applies it per step. ``None`` means no augmentation, which
    also lets distillation cache the teacher's logits once.

    With ``augment`` set, ``x`` may hold the *raw* samples that ``augment`` turns into model
    inputs: an augmented audio train split keeps waveforms ``(N, 1, 1, samples)`` because
    time shift and noise act before the features. So always pass a train batch through
    ``augment`` when it is set (as the trainer does); val, test and representative never augment.

    ``teacher_x`` (audio with ``teacher.features``) holds the teacher's own inputs, row for row
    with ``x``; use :meth:`for_teacher` and :meth:`teacher_batch` wherever the teacher runs.
    """

    x: torch.Tensor
    y: torch.Tensor
    augment: Callable[[torch.Tensor, torch.Generator], torch.Tensor] | None = field(default=None, compare=False)
    teacher_x: torch.Tensor | None = field(default=None, compare=False)

    def __len__(self) -> int:
        return int(self.y.shape[0])

    def for_teacher(self) -> torch.Tensor:
        """What the teacher eats: its own inputs (a teacher with a front end of its own), else ``x``."""
        return self.teacher_x if self.teacher_x is not None else self.x

    def teacher_batch(self, idx: torch.Tensor, inputs: torch.Tensor) -> torch.Tensor:
        """The teacher's inputs for the training batch ``idx`` whose model inputs are ``inputs``.

        ``inputs`` is what ``augment`` returned for this batch (or ``x[idx]``): an augmenter
        with a teacher front end computed the teacher's inputs from the same augmented
        samples, so they are taken from it.
        """
        paired = getattr(self.augment, "teacher_inputs_of", None)
        if paired is not None:
            return paired(inputs)
        if self.teacher_x is not None:
            return self.teacher_x[idx].to(inputs.device)
        return inputs

    def numpy(self) -> tuple[np.ndarray, np.ndarray]:
        """The split as (float32 NCHW array, int64 labels)."""
        return self.x.numpy().astype(np.float32, copy=False), self.y.numpy()


@dataclass(frozen=True)
class DataBundle:
    """A dataset split for a build.

    Attributes:
        name: Short name used in reports (e.g. ``sklearn-digits``).
        task: ``image`` or ``audio``.
        class_names: Label index → name.
        input_shape: One sample's shape, channels first.
        train, val, test: The fixed splits.
        representative: A subset of ``train``: the representative samples INT8 quantization sets its ranges on.
        preprocessing: What the device must do to raw input (written to the report).
        frontend: Audio only: the ``nn.Module`` that maps raw waveforms ``(N, samples)`` to
            model inputs; ``FrontendAndModel(frontend, model)`` puts it inside an exported graph.
        teacher_input_shape: One teacher input's shape when the teacher has a front end of its
            own (``teacher.features``); ``None``: the teacher eats ``input_shape``.
        teacher_frontend: That front end (waveform → the teacher's inputs), or ``None``.
    """

    name: str
    task: str
    class_names: tuple[str, ...]
    input_shape: tuple[int, ...]
    train: Split
    val: Split
    test: Split
    representative: Split
    preprocessing: dict[str, Any] = field(default_factory=dict)
    frontend: Any = field(default=None, compare=False)
    teacher_input_shape: tuple[int, ...] | None = None
    teacher_frontend: Any = field(default=None, compare=False)

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def summary(self) -> dict[str, Any]:
        """JSON-able description for the report."""
        return {
            "name": self.name,
            "task": self.task,
            "classes": list(self.class_names),
            "input_shape": list(self.input_shape),
            **({"teacher_input_shape": list(self.teacher_input_shape)} if self.teacher_input_shape else {}),
            "samples": {"train": len(self.train), "val": len(self.val), "test": len(self.test),
                        "representative": len(self.representative)},
            "preprocessing": self.preprocessing,
        }
