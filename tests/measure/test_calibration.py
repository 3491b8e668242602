"""Calibration metrics: golden values by hand, calibrated data, temperature scaling."""

from __future__ import annotations

import math

import numpy as np
import pytest

from edgekd.calibrate.temperature import fit_temperature
from edgekd.measure.calibration import agreement, calibration_metrics, reliability_bins

# Four samples, three classes; logits = log(p) so softmax gives p back exactly.
PROBS = np.array([
    [0.70, 0.20, 0.10],  # label 0: correct, confidence 0.70
    [0.62, 0.28, 0.10],  # label 1: wrong,   confidence 0.62
    [0.05, 0.90, 0.05],  # label 1: correct, confidence 0.90
    [0.20, 0.18, 0.62],  # label 2: correct, confidence 0.62
])
LABELS = np.array([0, 1, 1, 2])


def test_golden_four_samples():
    # top1 = 3/4 = 0.75
    # NLL  = -(ln .70 + ln .28 + ln .90 + ln .62) / 4
    #      = (0.356675 + 1.272966 + 0.105361 + 0.478036) / 4 = 2.213038 / 4 = 0.553260
    # Brier (sum over classes of (p - onehot)^2, then mean):
    #   s1: .3^2 + .2^2 + .1^2          = .09 + .04 + .01     = 0.1400
    #   s2: .62^2 + .72^2 + .1^2        = .3844 + .5184 + .01 = 0.9128
    #   s3: .05^2 + .1^2 + .05^2        = .0025 + .01 + .0025 = 0.0150
    #   s4: .2^2 + .18^2 + .38^2        = .04 + .0324 + .1444 = 0.2168
    #   mean = 1.2846 / 4 = 0.32115
    # ECE, 15 bins of width 1/15 (edges .6, .6667, .7333, ..., .8667, .9333):
    #   bin (.6, .6667]:   s2, s4 -> conf .62, acc 1/2, gap .12, weight 2/4
    #   bin (.6667, .7333]: s1    -> conf .70, acc 1,   gap .30, weight 1/4
    #   bin (.8667, .9333]: s3    -> conf .90, acc 1,   gap .10, weight 1/4
    #   ECE = .5*.12 + .25*.30 + .25*.10 = .06 + .075 + .025 = 0.16;  MCE = 0.30
    m = calibration_metrics(np.log(PROBS), LABELS)
    assert m["top1"] == pytest.approx(0.75)
    assert m["nll"] == pytest.approx(2.213038 / 4, abs=1e-6)
    assert m["brier"] == pytest.approx(0.32115, abs=1e-9)
    assert m["ece"] == pytest.approx(0.16, abs=1e-9)
    assert m["mce"] == pytest.approx(0.30, abs=1e-9)


def test_shift_invariant_and_stable_for_huge_logits():
    base = calibration_metrics(np.log(PROBS), LABELS)
    shifted = calibration_metrics(np.log(PROBS) + 1000.0, LABELS)  # naive exp() overflows here
    for key in base:
        assert shifted[key] == pytest.approx(base[key], abs=1e-9)
    extreme = calibration_metrics(np.array([[1e4, -1e4], [-1e4, 1e4]], np.float32), np.array([0, 0]))
    assert all(math.isfinite(v) for v in extreme.values())
    assert extreme["nll"] == pytest.approx(1e4)  # -log softmax of the wrong class: 2e4 / 2 samples


def test_reliability_bins_golden():
    bins = reliability_bins(np.log(PROBS), LABELS)
    assert len(bins) == 15 and sum(b["count"] for b in bins) == 4
    assert bins[0]["lo"] == 0.0 and bins[-1]["hi"] == pytest.approx(1.0)
    filled = {i: b for i, b in enumerate(bins) if b["count"]}
    assert sorted(filled) == [9, 10, 13]
    assert filled[9]["count"] == 2 and filled[9]["accuracy"] == 0.5
    assert filled[9]["confidence"] == pytest.approx(0.62)
    assert bins[0]["confidence"] is None and bins[0]["accuracy"] is None


def _calibrated(n, k, rng, conf_low=1 / 3):
    """Logits whose top-1 confidence c is exactly right: the label equals the argmax w.p. c."""
    conf = rng.uniform(conf_low, 1.0, n)
    pred = rng.integers(0, k, n)
    probs = np.repeat(((1 - conf) / (k - 1))[:, None], k, axis=1)
    probs[np.arange(n), pred] = conf
    wrong = (pred + rng.integers(1, k, n)) % k
    labels = np.where(rng.random(n) < conf, pred, wrong)
    return np.log(probs), labels


def test_perfectly_calibrated_data_has_ece_near_zero():
    logits, labels = _calibrated(40_000, 3, np.random.default_rng(0))
    assert calibration_metrics(logits, labels)["ece"] < 0.015
    # The same predictions made over-confident are clearly miscalibrated.
    assert calibration_metrics(logits * 5, labels)["ece"] > 0.1


def test_temperature_recovers_overconfidence():
    rng = np.random.default_rng(1)
    n, k = 6000, 10
    logits = rng.normal(0, 2.0, (n, k))
    p = np.exp(logits - logits.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    labels = (p.cumsum(1) > rng.random((n, 1))).argmax(1)  # labels drawn from softmax(logits): T=1 is right
    hot = logits * 5  # deliberately over-confident
    val, test = slice(0, n // 2), slice(n // 2, n)
    t = fit_temperature(hot[val], labels[val])
    assert t == pytest.approx(5.0, rel=0.10)
    before, after = calibration_metrics(hot[test], labels[test]), calibration_metrics(hot[test] / t, labels[test])
    assert after["nll"] < before["nll"] and after["ece"] < before["ece"]
    assert after["top1"] == before["top1"]  # scaling never changes the argmax


@pytest.mark.parametrize("logits,labels", [
    (np.zeros((0, 3)), np.zeros(0)),  # no samples
    (np.ones((4, 3)), np.array([0, 1, 2, 0])),  # constant rows: T has no effect
    (np.array([[np.nan, 1.0]]), np.array([0])),  # non-finite
    (np.ones((3, 1)), np.zeros(3)),  # one class
])
def test_fit_temperature_degenerate_is_one(logits, labels):
    assert fit_temperature(logits, labels) == 1.0


def test_agreement():
    a = np.array([[1, 0], [0, 1], [1, 0], [0, 1]])
    b = np.array([[5, 1], [2, 1], [3, 0], [0, 9]])
    assert agreement(a, b) == 0.75
    with pytest.raises(ValueError):
        agreement(a, b[:3])


def test_bad_inputs_raise():
    with pytest.raises(ValueError):
        calibration_metrics(np.zeros((2, 3)), np.array([0, 3]))
    with pytest.raises(ValueError):
        calibration_metrics(np.zeros((2, 3)), np.array([0]))
    with pytest.raises(ValueError):
        calibration_metrics(np.zeros((0, 3)), np.zeros(0))
