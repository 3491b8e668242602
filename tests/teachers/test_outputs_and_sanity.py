"""teacher.outputs (logits or probabilities), the val sanity check, and teacher.input (PixelInput)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from torch import nn

from edgekd.errors import ConfigError, ModelFileError
from edgekd.measure.calibration import calibration_metrics
from edgekd.teachers.adapters import PixelInput, check_input_fits, resolved_layout, to_runtime_input
from edgekd.teachers.blackbox import LogProbabilities
from edgekd.teachers.outputs import decide_outputs, graph_ends_in_softmax, rows_are_probabilities
from edgekd.teachers.sanity import TeacherAtChanceError, check_val_top1, default_min_top1
from edgekd.teachers.schema import OnnxTeacher, TeacherInput


def _probs(n=200, k=5, seed=0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    logits = rng.normal(0, 2, (n, k))
    probs = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    labels = np.where(rng.random(n) < 0.7, probs.argmax(1), rng.integers(0, k, n))
    return probs.astype(np.float32), labels


def test_rows_decide_logits_or_probabilities():
    probs, _ = _probs()
    dummy = nn.Identity()
    assert decide_outputs("auto", dummy, probs, 5, "m")[0] == "probabilities"
    assert decide_outputs("auto", dummy, np.log(probs) + 3.0, 5, "m")[0] == "logits"
    assert decide_outputs("logits", dummy, probs, 5, "m")[0] == "logits"  # the user's word wins
    with pytest.raises(ModelFileError, match="not"):
        decide_outputs("probabilities", dummy, np.log(probs), 5, "m")
    assert not rows_are_probabilities(np.zeros((0, 5)), 1e-3)


def test_ece_through_log_probabilities_is_the_ece_of_the_probabilities():
    probs, labels = _probs()
    wrapped = LogProbabilities(nn.Identity())(torch.from_numpy(probs)).numpy()
    conf, correct = probs.max(1).astype(np.float64), probs.argmax(1) == labels
    which = np.clip(np.ceil(conf * 15).astype(int) - 1, 0, 14)
    direct = sum(abs(correct[which == b].mean() - conf[which == b].mean()) * (which == b).mean()
                 for b in range(15) if (which == b).any())
    assert calibration_metrics(wrapped, labels)["ece"] == pytest.approx(direct, abs=1e-6)
    # Treated as logits (the old behaviour) the ECE is far off: that is what the wrapper prevents.
    assert abs(calibration_metrics(probs, labels)["ece"] - direct) > 0.1


def test_onnx_graph_ending_in_softmax_is_detected(tmp_path):
    from edgekd.teachers.onnx_teacher import OnnxTeacherModel

    for name, head in (("soft", nn.Softmax(dim=1)), ("raw", nn.Identity())):
        net = nn.Sequential(nn.Flatten(), nn.Linear(12, 3), head).eval()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(net, (torch.zeros(1, 3, 2, 2),), str(tmp_path / f"{name}.onnx"), dynamo=False,
                              opset_version=17)
    assert graph_ends_in_softmax(OnnxTeacherModel(tmp_path / "soft.onnx")) is True
    assert graph_ends_in_softmax(OnnxTeacherModel(tmp_path / "raw.onnx")) is False
    assert graph_ends_in_softmax(nn.Identity()) is None  # a torch forward leaves nothing to read


def test_sanity_threshold_and_message():
    assert default_min_top1(10) == pytest.approx(0.15)
    assert default_min_top1(2) == pytest.approx(0.625)  # capped at a quarter of the way from chance
    labels = np.arange(100) % 10
    good = np.eye(10)[labels]
    assert check_val_top1(good, labels, [str(i) for i in range(10)], None, "t.tflite", task="image",
                          uses_input=False) == (1.0, pytest.approx(0.15))
    with pytest.raises(TeacherAtChanceError) as exc:
        check_val_top1(np.eye(10)[np.zeros(100, int)], labels, list("abcdefghij"), None, "t.tflite", task="image",
                       uses_input=False)
    line = exc.value.one_line()
    assert "\n" not in line and "10.0%" in line and "teacher.input" in line and "0=a, 1=b" in line
    assert "min_val_top1" in line and exc.value.exit_code == 2
    # An explicit threshold of 0 passes anything (the loader skips the check entirely).
    assert check_val_top1(np.zeros((4, 2)), np.array([1, 1, 1, 1]), ["x", "y"], 0.0, "t", task="audio",
                          uses_input=False)[0] == 0.0


def test_pixel_input_is_the_teachers_own_scaling():
    spec = TeacherInput(scale=255, mean=[127.5, 127.5, 127.5], std=127.5, size=(12, 12))
    pixels = torch.randint(0, 256, (2, 3, 12, 12), dtype=torch.uint8)
    seen = []

    class Spy(nn.Module):
        def forward(self, x):
            seen.append(x)
            return x.mean((2, 3))

    PixelInput(Spy(), spec, channels=3)(pixels)
    expected = (pixels.float() - 127.5) / 127.5
    torch.testing.assert_close(seen[0], expected, atol=1e-5, rtol=0)
    torch.testing.assert_close(to_runtime_input(PixelInput(Spy(), spec, 3), pixels), expected, atol=1e-5, rtol=0)


def test_preprocessing_keys_that_do_not_fit_are_config_errors():
    with pytest.raises(ConfigError, match="image_folder"):
        check_input_fits(TeacherInput(scale=255), "audio_folder", 1)
    with pytest.raises(ConfigError, match="2 values"):
        check_input_fits(TeacherInput(mean=[1.0, 2.0]), "image_folder", 3)
    cfg = OnnxTeacher(path="x.onnx", input_layout="nchw", input={"layout": "nhwc"})
    with pytest.raises(ConfigError, match="input_layout"):
        resolved_layout(cfg)
    assert resolved_layout(OnnxTeacher(path="x.onnx", input={"layout": "nhwc"})) == "nhwc"
