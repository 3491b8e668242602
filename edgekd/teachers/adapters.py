"""The teacher's own image input (``teacher.input``): its pixel scale and normalisation, per batch.

With ``teacher.input`` the image loader keeps, next to the student's normalised inputs, the
teacher's own pixels: the same files decoded at the teacher's size, as 8-bit values
(``Split.teacher_x``; augmented train batches get the same crop and flip, see
:class:`edgekd.data.images.ImageAugmenter`). :class:`PixelInput` turns a batch of those
0..255 pixels into the teacher's units, ``(pixel / 255 * scale - mean) / std``, right before
the teacher runs, so nothing teacher-sized and float is ever held for a whole split.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from ..errors import ConfigError
from .blackbox import TeacherWrapper
from .schema import FileTeacher, TeacherInput


class PixelInput(TeacherWrapper):
    """Feeds a teacher 8-bit pixels (0..255, any dtype) converted to its own units.

    Args:
        inner: The teacher (any callable ``nn.Module`` taking float NCHW in its units).
        spec: The ``teacher.input`` section.
        channels: Channels of the images (for per-channel mean/std).
    """

    def __init__(self, inner: torch.nn.Module, spec: TeacherInput, channels: int):
        super().__init__(inner)
        mean = torch.tensor(spec.per_channel("mean", channels), dtype=torch.float32)
        std = torch.tensor(spec.per_channel("std", channels), dtype=torch.float32)
        # One multiply-add: x * (scale / 255 / std) - mean / std, computed in float32.
        self.register_buffer("gain", (spec.scale / 255.0 / std)[None, :, None, None], persistent=False)
        self.register_buffer("offset", (mean / std)[None, :, None, None], persistent=False)
        self.spec = spec

    def to_teacher_units(self, pixels: torch.Tensor) -> torch.Tensor:
        """Float32 NCHW input in the teacher's units for a batch of 0..255 pixels."""
        gain, offset = self.get_buffer("gain"), self.get_buffer("offset")
        return pixels.to(torch.float32) * gain - offset

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:  # noqa: D102
        return self.inner(self.to_teacher_units(pixels))

    def describe(self) -> str:
        """One phrase for the report."""
        spec = self.spec
        size = f" at {spec.size[0]}x{spec.size[1]}" if spec.size else ""
        return (f"fed its own input{size}: (pixel/255 * {spec.scale:g} - mean {spec.mean}) / std {spec.std} "
                "(the student keeps data.mean/std/size)")


def to_runtime_input(model: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    """What the innermost runtime of a wrapped teacher eats for the batch ``x`` the build feeds it.

    Applies every :class:`PixelInput` on the way in (other wrappers do not change the input).
    """
    while isinstance(model, TeacherWrapper):
        if isinstance(model, PixelInput):
            x = model.to_teacher_units(x)
        model = model.inner
    return x


def resolved_layout(cfg: FileTeacher) -> str:
    """The teacher's input layout from ``teacher.input_layout`` and ``teacher.input.layout``.

    Raises:
        ConfigError: both are set, to different layouts.
    """
    inner = cfg.input.layout if cfg.input is not None else None
    if inner is None or inner == "auto":
        return cfg.input_layout
    if cfg.input_layout not in ("auto", inner):
        raise ConfigError(f"teacher.input_layout is {cfg.input_layout} but teacher.input.layout is {inner}",
                          fix="give the layout once (teacher.input.layout), or make the two agree")
    return inner


def check_input_fits(spec: TeacherInput | None, data_kind: str, channels: int | None) -> None:
    """Fail early (exit 2, one line) when ``teacher.input`` cannot apply to the data.

    Raises:
        ConfigError: ``teacher.input`` on non-image data, or mean/std of the wrong length.
    """
    if spec is None:
        return
    if data_kind != "image_folder":
        what = "use teacher.features for an audio teacher's own front end" if data_kind == "audio_folder" else \
            "remove teacher.input, or load the images with data.kind image_folder"
        raise ConfigError(f"teacher.input applies to image_folder data (decoded pixels), but data.kind is {data_kind}",
                          fix=what)
    try:
        for name in ("mean", "std"):
            spec.per_channel(name, channels or 3)
    except ValueError as exc:
        raise ConfigError(str(exc), fix="give one value, or one per channel (data.channels)") from None


def per_sample_shape(spec: TeacherInput, student_shape: Sequence[int]) -> tuple[int, int, int]:
    """The teacher's per-sample NCHW shape: the student's channels at the teacher's size."""
    c, h, w = student_shape
    if spec.size:
        return int(c), int(spec.size[0]), int(spec.size[1])
    return int(c), int(h), int(w)
