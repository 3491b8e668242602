"""Training sized to the data: the automatic batch size, and the check that a model beat chance.

Batch size (``distill.batch_size`` / ``teacher.batch_size``, default ``auto``): a fixed batch of
128 on a 210-image training split is 2 optimizer steps per epoch, and 15 epochs of 2 steps (one
of them warm-up) leave a MobileNet at chance while its loss falls. So ``auto`` keeps the
configured maximum (128 for distillation, 64 for the scratch teacher) only while it gives at
least :data:`MIN_STEPS_PER_EPOCH` optimizer steps per epoch; on smaller data the batch becomes
``ceil(n_train / MIN_STEPS_PER_EPOCH)``. An integer in the config is used exactly as given.
The effective value and the rule that chose it are recorded in the training history
(``report["training"]``).

Chance: after training, the best val top-1 is tested against the rate of always guessing the
most frequent val class (1 / classes on a balanced split) with an exact one-sided binomial test
on the val split's size (:func:`edgekd.stats.above_chance_threshold`). A model that cannot be
told apart from guessing gets a loud note on the console, on the model and in the report.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .. import stats

MIN_STEPS_PER_EPOCH = 20
DISTILL_MAX_BATCH = 128
TEACHER_MAX_BATCH = 64


def effective_batch_size(setting: int | str, n_train: int, maximum: int) -> tuple[int, str]:
    """The batch size to train with, and the rule that chose it in words.

    Args:
        setting: The config value: an integer (used as given) or ``"auto"``.
        n_train: Training samples.
        maximum: The largest batch ``auto`` uses (when the data is big enough).
    """
    if setting != "auto":
        return int(setting), f"{int(setting)}, as set in the config"
    n_train = max(int(n_train), 1)
    steps_at_max = math.ceil(n_train / maximum)
    if steps_at_max >= MIN_STEPS_PER_EPOCH:
        return maximum, f"auto: {maximum} ({steps_at_max} steps per epoch on {n_train:,} training samples)"
    batch = math.ceil(n_train / MIN_STEPS_PER_EPOCH)
    return batch, (f"auto: ceil({n_train:,} training samples / {MIN_STEPS_PER_EPOCH} steps) = {batch} "
                   f"(a batch of {maximum} would give only {steps_at_max} step{'s' if steps_at_max > 1 else ''} "
                   "per epoch)")


def chance_verdict(val_top1: float, val_labels: Any) -> dict[str, Any]:
    """Whether a val top-1 is distinguishable from guessing on this val split.

    Returns:
        ``{"split", "samples", "chance", "threshold", "top1", "at_chance"}``: ``chance`` is the rate
        of always guessing the most frequent class, ``threshold`` the smallest top-1 the exact
        binomial test (one-sided, 5%) calls better than chance.
    """
    labels = np.asarray(val_labels).reshape(-1).astype(np.int64)
    n = int(labels.size)
    chance = float(np.bincount(labels).max() / n) if n else 1.0
    threshold = stats.above_chance_threshold(n, chance)
    return {"split": "val", "samples": n, "chance": chance, "threshold": threshold, "top1": float(val_top1),
            "at_chance": bool(val_top1 < threshold)}


def chance_note(label: str, verdict: dict[str, Any], knob: str) -> str:
    """The loud note for a model that ended at chance (``knob``: the config key to change first)."""
    return (f"AT CHANCE: {label} ends at val top-1 {100 * verdict['top1']:.1f}%, not distinguishable from "
            f"guessing ({100 * verdict['chance']:.1f}%; better than chance needs >= "
            f"{100 * verdict['threshold']:.1f}% on {verdict['samples']} val samples). It is not deployable: "
            f"train longer or with more steps ({knob}), or check the labels and the data")


def finish_history(history: dict[str, Any], rule: str, val_labels: Any, label: str, knob: str,
                   reporter) -> tuple[dict[str, Any], str | None]:
    """The trainer's history with the batch rule and the chance verdict added, and the note to attach.

    A model at chance is announced on ``reporter`` at once; the returned note goes on the model.
    """
    verdict = chance_verdict(history["kept_val_top1"], val_labels)
    history = {**history, "batch_size_rule": rule, "chance": verdict}
    if not verdict["at_chance"]:
        return history, None
    note = chance_note(label, verdict, knob)
    if reporter is not None:
        reporter.note(note)
    return history, note
