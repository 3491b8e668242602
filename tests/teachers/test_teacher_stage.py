"""The teacher stage with a user's file: checked before training, artifact points at the file."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from edgekd.errors import ModelFileError
from edgekd.state import BuildState
from edgekd.students import count_params_macs
from edgekd.teachers import stage
from edgekd.teachers.schema import TEACHER_SECTIONS, OnnxTeacher, ScratchTeacher, TorchTeacher

from .conftest import INPUT_SHAPE, NUM_CLASSES


def _ctx(teacher_cfg, input_shape=INPUT_SHAPE, num_classes=NUM_CLASSES):
    data = SimpleNamespace(input_shape=input_shape, num_classes=num_classes, name="tiny")
    return SimpleNamespace(config=SimpleNamespace(teacher=teacher_cfg, seed=0), data=data)


def _run(ctx):
    return list(stage.run(BuildState(), ctx).artifacts)


def test_onnx_teacher_artifact(teacher_files, source_model):
    [art] = _run(_ctx(OnnxTeacher(path=teacher_files["onnx"])))
    assert (art.role, art.format, art.precision) == ("teacher", "onnx", "fp32")
    assert Path(art.path).is_absolute() and Path(art.path) == teacher_files["onnx"].resolve()
    assert art.macs == count_params_macs(source_model, INPUT_SHAPE)[1] and art.params > 0
    assert any("ONNX teacher tiny.onnx" in n for n in art.notes)


def test_torch_teacher_artifact_counts_params_and_macs(teacher_files, source_model):
    cfg = TorchTeacher(factory=f"{teacher_files['factory']}:make_model", weights=teacher_files["weights"])
    [art] = _run(_ctx(cfg))
    assert art.format == "torch" and art.path == str(teacher_files["weights"].resolve())
    assert (art.params, art.macs) == count_params_macs(source_model, INPUT_SHAPE)


def test_mismatch_stops_the_stage(teacher_files):
    with pytest.raises(ModelFileError, match=r"\[1,5\].*10 classes"):
        _run(_ctx(OnnxTeacher(path=teacher_files["onnx"]), num_classes=10))


def test_teacher_sections_are_tagged_by_distinct_kinds():
    kinds = [cls.model_fields["kind"].default for cls in TEACHER_SECTIONS]
    assert kinds == ["scratch-cnn", "torch", "torchscript", "onnx", "tflite", "keras"]
    assert TEACHER_SECTIONS[0] is ScratchTeacher
    assert all("input_layout" in cls.model_fields and "preprocess" in cls.model_fields for cls in TEACHER_SECTIONS[1:])
