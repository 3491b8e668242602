"""Plots of how the models learned: training curves and the confusion matrix (PNG bytes, Agg backend).

Like :mod:`edgekd.report.plots`, each function takes report.json data only.
"""

from __future__ import annotations

from typing import Any

from .plots import _figure, _png

_CURVE_COLOURS = {"teacher": "#7f7f7f", "student": "#1f77b4", "baseline": "#ff7f0e", "student-pruned": "#2ca02c"}
# Beyond this many classes the cell counts are unreadable; the colours still show the pattern.
_ANNOTATE_MAX_CLASSES = 20


def curve_name(key: str) -> str:
    """``student_pruned_history`` -> ``student-pruned`` (the model the curve belongs to)."""
    return key.removesuffix("_history").replace("_", "-")


def training_curves(training: dict[str, Any]) -> bytes | None:
    """Training loss and val top-1 per epoch for every trained model (teacher, student, baseline, pruned).

    The val top-1 panel also draws each model's better-than-chance threshold when the build
    recorded one, so a curve stuck at chance is visible at a glance.
    """
    curves = [(curve_name(k), h) for k, h in training.items() if h and h.get("epochs")]
    if not curves:
        return None
    import matplotlib.pyplot as plt

    fig, (loss_ax, top1_ax) = plt.subplots(1, 2, figsize=(10, 3.8), dpi=100)
    thresholds = set()
    for name, history in curves:
        epochs = [e["epoch"] for e in history["epochs"]]
        colour = _CURVE_COLOURS.get(name, "#9467bd")
        loss_ax.plot(epochs, [e["loss"] for e in history["epochs"]], "o-", color=colour, markersize=3, label=name)
        top1_ax.plot(epochs, [100 * e["val_top1"] for e in history["epochs"]], "o-", color=colour, markersize=3,
                     label=name)
        chance = history.get("chance") or {}
        if chance.get("threshold") is not None:
            thresholds.add(round(100 * chance["threshold"], 6))
    for i, level in enumerate(sorted(thresholds)):
        top1_ax.axhline(level, color="#d62728", linestyle=":", linewidth=1,
                        label="better than chance above" if i == 0 else None)
    loss_ax.set_title("training loss", fontsize=10)
    loss_ax.set_xlabel("epoch")
    loss_ax.set_ylabel("mean loss per sample")
    top1_ax.set_title("val top-1", fontsize=10)
    top1_ax.set_xlabel("epoch")
    top1_ax.set_ylabel("top-1 on the val split (%)")
    top1_ax.set_ylim(0, 100)
    for ax in (loss_ax, top1_ax):
        ax.grid(True, alpha=0.3)
        ax.xaxis.get_major_locator().set_params(integer=True)
        ax.legend(fontsize=8, loc="best")
    return _png(fig)


def confusion_matrix(matrix: dict[str, Any], model: str) -> bytes | None:
    """The confusion matrix as a heat map (rows: true class, columns: predicted), counts in the cells."""
    counts, labels = matrix.get("counts"), matrix.get("labels") or []
    if not counts:
        return None
    import numpy as np

    data = np.asarray(counts, dtype=float)
    k = len(labels)
    side = min(max(3.5, 0.45 * k + 2.0), 12.0)
    fig, ax = _figure(side + 1.0, side)
    image = ax.imshow(data, cmap="Blues")
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label="test samples")
    ticks = list(range(k))
    ax.set_xticks(ticks, labels, rotation=45 if max((len(str(x)) for x in labels), default=0) > 3 else 0,
                  ha="right" if max((len(str(x)) for x in labels), default=0) > 3 else "center", fontsize=8)
    ax.set_yticks(ticks, labels, fontsize=8)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    correct = int(np.trace(data))
    ax.set_title(f"{model}, {matrix.get('split', 'test')} split: {correct} of {int(data.sum())} correct",
                 fontsize=10)
    if k <= _ANNOTATE_MAX_CLASSES:
        top = data.max() or 1.0
        for i in range(k):
            for j in range(k):
                if data[i, j]:
                    ax.text(j, i, f"{int(data[i, j])}", ha="center", va="center", fontsize=7,
                            color="white" if data[i, j] > 0.6 * top else "#222222")
    return _png(fig)
