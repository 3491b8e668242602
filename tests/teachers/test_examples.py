"""examples/teacher-*.yaml: every teacher kind's example loads and validates; the cheap kinds build for 1 epoch.

Each example is loaded as a user would (``edgekd build examples/teacher-x.yaml``), with only its
file paths and the data swapped for the tiny files of ``conftest.py`` (3x8x8 inputs, 5 classes).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

import edgekd
from edgekd.config import load_config
from edgekd.teachers.loaders import load_teacher

from .conftest import INPUT_SHAPE, NUM_CLASSES

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
KINDS = ("scratch-cnn", "torch", "torchscript", "onnx", "tflite", "keras")
QUICK = ["distill.epochs=1", "export.formats=[onnx]", "quantize.enabled=false", "bench.latency_mode=off"]


def test_there_is_an_example_for_every_teacher_kind():
    from edgekd.teachers.schema import TEACHER_SECTIONS

    kinds = {cls.model_fields["kind"].default for cls in TEACHER_SECTIONS}
    assert kinds == set(KINDS)
    for kind in KINDS:
        assert load_config(EXAMPLES / f"teacher-{kind}.yaml").teacher.kind == kind


@pytest.fixture(scope="module")
def tiny_npz(tmp_path_factory) -> Path:
    """5 classes of 3x8x8 inputs the tiny teacher can be run on (one bright channel-quadrant per class)."""
    rng = np.random.default_rng(0)

    def make(n):
        y = np.arange(n) % NUM_CLASSES
        x = rng.normal(0, 0.3, (n, *INPUT_SHAPE)).astype(np.float32)
        for i, label in enumerate(y):
            x[i, label % 3, (label // 3) * 4:(label // 3) * 4 + 4] += 2.0
        return x, y

    (x_train, y_train), (x_test, y_test) = make(100), make(25)
    path = tmp_path_factory.mktemp("examples") / "tiny.npz"
    np.savez(path, x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
    return path


def _paths(kind: str, files: dict[str, Path]) -> list[str]:
    """The example's file paths pointed at this session's files."""
    if kind == "torch":
        return [f"teacher.factory={files['factory']}:make_model", f"teacher.weights={files['weights']}",
                f"teacher.factory_kwargs={{num_classes: {NUM_CLASSES}}}"]
    if kind in ("torchscript", "onnx", "tflite", "keras"):
        return [f"teacher.path={files[kind]}"]
    return []


# scratch-cnn is the teacher of the data examples, which build in tests/data/test_examples.py.
@pytest.mark.parametrize("kind", ["torch", "torchscript", "onnx"])
def test_cheap_teacher_examples_build_for_one_epoch(kind, teacher_files, tiny_npz, tmp_path):
    # The example's data section is for 32x32 images; this teacher takes the tiny 3x8x8 arrays instead.
    example = yaml.safe_load((EXAMPLES / f"teacher-{kind}.yaml").read_text())
    example["data"] = {"kind": "npz", "path": str(tiny_npz)}
    (tmp_path / "example.yaml").write_text(yaml.safe_dump(example))
    config = load_config(tmp_path / "example.yaml", [*_paths(kind, teacher_files), *QUICK])
    paths = {"path", "factory", "weights", "factory_kwargs"}
    assert config.teacher.model_dump(exclude=paths) == \
        load_config(EXAMPLES / f"teacher-{kind}.yaml").teacher.model_dump(exclude=paths)  # the example's settings
    result = edgekd.build(config, target="raspberry-pi-4", out_dir=tmp_path / "out")
    assert result.report["config"]["teacher"]["kind"] == kind and (tmp_path / "out" / "report.json").is_file()
    teacher = next(m for m in result.report["models"] if m["role"] == "teacher")
    assert teacher["format"] == ("onnx" if kind == "onnx" else "torch") and "top1" in teacher["accuracy"]
    # (the file teachers are untrained tiny nets: the gate may well fail them as at chance; that is not this test)


def test_tflite_example_loads_its_teacher(tflite_file):
    config = load_config(EXAMPLES / "teacher-tflite.yaml", [f"teacher.path={tflite_file}"])
    model, description = load_teacher(config.teacher, INPUT_SHAPE, NUM_CLASSES)
    assert "float I/O" in description
    assert tuple(model(torch.zeros(2, *INPUT_SHAPE)).shape) == (2, NUM_CLASSES)


def test_keras_example_loads_its_teacher(keras_file):
    path, _model = keras_file
    config = load_config(EXAMPLES / "teacher-keras.yaml", [f"teacher.path={path}"])
    model, description = load_teacher(config.teacher, INPUT_SHAPE, NUM_CLASSES)
    assert "fed NHWC" in description
    assert tuple(model(torch.zeros(2, *INPUT_SHAPE)).shape) == (2, NUM_CLASSES)
