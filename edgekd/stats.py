"""Sampling error of the figures a build reports: what a test or val split of n samples can resolve.

Used by the baseline comparison (is a change bigger than the test split can measure?) and by
the chance check (is a model distinguishable from guessing?). Pure Python and numpy; no SciPy.

* Top-1 is a binomial proportion. Its interval is Wilson's score interval (good coverage even
  near 0 or 1, unlike the normal "Wald" interval), and the interval of a *difference* of two
  top-1 figures is Newcombe's hybrid score interval built from the two Wilson intervals
  (Newcombe 1998, "Interval estimation for the difference between independent proportions",
  method 10). The two reports are treated as independent samples, which is conservative when
  both come from the same test split (a paired test would be narrower, but needs per-sample
  predictions, which report.json does not keep).
* ECE has no simple closed-form variance, so its interval comes from a bootstrap. report.json
  keeps the reliability bins (count, mean confidence, accuracy per bin) and ECE is a function of
  those alone, so each resample draws the bin counts from a multinomial and the correct count of
  each bin from a binomial. This is the ordinary nonparametric bootstrap of the binned ECE except
  that a bin's mean confidence is held fixed (its spread inside a 1/15-wide bin is small next to
  the binomial noise of the bin's accuracy); the tests check it against a per-sample bootstrap.
* Chance: a one-sided exact binomial test of "top-1 = chance rate" on the split's n samples.
* Paired: two models on the *same* samples (the KD student and the hard-label baseline, inside
  one build). Only the discordant samples (one right, the other wrong) carry evidence; McNemar's
  exact test is the two-sided binomial test of "each discordant sample is a coin flip", and the
  difference's interval is the normal interval of the mean of the per-sample differences.
"""

from __future__ import annotations

import math
from statistics import NormalDist
from typing import Sequence

import numpy as np

CONFIDENCE = 0.95  # two-sided level of every interval, unless a caller says otherwise
CHANCE_ALPHA = 0.05  # one-sided level of the "better than chance" test
BOOTSTRAP_RESAMPLES = 2000


def z_value(confidence: float = CONFIDENCE) -> float:
    """The two-sided standard normal quantile for ``confidence`` (1.96 for 0.95)."""
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    return NormalDist().inv_cdf((1 + confidence) / 2)


def wilson_interval(p: float, n: int, confidence: float = CONFIDENCE) -> tuple[float, float]:
    """Wilson score interval of a proportion ``p`` observed on ``n`` samples.

    Returns:
        ``(low, high)``, both in [0, 1]; ``(0, 1)`` when ``n`` is 0.
    """
    if n <= 0:
        return 0.0, 1.0
    z = z_value(confidence)
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def difference_interval(p_new: float, n_new: int, p_old: float, n_old: int,
                        confidence: float = CONFIDENCE) -> tuple[float, float]:
    """Newcombe's hybrid score interval of ``p_new - p_old`` (two independent proportions).

    Returns:
        ``(low, high)`` of the difference; a drop is resolved by the samples when ``high < 0``.
    """
    l1, u1 = wilson_interval(p_new, n_new, confidence)
    l2, u2 = wilson_interval(p_old, n_old, confidence)
    diff = p_new - p_old
    low = diff - math.sqrt((p_new - l1) ** 2 + (u2 - p_old) ** 2)
    high = diff + math.sqrt((u1 - p_new) ** 2 + (p_old - l2) ** 2)
    return low, high


def ece_of_bins(bins: Sequence[dict]) -> float:
    """ECE from reliability bins (``count``, ``confidence``, ``accuracy``), as the measure stage defines it."""
    total = sum(b["count"] for b in bins)
    if total == 0:
        return 0.0
    return float(sum(b["count"] / total * abs(b["accuracy"] - b["confidence"]) for b in bins if b["count"]))


def bootstrap_ece(bins: Sequence[dict], resamples: int = BOOTSTRAP_RESAMPLES, seed: int = 0) -> np.ndarray:
    """``resamples`` bootstrap replicates of the binned ECE, drawn from the reliability bins alone.

    Each replicate draws the bin counts from Multinomial(n, count_b / n) and each bin's correct
    count from Binomial(count*_b, accuracy_b); the bin's mean confidence is kept. Seeded, so the
    same bins always give the same replicates.
    """
    full = [b for b in bins if b["count"]]
    if not full:
        return np.zeros(resamples)
    counts = np.array([b["count"] for b in full], dtype=np.int64)
    acc = np.array([b["accuracy"] for b in full], dtype=np.float64)
    conf = np.array([b["confidence"] for b in full], dtype=np.float64)
    n = int(counts.sum())
    rng = np.random.default_rng(seed)
    drawn = rng.multinomial(n, counts / n, size=resamples)  # (R, bins)
    correct = rng.binomial(drawn, acc)
    with np.errstate(invalid="ignore", divide="ignore"):
        gap = np.where(drawn > 0, np.abs(correct / np.maximum(drawn, 1) - conf), 0.0)
    return (drawn * gap).sum(axis=1) / n


def ece_difference_interval(bins_new: Sequence[dict], bins_old: Sequence[dict], confidence: float = CONFIDENCE,
                            resamples: int = BOOTSTRAP_RESAMPLES) -> tuple[float, float]:
    """Percentile bootstrap interval of ``ECE_new - ECE_old`` (independent resamples of each report's bins)."""
    new = bootstrap_ece(bins_new, resamples, seed=1)
    old = bootstrap_ece(bins_old, resamples, seed=2)
    diff = new - old
    tail = (1 - confidence) / 2
    low, high = np.quantile(diff, [tail, 1 - tail])
    return float(low), float(high)


def binomial_sf(k: int, n: int, p: float) -> float:
    """P(X >= k) for X ~ Binomial(n, p), summed in log space (exact for any n)."""
    if k <= 0:
        return 1.0
    if k > n:
        return 0.0
    if p <= 0:
        return 0.0
    if p >= 1:
        return 1.0
    log_p, log_q, log_n = math.log(p), math.log1p(-p), math.lgamma(n + 1)
    terms = [log_n - math.lgamma(i + 1) - math.lgamma(n - i + 1) + i * log_p + (n - i) * log_q
             for i in range(k, n + 1)]
    top = max(terms)
    return min(1.0, math.exp(top) * sum(math.exp(t - top) for t in terms))


def above_chance_threshold(n: int, chance: float, alpha: float = CHANCE_ALPHA) -> float:
    """The smallest top-1 on ``n`` samples that an exact one-sided binomial test calls better than chance.

    A model with top-1 below this cannot be told apart from guessing at rate ``chance`` (the
    share of the most frequent class; 1 / classes on a balanced split) at level ``alpha``.
    Returns 1.0 when no result on ``n`` samples could reject chance (e.g. n = 2).
    """
    if n <= 0:
        return 1.0
    # Start from the normal approximation and walk to the exact critical count.
    guess = int(n * chance + z_value(1 - 2 * alpha) * math.sqrt(n * chance * (1 - chance)))
    k = min(max(guess, 0), n + 1)
    while k > 0 and binomial_sf(k - 1, n, chance) <= alpha:
        k -= 1
    while k <= n and binomial_sf(k, n, chance) > alpha:
        k += 1
    return min(1.0, k / n)


def paired_accuracy(first: Sequence[int], second: Sequence[int], labels: Sequence[int],
                    confidence: float = CONFIDENCE) -> dict:
    """Top-1 of ``first`` minus that of ``second`` on the same samples (predicted classes), judged pairwise.

    Returns ``difference``, its ``interval``, ``only_first_right`` and ``only_second_right`` (the
    discordant counts) and McNemar's exact two-sided ``mcnemar_p``.
    """
    if not len(first) == len(second) == len(labels):
        raise ValueError(f"{len(first)}, {len(second)} and {len(labels)} predictions and labels: need one each")
    n = len(labels)
    first_only = sum(a == y != b for a, b, y in zip(first, second, labels))
    second_only = sum(b == y != a for a, b, y in zip(first, second, labels))
    discordant = first_only + second_only
    difference = (first_only - second_only) / n if n else 0.0
    # Per-sample differences are +1, -1 or 0: their variance is discordant/n - difference^2.
    half = z_value(confidence) * math.sqrt(max(discordant / n - difference ** 2, 0.0) / n) if n else 0.0
    # Two-sided exact p: twice the smaller tail of Binomial(discordant, 1/2), capped at 1.
    p = min(1.0, 2 * binomial_sf(max(first_only, second_only), discordant, 0.5)) if discordant else 1.0
    return {"difference": difference, "interval": [difference - half, difference + half],
            "only_first_right": first_only, "only_second_right": second_only, "mcnemar_p": p}
