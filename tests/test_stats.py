"""The sampling-error figures behind the baseline gate and the chance check, against published values."""

import math

import numpy as np
import pytest

from edgekd import stats
from edgekd.measure.calibration import calibration_metrics, reliability_bins


def test_wilson_interval_matches_newcombes_worked_examples():
    # Newcombe 1998 (Stat. Med. 17:857), single proportion: 81/263 -> 0.2553 to 0.3662.
    low, high = stats.wilson_interval(81 / 263, 263)
    assert (low, high) == pytest.approx((0.2553, 0.3662), abs=1e-4)
    assert stats.wilson_interval(0.5, 100) == pytest.approx((0.4038, 0.5962), abs=1e-4)
    assert (stats.wilson_interval(1.0, 10)[1] == pytest.approx(1.0)
            and stats.wilson_interval(0.0, 10)[0] == pytest.approx(0))
    assert stats.wilson_interval(0.3, 0) == (0.0, 1.0)  # no samples: nothing is known


def test_difference_interval_is_newcombes_method_10():
    # Newcombe 1998 (Stat. Med. 17:873), Table II, method 10 ("hybrid score").
    assert stats.difference_interval(56 / 70, 70, 48 / 80, 80) == pytest.approx((0.0524, 0.3339), abs=1e-4)
    assert stats.difference_interval(9 / 10, 10, 3 / 10, 10) == pytest.approx((0.1705, 0.8090), abs=1e-4)
    # On the digits test split (360 images) a one-image change is far inside the interval ...
    low, high = stats.difference_interval(0.9722, 360, 0.975, 360)
    assert low < 0 < high
    # ... and a 10-point drop is resolved.
    assert stats.difference_interval(0.875, 360, 0.975, 360)[1] < 0


def test_binomial_tail_and_chance_threshold_by_hand():
    def tail(k, n, p):
        return sum(math.comb(n, i) * p**i * (1 - p) ** (n - i) for i in range(k, n + 1))

    for k, n, p in ((15, 30, 1 / 3), (0, 5, 0.2), (5, 5, 0.2), (47, 360, 0.1)):
        assert stats.binomial_sf(k, n, p) == pytest.approx(tail(k, n, p), rel=1e-9, abs=1e-15)
    # 30 val samples, 3 balanced classes: 14 correct (46.7%) is P = 0.090 under guessing, 15 (50%) is 0.043.
    assert stats.above_chance_threshold(30, 1 / 3) == pytest.approx(15 / 30)
    assert stats.binomial_sf(15, 30, 1 / 3) <= 0.05 < stats.binomial_sf(14, 30, 1 / 3)
    assert stats.above_chance_threshold(360, 0.1) == pytest.approx(47 / 360)
    assert stats.above_chance_threshold(2, 0.5) == 1.0  # two samples can never beat a coin
    assert stats.above_chance_threshold(0, 0.5) == 1.0


def _synthetic(n, seed):
    """Logits of a slightly over-confident 10-class model on n samples."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 10, n)
    logits = rng.normal(0, 1, (n, 10))
    logits[np.arange(n), labels] += rng.normal(2.5, 1.5, n)
    return logits * 1.4, labels


def test_ece_of_bins_is_the_measured_ece():
    logits, labels = _synthetic(500, 0)
    assert stats.ece_of_bins(reliability_bins(logits, labels)) == pytest.approx(
        calibration_metrics(logits, labels)["ece"], abs=1e-12)


def test_bootstrap_from_bins_matches_a_per_sample_bootstrap():
    """Resampling the bins gives the spread a bootstrap over the samples themselves gives."""
    logits, labels = _synthetic(360, 1)
    from_bins = stats.bootstrap_ece(reliability_bins(logits, labels), resamples=1000, seed=3)
    rng = np.random.default_rng(4)
    per_sample = []
    for _ in range(300):
        idx = rng.integers(0, 360, 360)
        per_sample.append(calibration_metrics(logits[idx], labels[idx])["ece"])
    assert np.std(from_bins) == pytest.approx(np.std(per_sample), rel=0.25)
    assert np.mean(from_bins) == pytest.approx(np.mean(per_sample), rel=0.15)
    # Seeded: the same bins give the same replicates.
    assert np.array_equal(from_bins, stats.bootstrap_ece(reliability_bins(logits, labels), resamples=1000, seed=3))


def test_ece_difference_interval_resolves_only_real_changes():
    logits, labels = _synthetic(360, 2)
    bins = reliability_bins(logits, labels)
    low, high = stats.ece_difference_interval(bins, bins)
    assert low < 0 < high  # the same model against itself
    worse = reliability_bins(logits * 4.0, labels)  # much more over-confident
    assert stats.ece_difference_interval(worse, bins)[0] > 0


def test_paired_accuracy_counts_only_discordant_samples():
    # labels 0; first right on samples 0-2, second right on 3; both right on 4-8; both wrong on 9.
    first = [0, 0, 0, 1, 0, 0, 0, 0, 0, 1]
    second = [1, 1, 1, 0, 0, 0, 0, 0, 0, 1]
    out = stats.paired_accuracy(first, second, [0] * 10)
    # +20 points; sd of the per-sample differences sqrt(4/10 - 0.2**2) = 0.6, se 0.6 / sqrt(10).
    assert out["difference"] == pytest.approx(0.2)
    assert out["interval"] == pytest.approx([0.2 - 1.959964 * 0.189737, 0.2 + 1.959964 * 0.189737], abs=1e-5)
    assert (out["only_first_right"], out["only_second_right"]) == (3, 1)
    assert out["mcnemar_p"] == pytest.approx(2 * 5 / 16)  # 2 * P(X <= 1), X ~ Bin(4, 1/2)
    with pytest.raises(ValueError, match="one each"):
        stats.paired_accuracy([0], [0, 1], [0, 1])
