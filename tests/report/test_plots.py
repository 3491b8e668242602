"""The report's plots: labels on their points without overlaps, no misleading log bars, the new learning plots."""

import io
import itertools

import pytest
from matplotlib.text import Text
from PIL import Image

from edgekd.report import learning_plots, plots
from edgekd.report.labels import MARKER_HALF_PX, group_points


def _model(name, top1, p50, role="student", spread=0.2):
    return {"name": name, "role": role, "accuracy": {"top1": top1},
            "latency_ms": {"predicted": {"p50": p50, "low": p50 * (1 - spread), "high": p50 * (1 + spread)}}}


# The digits build's shape: the fp32 student and its exports coincide, INT8 models sit just below.
MODELS = [_model("teacher", 0.986, 0.51, "teacher", 0.5), _model("student", 0.975, 1.054),
          _model("student-fp32.onnx", 0.975, 1.054), _model("student-fp32.tflite", 0.975, 1.054),
          _model("student-int8.onnx", 0.9722, 0.966), _model("student-int8.tflite", 0.975, 0.966),
          _model("baseline", 0.968, 1.054, "baseline")]


def _text_box(annotation, renderer):
    annotation.update_positions(renderer)
    return Text.get_window_extent(annotation, renderer)  # the words alone, not the leader line


def test_coincident_points_share_one_label():
    groups = group_points([1.054, 1.054, 0.966], [97.5, 97.5, 97.5], ["a", "b", "c"])
    assert [g[2] for g in groups] == [["a", "b"], ["c"]]


@pytest.mark.parametrize("models", [MODELS, MODELS[:2], [_model(f"m{i}", 0.9, 1.0 + 0.01 * i) for i in range(6)]])
def test_labels_sit_on_their_points_and_never_overlap(models):
    fig = plots.accuracy_vs_latency_figure(models, "pi")
    ax = fig.axes[0]
    renderer = fig.canvas.get_renderer()
    labels = [t for t in ax.texts]
    assert sorted(n for t in labels for n in t.get_text().split("\n")) == sorted(m["name"] for m in models)
    boxes = [_text_box(t, renderer) for t in labels]
    for a, b in itertools.combinations(boxes, 2):
        assert not a.overlaps(b)
    frame = ax.get_window_extent(renderer)
    for label, box in zip(labels, boxes):
        px, py = ax.transData.transform(label.xy)
        gap = max(box.x0 - px, px - box.x1, box.y0 - py, py - box.y1, 0)
        # next to its point, or joined to it by a leader line
        assert gap <= 20 or label.arrow_patch is not None, label.get_text()
        assert frame.x0 <= box.x0 and box.x1 <= frame.x1 and frame.y0 <= box.y0 and box.y1 <= frame.y1
        for other in labels:  # no label covers another point's marker
            ox, oy = ax.transData.transform(other.xy)
            assert not (box.x0 < ox + MARKER_HALF_PX and ox - MARKER_HALF_PX < box.x1
                        and box.y0 < oy + MARKER_HALF_PX and oy - MARKER_HALF_PX < box.y1), label.get_text()
    import matplotlib.pyplot as plt

    plt.close(fig)


def test_log_axes_only_when_values_span_a_decade(monkeypatch):
    figures = []
    monkeypatch.setattr(plots, "_png", lambda fig, layout=True: figures.append(fig) or b"png")
    plots.accuracy_vs_latency(MODELS, "pi")
    assert figures[-1].axes[0].get_xscale() == "linear"  # 0.26 to 1.3 ms
    rows = [{"target": "mcu", "precision": "int8", "p50": 30.0, "low": 20.0, "high": 50.0, "budget_ms": 200.0},
            {"target": "phone", "precision": "int8", "p50": 0.4, "low": 0.3, "high": 0.5}]
    plots.latency_on_targets(rows, "student-int8.onnx")
    ax = figures[-1].axes[0]
    assert ax.get_xscale() == "log"
    # dots with whiskers, not bars: a bar's length on a log axis depends on an arbitrary floor
    assert not [c for c in ax.containers if c.__class__.__name__ == "BarContainer"]
    plots.latency_on_targets(rows[1:], "student-int8.onnx")
    assert figures[-1].axes[0].get_xscale() == "linear"


def _png_size(png):
    assert png.startswith(b"\x89PNG")
    with Image.open(io.BytesIO(png)) as img:
        return img.size


def test_training_curves_plot_loss_and_val_top1_per_model():
    history = {"epochs": [{"epoch": e, "loss": 1 / e, "val_top1": 0.3 + 0.05 * e} for e in range(1, 6)],
               "chance": {"threshold": 0.5, "at_chance": False}}
    png = learning_plots.training_curves({"teacher_history": history, "student_history": history,
                                          "baseline_history": None})
    width, height = _png_size(png)
    assert width > 800 and height > 300
    assert learning_plots.training_curves({}) is None and learning_plots.training_curves({"x_history": None}) is None
    assert learning_plots.curve_name("student_pruned_history") == "student-pruned"


def test_confusion_matrix_plot():
    matrix = {"split": "test", "labels": ["cat", "dog", "bird"], "counts": [[5, 1, 0], [0, 6, 0], [2, 0, 4]]}
    assert _png_size(learning_plots.confusion_matrix(matrix, "s")) > (300, 300)
    assert learning_plots.confusion_matrix({"labels": [], "note": "too many"}, "s") is None
