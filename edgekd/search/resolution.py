"""A searched input size: the build's data as the student sees it at another resolution.

``student.search.space.resolutions`` tries each architecture at several input sizes. A smaller
input is the cheapest latency and arena cut there is (both scale with H x W), but it must hold
for every stage after the search: the student trains, is calibrated, quantized, exported and
measured at that size, and its accuracy is judged there. So the search stage hands the rest of
the build a context whose data is resized (:func:`context_for`), and the pipeline keeps it.

The student's inputs are the data's normalised float inputs resized with bilinear
interpolation, antialiased when shrinking (what PIL's resize of the decoded images would
give, up to 8-bit rounding). The teacher is not resized: its rows stay what it ate before
(its own ``teacher.input`` pixels, or the data's inputs at their size), paired row for row
and cropped and flipped alike in training. On the device, the camera frame is resized to the
chosen size directly (the deploy bundle's preprocessing says which).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from ..stage import BuildContext

# Resized bundles already made in this process, by (id of the source bundle, size): trials and
# screens of one size share one copy of the splits. Small: the search alternates a few sizes.
_MADE: dict[tuple[int, tuple[int, int]], Any] = {}
_KEEP = 4


def at_resolution(data, size: tuple[int, int]):
    """``data`` with the student's inputs of every split at ``size`` ([H, W]); the teacher's unchanged."""
    hw = (int(size[0]), int(size[1]))
    if tuple(data.input_shape[1:]) == hw:
        return data
    key = (id(data), hw)
    if key not in _MADE:
        if len(_MADE) >= _KEEP:
            _MADE.pop(next(iter(_MADE)))
        _MADE[key] = _resized(data, hw)
    return _MADE[key]


def _resized(data, size: tuple[int, int]):
    splits = {name: _split_at(getattr(data, name), size) for name in ("train", "val", "test", "representative")}
    note = {"size": list(size), "mode": "bilinear (antialiased when shrinking) of the inputs at "
                                        f"{data.input_shape[1]}x{data.input_shape[2]}, the size "
                                        "student.search chose; on the device, resize the frame to this size"}
    return replace(data, input_shape=(data.input_shape[0], *size), **splits,
                   teacher_input_shape=data.teacher_input_shape or tuple(data.input_shape),
                   preprocessing={**data.preprocessing, "search_resize": note})


def _split_at(split, size: tuple[int, int]):
    import torch
    import torch.nn.functional as F

    out = torch.empty((len(split.x), split.x.shape[1], *size), dtype=torch.float32)
    for start in range(0, len(split.x), 1024):  # chunks: one float copy of the split at a time
        out[start:start + 1024] = F.interpolate(split.x[start:start + 1024], size=size, mode="bilinear",
                                                align_corners=False, antialias=True)
    teacher_rows = split.teacher_x if split.teacher_x is not None else split.x
    return replace(split, x=out, teacher_x=teacher_rows)


def context_for(ctx: BuildContext, resolution: tuple[int, int] | None) -> BuildContext:
    """``ctx`` with its data at ``resolution`` (``None``: unchanged)."""
    if resolution is None:
        return ctx
    return replace(ctx, data=at_resolution(ctx.data, resolution))


def chosen_context(state, ctx: BuildContext) -> BuildContext:
    """The context every stage after the search sees: the data at the chosen student's size."""
    chosen = (state.search or {}).get("chosen") or {}
    size = chosen.get("resolution")
    return context_for(ctx, tuple(size) if size else None)
