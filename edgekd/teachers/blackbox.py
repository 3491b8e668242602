"""Black-box teachers: a model in another runtime behind a torch-callable ``nn.Module``.

The distill stage calls every teacher as ``teacher(x_nchw) -> logits`` (see
``edgekd.distill.trainer.predict_logits``). A :class:`BlackBoxTeacher` decides the layout
(NCHW or NHWC, from the model's declared input or the user's ``input_layout``) and hands the
batch to its runtime; batching, a fixed batch size and int8 I/O are the runtime's business
(an ONNX or TFLite teacher wraps the same :mod:`edgekd.runtimes` runner the build measures
artifacts with). It has no parameters and never builds an autograd graph (the teacher is frozen).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ..errors import ModelFileError

Dim = int | None  # None: a dynamic (symbolic) dimension


def check_file(path: Path, kind: str, *, folder_ok: bool = False) -> None:
    """Raise :class:`ModelFileError` if ``path`` is missing or empty (before a library sees it)."""
    if folder_ok and path.is_dir():
        return
    if not path.is_file():
        raise ModelFileError(f"teacher file {path} ({kind}) does not exist or is not a file",
                             fix=f"set teacher.path to your {kind} model file (relative paths start at the "
                                 "current folder)")
    if path.stat().st_size == 0:
        raise ModelFileError(f"teacher file {path} ({kind}) is empty",
                             fix="re-save the model (an interrupted copy or save leaves an empty file)")


def load_failed(path: Path, kind: str, exc: BaseException, fix: str) -> ModelFileError:
    """A one-line ModelFileError for a library's load failure (first 160 characters of its reason)."""
    reason = " ".join(str(exc).split())[:160] or exc.__class__.__name__
    return ModelFileError(f"cannot load teacher {path} as {kind}: {exc.__class__.__name__}: {reason}", fix=fix)


def shape_text(shape: Sequence[Dim]) -> str:
    """``[1,3,32,32]`` with ``?`` for dynamic dimensions."""
    return "[" + ",".join("?" if d is None else str(d) for d in shape) + "]"


def _matches(declared: Sequence[Dim], actual: Sequence[int]) -> bool:
    return len(declared) == len(actual) and all(d is None or d == a for d, a in zip(declared, actual))


def resolve_layout(declared: Sequence[Dim], input_shape: Sequence[int], requested: str, prefer: str) -> str:
    """Pick ``nchw`` or ``nhwc`` for a model whose per-sample input shape is ``declared``.

    Args:
        declared: The model's input shape without the batch dimension (``None`` = dynamic).
        input_shape: The data's sample shape ``(C, H, W)``.
        requested: ``nchw``, ``nhwc`` (taken as given) or ``auto``.
        prefer: The layout chosen when both fit (dynamic spatial dims), e.g. ``nhwc`` for TF models.

    Returns:
        ``nchw`` or ``nhwc``. When neither fits, the likelier one (so the mismatch error
        reported later names the layout the model was built for).
    """
    if requested in ("nchw", "nhwc"):
        return requested
    c, h, w = input_shape
    nchw, nhwc = _matches(declared, (c, h, w)), _matches(declared, (h, w, c))
    if nchw != nhwc:
        return "nchw" if nchw else "nhwc"
    if nchw:
        return prefer
    if len(declared) == 3 and declared[-1] in (1, 3, 4) and declared[0] not in (1, 3, 4):
        return "nhwc"
    return "nchw" if len(declared) == 3 and declared[0] in (1, 3, 4) else prefer


class BlackBoxTeacher(nn.Module):
    """Base of the runtime-backed teachers: ``forward(x_nchw) -> logits`` with no gradient.

    Subclasses set ``path``, ``kind``, ``declared`` (per-sample input shape in the model's
    own layout), ``fixed_batch`` (``None`` for a dynamic batch) and implement :meth:`infer`.

    Attributes:
        layout: ``nchw`` or ``nhwc``: how our NCHW batches are fed (set by :meth:`set_layout`).
    """

    kind = "black-box"
    prefer_layout = "nchw"

    def __init__(self, path: Path, declared: Sequence[Dim], fixed_batch: int | None):
        super().__init__()
        self.path = Path(path)
        self.declared = tuple(declared)
        self.fixed_batch = fixed_batch
        self.layout = "nchw"

    def infer(self, x: np.ndarray) -> np.ndarray:
        """Float32 outputs ``[N, K]`` for a float32 batch already in the model's layout (any N)."""
        raise NotImplementedError

    def set_layout(self, requested: str, input_shape: Sequence[int]) -> None:
        """Decide how NCHW data is fed (see :func:`resolve_layout`)."""
        self.layout = resolve_layout(self.declared, input_shape, requested, self.prefer_layout)

    def model_input(self, input_shape: Sequence[int]) -> tuple[int, ...]:
        """The per-sample shape the data becomes once fed in :attr:`layout`."""
        c, h, w = input_shape
        return (h, w, c) if self.layout == "nhwc" else (c, h, w)

    def input_mismatch(self, input_shape: Sequence[int]) -> str | None:
        """Why the data cannot be fed (one phrase stating both shapes), or ``None`` if it fits."""
        fed = self.model_input(input_shape)
        if _matches(self.declared, fed):
            return None
        batch = self.fixed_batch or 1
        data = f"[1,{','.join(str(d) for d in input_shape)}] (NCHW"
        data += f", fed as {shape_text((1, *fed))} NHWC)" if self.layout == "nhwc" else ")"
        return (f"teacher {self.path.name} ({self.kind}) expects input {shape_text((batch, *self.declared))} "
                f"({self.layout.upper()}) but the data gives {data}")

    def size(self, input_shape: Sequence[int]) -> tuple[int, int | None]:
        """``(params, macs)`` for one sample when the runtime exposes them; ``macs=None`` if unknown."""
        return 0, None

    @torch.no_grad()
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Float32 logits ``[N, K]`` for a float NCHW batch (no gradient)."""
        arr = x.detach().to("cpu", torch.float32).numpy()
        if len(arr) == 0:
            return torch.empty(0)
        if self.layout == "nhwc":
            arr = arr.transpose(0, 2, 3, 1)
        return torch.from_numpy(self.infer(np.ascontiguousarray(arr)))


class RunnerTeacher(BlackBoxTeacher):
    """A teacher run by an :mod:`edgekd.runtimes` runner (onnxruntime, LiteRT).

    Args:
        path: The user's model file.
        runner: The opened runner (its ``declared`` input and ``fixed_batch`` describe the model).
    """

    def __init__(self, path: Path, runner):
        super().__init__(path, runner.declared, runner.fixed_batch)
        self.runner = runner

    def infer(self, x: np.ndarray) -> np.ndarray:  # noqa: D102
        return self.runner.infer(x)


class TeacherWrapper(nn.Module):
    """Base of the modules edgekd puts around a loaded teacher (``inner`` is the wrapped model).

    :func:`unwrap` looks through every subclass to the user's own model.
    """

    def __init__(self, inner: nn.Module):
        super().__init__()
        self.inner = inner


class LogProbabilities(TeacherWrapper):
    """Turns a teacher that outputs probabilities into one that outputs logits.

    ``log p`` is a valid set of logits: ``softmax(log p / T) ∝ p^(1/T)``, exactly the
    tempered distribution KD wants, and ``softmax(log p) = p / sum(p)``, so ECE, NLL, Brier
    and agreement see the teacher's own probabilities (rows of a quantised softmax that do not
    sum exactly to 1 are renormalised). Clamping keeps a zero probability finite.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # noqa: D102
        return torch.log(self.inner(x).clamp_min(1e-12))


class ChannelsLastInput(TeacherWrapper):
    """Feeds a torch model that takes NHWC from our NCHW batches."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # noqa: D102
        return self.inner(x.permute(0, 2, 3, 1).contiguous())


def unwrap(model: nn.Module) -> nn.Module:
    """The user's model inside edgekd's :class:`TeacherWrapper` layers (input adapters, log-probabilities)."""
    while isinstance(model, TeacherWrapper):
        model = model.inner
    return model


def is_black_box(model: nn.Module) -> bool:
    """Whether ``model`` runs in another runtime (ONNX, TFLite, Keras) behind a torch-callable wrapper."""
    return isinstance(unwrap(model), BlackBoxTeacher)
