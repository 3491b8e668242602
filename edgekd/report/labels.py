"""Point labels that sit next to their points and never overprint each other.

Models often share a point exactly (the torch student and its FP32 exports have the same
top-1 and the same predicted latency), and staggering their names by index pushed labels
far from any point. Here points that coincide get one label listing every name, and each
label tries positions around its own point (right, left, above, below, then further out),
keeping the first that overlaps no other label, no marker and stays inside the axes. A label
placed away from the ring next to its point gets a thin leader line back to it.

Place labels after the figure's final layout (``tight_layout``): offsets are in points from
the data point, so a later layout change would move points relative to each other.
"""

from __future__ import annotations

from typing import Any, Sequence

# Candidate offsets (points) from the data point and the text alignment each needs.
_NEAR = [((7, 0), "left", "center"), ((-7, 0), "right", "center"), ((0, 8), "center", "bottom"),
         ((0, -8), "center", "top")]
_FAR = [((dx, dy), "left" if dx > 0 else "right", "center")
        for dy in (16, -16, 28, -28, 40, -40, 56, -56) for dx in (10, -10)]
MARKER_HALF_PX = 6  # half-size of the box kept clear around every marker, in pixels
LINE_HALF_PX = 3  # half-thickness of the band kept clear around an error bar
# A light backing so a grid line under a label does not cut through its letters.
_BOX = {"boxstyle": "round,pad=0.15", "facecolor": "white", "edgecolor": "none", "alpha": 0.85}


def group_points(xs: Sequence[float], ys: Sequence[float], names: Sequence[str],
                 rel_tol: float = 1e-6) -> list[tuple[float, float, list[str]]]:
    """Points that coincide (within ``rel_tol``) merged into one, with every name they carry."""
    groups: list[tuple[float, float, list[str]]] = []
    for x, y, name in zip(xs, ys, names):
        for gx, gy, members in groups:
            if abs(gx - x) <= rel_tol * max(abs(gx), abs(x), 1e-12) and abs(gy - y) <= rel_tol * max(abs(gy), 1):
                members.append(name)
                break
        else:
            groups.append((x, y, [name]))
    return groups


def place_labels(ax, groups: list[tuple[float, float, list[str]]], fontsize: float = 8,
                 segments: Sequence[tuple[float, float, float, float]] = ()) -> list[Any]:
    """Annotate each group at its point without overlaps; returns the annotations (in group order).

    Args:
        ax: The axes, already laid out.
        groups: ``(x, y, names)`` per point (see :func:`group_points`).
        fontsize: Label size in points.
        segments: Lines labels must not sit on, ``(x0, y0, x1, y1)`` in data coordinates
            (error bars, say).
    """
    fig = ax.figure
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    frame = ax.get_window_extent(renderer)
    markers = [_marker_box(ax, x, y) for x, y, _ in groups] + [_segment_box(ax, *seg) for seg in segments]
    placed: list[Any] = []
    annotations = []
    for index, (x, y, names) in enumerate(groups):
        others = [box for j, box in enumerate(markers[:len(groups)]) if j != index]
        ann, box, far = _best_position(ax, renderer, frame, x, y, "\n".join(names), fontsize,
                                       placed + markers, others)
        if far:  # away from its point: a thin leader line says whose label it is
            offset, ha, va = ann.xyann, ann.get_ha(), ann.get_va()
            ann.remove()
            ann = ax.annotate("\n".join(names), (x, y), xytext=offset, textcoords="offset points", ha=ha, va=va,
                              fontsize=fontsize, bbox=_BOX,
                              arrowprops={"arrowstyle": "-", "color": "#555555", "linewidth": 0.6,
                                          "shrinkA": 0, "shrinkB": 3})
        placed.append(box)
        annotations.append(ann)
    return annotations


def _best_position(ax, renderer, frame, x: float, y: float, text: str, fontsize: float, obstacles: list,
                   other_markers: list) -> tuple[Any, Any, bool]:
    """The candidate position with the fewest clashes; among clash-free ones next to the point, the one
    farthest from other points (so a label between two points is not read as the other's).

    Returns (annotation, its text box, whether it sits away from the point).
    """
    best = None
    for tier, candidates in ((False, _NEAR), (True, _FAR)):
        for (dx, dy), ha, va in candidates:
            ann = ax.annotate(text, (x, y), xytext=(dx, dy), textcoords="offset points", ha=ha, va=va,
                              fontsize=fontsize, bbox=_BOX)
            box = ann.get_window_extent(renderer)
            clashes = sum(box.overlaps(other) for other in obstacles) + (not _inside(box, frame))
            score = (clashes, tier, -min((_gap(box, m) for m in other_markers), default=0.0))
            if best is None or score < best[0]:
                if best is not None:
                    best[1].remove()
                best = (score, ann, box, tier)
            else:
                ann.remove()
        if best is not None and best[0][0] == 0:
            break
    assert best is not None
    return best[1], best[2], best[3]


def _gap(a, b) -> float:
    """Distance in pixels between two boxes (0 when they touch or overlap)."""
    dx = max(b.x0 - a.x1, a.x0 - b.x1, 0.0)
    dy = max(b.y0 - a.y1, a.y0 - b.y1, 0.0)
    return float((dx * dx + dy * dy) ** 0.5)


def _marker_box(ax, x: float, y: float):
    from matplotlib.transforms import Bbox

    px, py = ax.transData.transform((x, y))
    return Bbox.from_extents(px - MARKER_HALF_PX, py - MARKER_HALF_PX, px + MARKER_HALF_PX, py + MARKER_HALF_PX)


def _segment_box(ax, x0: float, y0: float, x1: float, y1: float):
    from matplotlib.transforms import Bbox

    (ax0, ay0), (ax1, ay1) = ax.transData.transform([(x0, y0), (x1, y1)])
    return Bbox.from_extents(min(ax0, ax1) - LINE_HALF_PX, min(ay0, ay1) - LINE_HALF_PX,
                             max(ax0, ax1) + LINE_HALF_PX, max(ay0, ay1) + LINE_HALF_PX)


def _inside(box, frame) -> bool:
    return box.x0 >= frame.x0 and box.x1 <= frame.x1 and box.y0 >= frame.y0 and box.y1 <= frame.y1
