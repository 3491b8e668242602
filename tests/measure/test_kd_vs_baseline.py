"""The KD student against the hard-label baseline, paired on the test samples, and the verdict's wording."""

import numpy as np
import pytest

from edgekd.measure.kd_vs_baseline import compare, verdict


def _logits(pred, classes=3):
    return np.eye(classes)[pred] * 5.0


def test_compare_pairs_student_and_baseline_on_the_same_samples():
    labels = np.array([0, 1, 2, 0, 1, 2, 0, 1])
    student = [0, 1, 2, 0, 1, 2, 1, 2]   # right on 0-5
    baseline = [0, 1, 0, 1, 1, 2, 1, 2]  # right on 0, 1, 4, 5
    teacher = [0, 1, 2, 0, 1, 2, 0, 1]   # right everywhere
    curves = {"student": {"kept_val_top1": 0.9}, "baseline": {"kept_val_top1": 0.8}}
    out = compare({"student": _logits(student), "baseline": _logits(baseline), "teacher": _logits(teacher)},
                  labels, curves)
    assert (out["student_top1"], out["baseline_top1"], out["teacher_top1"]) == (0.75, 0.5, 1.0)
    assert (out["only_first_right"], out["only_second_right"], out["samples"]) == (2, 0, 8)
    assert out["difference"] == pytest.approx(0.25)
    assert out["mcnemar_p"] == pytest.approx(0.5)  # 2 * (1/2)**2
    assert (out["student_val_top1"], out["baseline_val_top1"]) == (0.9, 0.8)
    assert compare({"student": _logits(student)}, labels, curves) is None  # no baseline trained


def _versus(diff, p, teacher, baseline=0.6):
    return {"samples": 500, "difference": diff, "interval": [diff - 0.03, diff + 0.03], "mcnemar_p": p,
            "teacher_top1": teacher, "baseline_top1": baseline}


@pytest.mark.parametrize("versus, expected", [
    (_versus(0.05, 0.2, 0.7), "no difference this test split can resolve"),
    (_versus(0.05, 0.01, 0.7), "KD beat hard labels: +5.00 points on 500 test samples (95% interval +2.00 to +8.00; "
                               "McNemar p 0.010)."),
    (_versus(-0.048, 0.014, 0.45, 0.588), "the teacher itself scores 45.00%, not above the hard-label student's "
                                          "58.80%"),
    (_versus(-0.05, 0.0001, 0.7), "McNemar p < 0.001); the teacher leads the baseline, yet the KD student trails "
                                  "it: retune distill.temperature"),
])
def test_verdict_names_the_winner_and_when_kd_lost_the_likely_cause(versus, expected):
    assert expected in verdict(versus)
