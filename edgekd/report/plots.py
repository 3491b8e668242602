"""The plots of report.html, drawn with matplotlib's Agg backend and returned as PNG bytes.

Each function takes plain report.json data, so a report can be re-rendered from the file alone.
"""

from __future__ import annotations

import io
from typing import Any

from .labels import group_points, place_labels

_ROLE_COLOURS = {"teacher": "#7f7f7f", "student": "#1f77b4", "baseline": "#ff7f0e"}


def _figure(width: float, height: float):
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt.subplots(figsize=(width, height), dpi=100)


def _png(fig, layout: bool = True) -> bytes:
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    if layout:
        fig.tight_layout()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return buf.getvalue()


def _log_helps(values: list[float]) -> bool:
    """A log axis only when the values span more than a decade (else it hides the differences)."""
    positive = [v for v in values if v > 0]
    return bool(positive) and max(positive) / min(positive) > 10


def pareto_front(points: list[tuple[float, float]]) -> list[int]:
    """Indices of the points no other point beats on both axes (lower x = latency, higher y = accuracy)."""
    front = []
    for i, (x, y) in enumerate(points):
        dominated = any((x2 <= x and y2 >= y) and (x2 < x or y2 > y) for j, (x2, y2) in enumerate(points) if j != i)
        if not dominated:
            front.append(i)
    return sorted(front, key=lambda i: points[i][0])


def accuracy_vs_latency(models: list[dict[str, Any]], target: str) -> bytes | None:
    """Top-1 vs predicted p50 latency on the target (low/high as error bars), Pareto front joined."""
    fig = accuracy_vs_latency_figure(models, target)
    return None if fig is None else _png(fig, layout=False)


def accuracy_vs_latency_figure(models: list[dict[str, Any]], target: str):
    """The figure of :func:`accuracy_vs_latency`, laid out and labelled (tests inspect its labels)."""
    rows = []
    for m in models:
        top1 = (m.get("accuracy") or {}).get("top1")
        pred = (m.get("latency_ms") or {}).get("predicted") or {}
        if top1 is not None and all(pred.get(k) is not None for k in ("p50", "low", "high")):
            rows.append((m, pred, top1))
    if not rows:
        return None
    fig, ax = _figure(7.5, 4.8)
    for m, pred, top1 in rows:
        colour = _ROLE_COLOURS.get(m["role"], "#2ca02c")
        ax.errorbar([pred["p50"]], [100 * top1],
                    xerr=[[pred["p50"] - pred["low"]], [pred["high"] - pred["p50"]]],
                    fmt="o", color=colour, capsize=3, alpha=0.85)
    front = pareto_front([(pred["p50"], top1) for _m, pred, top1 in rows])
    ax.plot([rows[i][1]["p50"] for i in front], [100 * rows[i][2] for i in front], "--", color="#d62728",
            label="Pareto front")
    ax.scatter([rows[i][1]["p50"] for i in front], [100 * rows[i][2] for i in front], s=140, facecolors="none",
               edgecolors="#d62728")
    log = _log_helps([v for _m, pred, _t in rows for v in (pred["low"], pred["high"])])
    if log:
        ax.set_xscale("log")
    _pad_limits(ax, [pred["low"] for _m, pred, _t in rows], [pred["high"] for _m, pred, _t in rows],
                [100 * t for *_r, t in rows], log)
    ax.set_xlabel(f"predicted p50 latency on {target} (ms{', log scale' if log else ''}; bars: low-high)")
    ax.set_ylabel("top-1 on the test split (%)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    whiskers = [(pred["low"], 100 * top1, pred["high"], 100 * top1) for _m, pred, top1 in rows]
    place_labels(ax, group_points([pred["p50"] for _m, pred, _t in rows], [100 * t for *_r, t in rows],
                                  [m["name"] for m, _p, _t in rows]), segments=whiskers)
    return fig


def _pad_limits(ax, lows: list[float], highs: list[float], ys: list[float], log: bool) -> None:
    """Leave room around the points for their labels (a third of the span, or a factor on a log axis)."""
    x0, x1 = min(lows), max(highs)
    if log:
        ax.set_xlim(x0 / 1.6, x1 * 2.5)
    else:
        span = (x1 - x0) or max(abs(x1), 1e-3)
        ax.set_xlim(max(0.0, x0 - 0.35 * span), x1 + 0.6 * span)
    y0, y1 = min(ys), max(ys)
    yspan = max(y1 - y0, 2.0)
    ax.set_ylim(max(0.0, y0 - 0.35 * yspan), min(100.0, y1 + 0.35 * yspan) + 0.5)


def reliability_diagrams(models: list[dict[str, Any]]) -> bytes | None:
    """One reliability diagram per model with bins: accuracy vs confidence, the gap shaded, ECE in the title."""
    with_bins = [m for m in models if (m.get("calibration") or {}).get("reliability")]
    if not with_bins:
        return None
    import math

    cols = min(3, len(with_bins))
    rows = math.ceil(len(with_bins) / cols)
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(rows, cols, figsize=(4 * cols, 3.6 * rows), dpi=100, squeeze=False)
    for ax in axes.flat[len(with_bins):]:
        ax.axis("off")
    for ax, m in zip(axes.flat, with_bins):
        bins = m["calibration"]["reliability"]
        width = bins[0]["hi"] - bins[0]["lo"]
        centres = [(b["lo"] + b["hi"]) / 2 for b in bins]
        acc = [b["accuracy"] if b["accuracy"] is not None else 0.0 for b in bins]
        conf = [b["confidence"] if b["confidence"] is not None else c for b, c in zip(bins, centres)]
        ax.bar(centres, acc, width=width * 0.95, color="#1f77b4", edgecolor="white", label="accuracy")
        ax.bar(centres, [c - a if b["count"] else 0 for c, a, b in zip(conf, acc, bins)], bottom=acc,
               width=width * 0.95, color="#d62728", alpha=0.3, label="gap to confidence")
        ax.plot([0, 1], [0, 1], "k--", linewidth=1)
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
        ece = m["calibration"]["ece"]
        ax.set_title(f"{m['name']}  ECE {'not measured' if ece is None else f'{ece:.4f}'}", fontsize=9)
        ax.set_xlabel("confidence", fontsize=8)
        ax.set_ylabel("accuracy", fontsize=8)
        ax.legend(loc="upper left", fontsize=7)
    return _png(fig)


def latency_on_targets(rows: list[dict[str, Any]], model: str) -> bytes | None:
    """Predicted p50 of ``model`` on every profile as a dot with a low-high whisker, budget as a red tick.

    Dots, not bars: the latencies span several decades, and a bar on a log axis has no meaningful
    length (it starts at an arbitrary floor), so its size would mislead.
    """
    rows = [r for r in rows if r.get("p50") is not None]
    if not rows:
        return None
    rows = sorted(rows, key=lambda r: r["p50"])
    fig, ax = _figure(7.5, 0.42 * len(rows) + 1.4)
    ys = list(range(len(rows)))
    for y, r in zip(ys, rows):
        colour = "#1f77b4" if r.get("supported", True) else "#9a9a9a"
        ax.errorbar([r["p50"]], [y], xerr=[[r["p50"] - r["low"]], [r["high"] - r["p50"]]], fmt="o", color=colour,
                    capsize=3)
        if r.get("budget_ms"):
            ax.plot([r["budget_ms"]] * 2, [y - 0.35, y + 0.35], color="#d62728", linewidth=2)
    ax.set_yticks(ys, [r["target"] for r in rows], fontsize=8)
    ax.set_ylim(-0.7, len(rows) - 0.3)
    values = [v for r in rows for v in (r["low"], r["high"], r.get("budget_ms") or r["p50"])]
    log = _log_helps(values)
    if log:
        ax.set_xscale("log")
    ax.set_xlabel(f"predicted latency of {model} (ms{', log scale' if log else ''}): dot p50, whisker low-high\n"
                  "red: the profile's p90 budget; grey: precision not listed by the profile", fontsize=8)
    ax.grid(True, axis="x", which="both", alpha=0.3)
    return _png(fig)


def search_pareto(candidates: list[dict[str, Any]], target: str, budget_ms: float | None) -> bytes | None:
    """Val top-1 (best epoch of its trial) vs predicted latency (upper bound) of every trained candidate.

    Untrained candidates (infeasible, or never reached) have no accuracy and are marked on the
    x axis; the latency budget is a vertical line, the Pareto front of the trained ones is joined.
    """
    trained: list[tuple[dict[str, Any], float, float]] = []
    untrained: list[tuple[dict[str, Any], float, None]] = []
    for c in candidates:
        high = (c.get("predicted_latency_ms") or {}).get("high")
        if high is None:
            continue
        curve = c.get("val_top1_by_epoch") or {}
        if curve:
            trained.append((c, high, max(curve.values())))
        else:
            untrained.append((c, high, None))
    if not trained and not untrained:
        return None
    fig, ax = _figure(7.5, 4.5)
    for c, high, top1 in trained:
        ax.scatter([high], [100 * top1], color="#1f77b4" if c["feasible"] else "#ff7f0e", zorder=3)
        ax.annotate(c["key"], (high, 100 * top1), textcoords="offset points", xytext=(5, 4), fontsize=7)
    floor = min([100 * t for _c, _h, t in trained] or [0.0])
    if untrained:
        ax.scatter([h for _c, h, _t in untrained], [floor] * len(untrained), marker="x", color="#7f7f7f",
                   label="not trained (infeasible or not reached)", zorder=2)
    if trained:
        front = pareto_front([(h, t) for _c, h, t in trained])
        ax.plot([trained[i][1] for i in front], [100 * trained[i][2] for i in front], "--", color="#d62728",
                label="Pareto front")
    if budget_ms is not None:
        ax.axvline(budget_ms, color="#2ca02c", linestyle=":", label=f"latency budget {budget_ms:g} ms")
    ax.set_xscale("log")
    ax.set_xlabel(f"predicted latency upper bound on {target} (ms, log)")
    ax.set_ylabel("val top-1 of the short KD run (%)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(loc="best", fontsize=8)
    return _png(fig)
