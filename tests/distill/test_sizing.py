"""Training sized to the data (the auto batch rule) and the loud chance check, from the rule to the gate."""

import numpy as np
import pytest

import edgekd
from edgekd.config import load_config
from edgekd.distill.sizing import MIN_STEPS_PER_EPOCH, chance_verdict, effective_batch_size, finish_history


@pytest.mark.parametrize("setting, n_train, maximum, batch", [
    ("auto", 210, 128, 11),      # 3 classes x 100 images (70% train): 128 would be 2 steps per epoch
    ("auto", 1257, 128, 63),     # the digits example: 128 would be 10 steps
    ("auto", 1257, 64, 64),      # ... while the teacher's 64 already gives 20
    ("auto", 50_000, 128, 128),  # big data keeps the maximum
    ("auto", 5, 128, 1),
    (128, 210, 128, 128),        # an explicit setting is never changed
    (7, 50_000, 128, 7),
])
def test_auto_batch_gives_at_least_20_steps_per_epoch(setting, n_train, maximum, batch):
    got, rule = effective_batch_size(setting, n_train, maximum)
    assert got == batch
    if setting == "auto":
        assert rule.startswith("auto:") and -(-n_train // got) >= min(MIN_STEPS_PER_EPOCH, n_train)
    else:
        assert rule == f"{setting}, as set in the config"


def test_batch_size_config_accepts_auto_or_a_positive_integer():
    assert load_config(None).distill.batch_size == "auto" and load_config(None).teacher.batch_size == "auto"
    assert load_config(None, ["distill.batch_size=32"]).distill.batch_size == 32
    with pytest.raises(edgekd.errors.ConfigError, match="distill.batch_size"):
        load_config(None, ["distill.batch_size=0"])
    with pytest.raises(edgekd.errors.ConfigError, match="distill.batch_size"):
        load_config(None, ["distill.batch_size=big"])


def test_chance_verdict_uses_an_exact_binomial_test_on_the_val_split():
    labels = np.repeat([0, 1, 2], 10)  # 30 val samples, balanced
    at = chance_verdict(1 / 3, labels)
    assert at["at_chance"] and at["chance"] == pytest.approx(1 / 3) and at["threshold"] == pytest.approx(0.5)
    assert not chance_verdict(0.62, labels)["at_chance"]  # the batch-32 run
    imbalanced = np.array([0] * 24 + [1] * 3 + [2] * 3)  # always guessing 0 scores 80%
    assert chance_verdict(0.8, imbalanced)["at_chance"]


class _Notes:
    def __init__(self):
        self.notes = []

    def note(self, text):
        self.notes.append(text)


def test_finish_history_announces_a_model_at_chance():
    reporter = _Notes()
    history = {"kept_val_top1": 1 / 3, "epochs": []}
    out, note = finish_history(history, "auto: 11", np.repeat([0, 1, 2], 10), "the student", "distill.epochs",
                               reporter)
    assert out["chance"]["at_chance"] and out["batch_size_rule"] == "auto: 11"
    assert note.startswith("AT CHANCE: the student ends at val top-1 33.3%") and "distill.epochs" in note
    assert reporter.notes == [note]
    fine, none = finish_history({**history, "kept_val_top1": 0.9}, "r", np.repeat([0, 1, 2], 10), "x", "k",
                                reporter)
    assert none is None and not fine["chance"]["at_chance"] and len(reporter.notes) == 1


@pytest.fixture(scope="module")
def blank_npz(tmp_path_factory):
    """3 balanced classes of all-zero 8x8 images: no model can beat guessing on them."""
    folder = tmp_path_factory.mktemp("blank")
    zeros = np.zeros((1, 8, 8), dtype=np.float32)
    path = folder / "blank.npz"
    np.savez(path, x_train=np.stack([zeros] * 240), y_train=np.tile([0, 1, 2], 80),
             x_test=np.stack([zeros] * 60), y_test=np.tile([0, 1, 2], 20))
    return path


def test_a_build_at_chance_says_so_everywhere_and_fails_the_gate(blank_npz, tmp_path, capsys):
    from edgekd.report.console import render_build
    from edgekd.report.markdown import render_markdown

    result = edgekd.build(None, target="raspberry-pi-4", out_dir=tmp_path / "out", overrides=[
        "data.kind=npz", f"data.path={blank_npz}", "teacher.epochs=1", "distill.epochs=1",
        "export.formats=[onnx]", "quantize.enabled=false", "bench.latency_mode=off"])
    report = result.report
    assert result.exit_code == 3
    # the gate line
    line = next(b for b in report["budgets"] if b["metric"] == "top1_above_chance")
    assert not line["passed"] and line["value"] == pytest.approx(1 / 3)
    # the report field, on val (training) and on test (the gate)
    found = {(r["model"], r["split"]) for r in report["at_chance"]}
    assert {("student", "val"), ("teacher", "val"), (report["chosen"], "test")} <= found
    # the note on the model, and the effective batch size in the training record
    student = next(m for m in report["models"] if m["name"] == "student")
    assert any(n.startswith("AT CHANCE: the student") for n in student["notes"])
    history = report["training"]["student_history"]
    assert history["batch_size"] == 11 and history["steps_per_epoch"] == 20  # 216 train samples / 20 steps
    assert history["batch_size_rule"].startswith("auto: ceil(216 training samples / 20 steps) = 11")
    # never called deployable, in the console and in report.md
    render_build(report, result.out_dir)
    out = capsys.readouterr().out
    assert "AT CHANCE" in out and f"deployable: none ({report['chosen']} is at chance)" in out
    md = render_markdown(report)
    assert f"Deployable model: **none ({report['chosen']} is at chance)**" in md and "**AT CHANCE**" in md
