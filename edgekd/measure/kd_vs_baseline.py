"""Did distillation beat hard labels? The KD student against the hard-label baseline, sample by sample.

With ``distill.train_baseline`` a build trains the same student twice, with and without the
teacher. Both run on the same test samples, so the comparison is paired (McNemar's exact test on
the samples only one of them gets right), which resolves far smaller differences than two
independent top-1 figures. The teacher's own test top-1 is set beside it: on held-out speakers KD
beat hard labels where the teacher itself beat the hard-label student, and lost where it did not
(benchmarks/RESULTS.md, leave-one-speaker-out), so a teacher that trails the baseline is named as
the likely cause.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..stats import paired_accuracy

SIGNIFICANCE = 0.05  # two-sided level at which the verdict calls a difference real


def compare(logits_of: dict[str, np.ndarray], labels: np.ndarray, curves: dict[str, Any]) -> dict[str, Any] | None:
    """The paired comparison on the test split, or None without both a student and a baseline measured."""
    if "student" not in logits_of or "baseline" not in logits_of:
        return None
    y = [int(v) for v in np.asarray(labels).reshape(-1)]
    student, baseline = (logits_of[n].argmax(1).tolist() for n in ("student", "baseline"))
    versus = paired_accuracy(student, baseline, y)
    teacher = logits_of.get("teacher")
    kept = {n: (curves.get(n) or {}).get("kept_val_top1") for n in ("student", "baseline")}
    return {"split": "test", "samples": len(y),
            "student_top1": _top1(student, y), "baseline_top1": _top1(baseline, y),
            "teacher_top1": None if teacher is None else _top1(teacher.argmax(1).tolist(), y),
            "student_val_top1": kept["student"], "baseline_val_top1": kept["baseline"], **versus}


def verdict(comparison: dict[str, Any]) -> str:
    """One sentence: who won on test, how sure, and (when KD lost) the likely cause."""
    diff, (low, high), p = comparison["difference"], comparison["interval"], comparison["mcnemar_p"]
    figures = (f"{100 * diff:+.2f} points on {comparison['samples']} test samples (95% interval {100 * low:+.2f} "
               f"to {100 * high:+.2f}; McNemar p {_p(p)})")
    if p >= SIGNIFICANCE:
        return f"KD student vs hard-label baseline: {figures}: no difference this test split can resolve."
    if diff > 0:
        return f"KD beat hard labels: {figures}."
    teacher, baseline = comparison["teacher_top1"], comparison["baseline_top1"]
    if teacher is not None and teacher <= baseline:
        cause = (f"the teacher itself scores {100 * teacher:.2f}%, not above the hard-label student's "
                 f"{100 * baseline:.2f}%, so it has nothing to pass on here: use a stronger teacher, or ship the "
                 "baseline")
    else:
        cause = ("the teacher leads the baseline, yet the KD student trails it: retune distill.temperature and "
                 "distill.alpha, choosing on val, never on this test split")
    return f"Hard labels beat KD: {figures}; {cause}."


def table_rows(comparison: dict[str, Any]) -> list[tuple[str, float | None, float | None]]:
    """``(model, val top-1 of the kept weights, test top-1)`` for the reports (None: not measured)."""
    return [("KD student", comparison.get("student_val_top1"), comparison["student_top1"]),
            ("hard-label baseline", comparison.get("baseline_val_top1"), comparison["baseline_top1"]),
            ("teacher", None, comparison.get("teacher_top1"))]


def discordant(comparison: dict[str, Any]) -> str:
    """The sentence with the samples that decide the comparison."""
    return (f"Only the KD student right: {comparison['only_first_right']} test samples; only the baseline: "
            f"{comparison['only_second_right']}.")


def _top1(pred: list[int], labels: list[int]) -> float:
    return sum(p == y for p, y in zip(pred, labels)) / len(labels) if labels else 0.0


def _p(p: float) -> str:
    return "< 0.001" if p < 0.001 else f"{p:.3f}"
