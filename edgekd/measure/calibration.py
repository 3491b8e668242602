"""Calibration of a classifier's probabilities, measured: ECE, MCE, NLL, Brier, reliability bins.

Everything here works on raw logits ``[N, K]`` and integer labels ``[N]`` as numpy arrays
and turns logits into probabilities with a numerically stable (max-shifted) softmax, so
INT8 runtimes that emit large logits do not overflow.

ECE follows Guo et al. 2017, "On Calibration of Modern Neural Networks": the top-1
confidence of each sample is put into ``n_bins`` equal-width bins on [0, 1] (bin ``i``
is ``(i/n, (i+1)/n]``, with confidence 0 in the first bin), and

    ECE = sum_b |B_b| / N * |acc(B_b) - conf(B_b)|,   MCE = max_b |acc(B_b) - conf(B_b)|

over non-empty bins.
"""

from __future__ import annotations

import numpy as np


def check_logits(logits, labels) -> tuple[np.ndarray, np.ndarray]:
    logits = np.asarray(logits, dtype=np.float64)
    labels = np.asarray(labels).astype(np.int64).reshape(-1)
    if logits.ndim != 2:
        raise ValueError(f"logits must be [N, K], got shape {logits.shape}")
    if logits.shape[0] != labels.shape[0]:
        raise ValueError(f"{logits.shape[0]} logits rows but {labels.shape[0]} labels")
    if labels.size and (labels.min() < 0 or labels.max() >= logits.shape[1]):
        raise ValueError(f"labels must lie in [0, {logits.shape[1]}), got [{labels.min()}, {labels.max()}]")
    return logits, labels


def log_softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise log-softmax, stable for any finite logits (subtracts the row max)."""
    z = np.asarray(logits, dtype=np.float64)
    z = z - z.max(axis=1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=1, keepdims=True))


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax probabilities (float64)."""
    return np.exp(log_softmax(logits))


def _bin_index(conf: np.ndarray, n_bins: int) -> np.ndarray:
    # Right-closed bins (lo, hi]; ceil(c*n)-1 puts c exactly on an edge into the lower bin.
    return np.clip(np.ceil(conf * n_bins).astype(np.int64) - 1, 0, n_bins - 1)


def reliability_bins(logits, labels, n_bins: int = 15) -> list[dict]:
    """Per-bin confidence and accuracy for a reliability diagram.

    Args:
        logits: Raw model outputs, shape ``[N, K]``.
        labels: Integer class labels, shape ``[N]``.
        n_bins: Number of equal-width confidence bins on [0, 1].

    Returns:
        One dict per bin (empty bins included, in order) with ``lo``, ``hi``, ``count``,
        ``confidence`` (mean top-1 probability) and ``accuracy`` (fraction correct); the
        last two are ``None`` for an empty bin.
    """
    logits, labels = check_logits(logits, labels)
    probs = softmax(logits) if logits.size else np.zeros_like(logits)
    conf = probs.max(axis=1) if logits.size else np.zeros(0)
    correct = (probs.argmax(axis=1) == labels) if logits.size else np.zeros(0, dtype=bool)
    idx = _bin_index(conf, n_bins)
    bins = []
    for b in range(n_bins):
        mask = idx == b
        count = int(mask.sum())
        bins.append({
            "lo": b / n_bins,
            "hi": (b + 1) / n_bins,
            "count": count,
            "confidence": float(conf[mask].mean()) if count else None,
            "accuracy": float(correct[mask].mean()) if count else None,
        })
    return bins


def calibration_metrics(logits, labels, n_bins: int = 15) -> dict:
    """Top-1 accuracy and calibration of logits against labels.

    Args:
        logits: Raw model outputs, shape ``[N, K]`` (any float dtype).
        labels: Integer class labels, shape ``[N]``.
        n_bins: Number of equal-width confidence bins for ECE/MCE.

    Returns:
        ``{"ece", "mce", "nll", "brier", "top1"}`` as floats. NLL is the mean negative
        log-likelihood of the true class; Brier is the mean over samples of the sum over
        classes of ``(p - onehot)^2`` (range [0, 2]).

    Raises:
        ValueError: On mismatched shapes, out-of-range labels or no samples.
    """
    logits, labels = check_logits(logits, labels)
    n = logits.shape[0]
    if n == 0:
        raise ValueError("calibration_metrics needs at least one sample")
    logp = log_softmax(logits)
    probs = np.exp(logp)
    rows = np.arange(n)
    nll = float(-logp[rows, labels].mean())
    onehot = np.zeros_like(probs)
    onehot[rows, labels] = 1.0
    brier = float(((probs - onehot) ** 2).sum(axis=1).mean())
    top1 = float((probs.argmax(axis=1) == labels).mean())
    ece, mce = 0.0, 0.0
    for b in reliability_bins(logits, labels, n_bins):
        if b["count"]:
            gap = abs(b["accuracy"] - b["confidence"])
            ece += b["count"] / n * gap
            mce = max(mce, gap)
    return {"ece": float(ece), "mce": float(mce), "nll": nll, "brier": brier, "top1": top1}


def agreement(logits_a, logits_b) -> float:
    """Fraction of samples whose top-1 class is the same under both sets of logits.

    Args:
        logits_a: ``[N, K]`` logits of one model.
        logits_b: ``[N, K]`` logits of another model on the same inputs.

    Returns:
        Top-1 agreement in [0, 1] (1.0 for zero samples).
    """
    a = np.asarray(logits_a)
    b = np.asarray(logits_b)
    if a.shape[0] != b.shape[0]:
        raise ValueError(f"agreement needs the same number of samples, got {a.shape[0]} and {b.shape[0]}")
    if a.shape[0] == 0:
        return 1.0
    return float((a.argmax(axis=1) == b.argmax(axis=1)).mean())
