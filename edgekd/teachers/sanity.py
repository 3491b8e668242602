"""The sanity check on a loaded teacher: it must beat chance on the val split before anything trains.

A teacher fed the wrong normalisation, layout or label order still runs; it just guesses.
Issue 11 saw such a teacher score 10.5% on 10 classes while the build went on and reported the
top-1 drop budget as met. So after loading, the teacher is scored on the val split and a
teacher below ``teacher.min_val_top1`` stops the build (exit 2) naming the likely causes and the
keys that fix them. The default threshold is 1.5x chance (``1.5 / classes``), at most a quarter
of the way from chance to 100% (so a 2-class teacher needs 62.5%, not 75%).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..errors import ModelFileError


class TeacherAtChanceError(ModelFileError):
    """The loaded teacher scores near chance on the val split (its input is probably not what it expects)."""


def default_min_top1(num_classes: int) -> float:
    """1.5x chance, capped at a quarter of the way from chance to 1."""
    chance = 1.0 / max(num_classes, 1)
    return min(1.5 * chance, chance + (1.0 - chance) / 4.0)


def check_val_top1(logits: np.ndarray, labels: np.ndarray, class_names: Sequence[str], threshold: float | None,
                   name: str, *, task: str, uses_input: bool) -> tuple[float, float]:
    """Score the teacher on val; raise when it is below the threshold.

    Args:
        logits: The teacher's logits (or log-probabilities) on the val split.
        labels: The val labels.
        class_names: Label index -> name (the message shows the first ones: the label order).
        threshold: ``teacher.min_val_top1``; ``None`` = :func:`default_min_top1`.
        name: The teacher's file name.
        task: ``image`` or ``audio`` (which keys the fix names).
        uses_input: Whether ``teacher.input`` is set (the fix then says to check it rather than add it).

    Returns:
        ``(val_top1, threshold)``.

    Raises:
        TeacherAtChanceError: top-1 below the threshold.
    """
    limit = default_min_top1(len(class_names)) if threshold is None else float(threshold)
    labels = np.asarray(labels).reshape(-1)
    top1 = float((np.asarray(logits).argmax(axis=1) == labels).mean()) if len(labels) else 1.0
    if top1 >= limit:
        return top1, limit
    order = ", ".join(f"{i}={c}" for i, c in enumerate(class_names[:4])) + (", ..." if len(class_names) > 4 else "")
    if task == "audio":
        scaling = "the front end (teacher.features: set it to the features the teacher was trained on, e.g. " \
                  "{preset: tensorflow-kws, type: mfcc, ...}; data.clip_align, peak_normalize)"
    else:
        verb = "check" if uses_input else "set"
        scaling = (f"the normalisation ({verb} teacher.input: scale/mean/std in the teacher's units, e.g. "
                   "{scale: 255} for a teacher on 0..255 pixels, and size)")
    raise TeacherAtChanceError(
        f"teacher {name} scores {100 * top1:.1f}% top-1 on the {len(labels)} val samples, below "
        f"{100 * limit:.1f}% (chance {100 / len(class_names):.1f}%): it is probably not fed what it was trained on",
        fix=f"check {scaling}; the label order (edgekd's class indices: {order}); the layout "
            "(teacher.input_layout nchw/nhwc); or set teacher.min_val_top1: 0 to skip this check")
