"""Bad teacher files and teachers that do not fit the data fail early, in one line, naming both sides."""

from __future__ import annotations

import fractions
import re

import pytest
import torch

from edgekd.errors import ModelFileError
from edgekd.teachers.loaders import load_teacher
from edgekd.teachers.schema import KerasTeacher, OnnxTeacher, TFLiteTeacher, TorchScriptTeacher, TorchTeacher

from .conftest import INPUT_SHAPE, NUM_CLASSES, sample_batch


def _torch_cfg(files, weights=None, **kw) -> TorchTeacher:
    return TorchTeacher(factory=f"{files['factory']}:make_model", weights=weights or files["weights"], **kw)


def _error(cfg, input_shape=INPUT_SHAPE, num_classes=NUM_CLASSES) -> str:
    with pytest.raises(ModelFileError) as info:
        load_teacher(cfg, input_shape, num_classes)
    text = str(info.value)
    assert "\n" not in text and "Traceback" not in text and info.value.fix
    return text


# -- the teacher does not fit the data ---------------------------------------------------------

def test_class_count_mismatch_states_both(teacher_files):
    for cfg in (OnnxTeacher(path=teacher_files["onnx"]), _torch_cfg(teacher_files)):
        text = _error(cfg, num_classes=10)
        assert "outputs [1,5]" in text and "10 classes" in text and "[1,10]" in text


def test_wrong_input_shape_onnx_states_both_shapes(teacher_files):
    text = _error(OnnxTeacher(path=teacher_files["onnx"]), input_shape=(1, 16, 16))
    assert "teacher tiny.onnx (onnx) expects input [1,3,8,8] (NCHW) but the data gives [1,1,16,16]" in text


def test_wrong_input_shape_tflite_states_both_shapes(tflite_file):
    text = _error(TFLiteTeacher(path=tflite_file), input_shape=(3, 16, 16))
    assert "expects input [1,3,8,8] (NCHW)" in text and "[1,3,16,16]" in text and "tflite" in text


def test_wrong_input_shape_keras_names_the_nhwc_feed(keras_file):
    text = _error(KerasTeacher(path=keras_file[0], trust_code=True), input_shape=(1, 8, 8))
    assert "expects input [1,8,8,3] (NHWC) but the data gives [1,1,8,8] (NCHW, fed as [1,8,8,1] NHWC)" in text


def test_forced_wrong_layout_is_a_mismatch(teacher_files):
    text = _error(OnnxTeacher(path=teacher_files["onnx"], input_layout="nhwc"))
    assert "expects input [1,3,8,8] (NHWC)" in text and "fed as [1,8,8,3] NHWC" in text


def test_wrong_channels_torch_states_both(teacher_files):
    text = _error(_torch_cfg(teacher_files), input_shape=(1, 8, 8))
    assert "expects 3 input channels (first conv: conv)" in text and "[1,1,8,8]" in text


# -- broken files of every kind ----------------------------------------------------------------

def _corrupt(tmp_path, source, mode: str, suffix: str):
    path = tmp_path / f"broken{suffix}"
    if mode == "empty":
        path.write_bytes(b"")
    elif mode == "truncated":
        data = source.read_bytes()
        path.write_bytes(data[: len(data) // 2])
    else:
        path.write_text("this is not a model file\n" * 20)
    return path


@pytest.mark.parametrize("mode", ["empty", "truncated", "wrong-format"])
@pytest.mark.parametrize("kind", ["torch", "torchscript", "onnx", "tflite", "keras"])
def test_broken_files_raise_model_file_error(request, tmp_path, teacher_files, kind, mode):
    if kind == "tflite":
        source, suffix = request.getfixturevalue("tflite_file"), ".tflite"
    elif kind == "keras":
        source, suffix = request.getfixturevalue("keras_file")[0], ".keras"
    else:
        source = teacher_files["weights" if kind == "torch" else kind]
        suffix = {"torch": ".pt", "torchscript": ".ts", "onnx": ".onnx"}[kind]
    path = _corrupt(tmp_path, source, mode, suffix)
    cfg = {"torch": lambda: _torch_cfg(teacher_files, weights=path),
           "torchscript": lambda: TorchScriptTeacher(path=path, trust_code=True),
           "onnx": lambda: OnnxTeacher(path=path), "tflite": lambda: TFLiteTeacher(path=path),
           "keras": lambda: KerasTeacher(path=path, trust_code=True)}[kind]()
    text = _error(cfg)
    assert "broken" + suffix in text and re.search(rf"\b{kind}\b", text), text


def test_missing_file_names_path_and_kind(tmp_path):
    text = _error(OnnxTeacher(path=tmp_path / "nope.onnx"))
    assert "nope.onnx (onnx) does not exist" in text


def test_state_dict_for_torchscript_kind_says_what_to_do(teacher_files):
    assert "kind: torch with a factory" in _error(TorchScriptTeacher(path=teacher_files["weights"], trust_code=True))


# -- torch checkpoints ---------------------------------------------------------------------------

def test_full_pickle_refused_unless_allowed(tmp_path, teacher_files, source_model):
    path = tmp_path / "pickled.pt"
    # A non-tensor Python object makes this a full pickle that weights_only loading refuses.
    torch.save({"state_dict": source_model.state_dict(), "note": fractions.Fraction(1, 3)}, path)
    text = _error(_torch_cfg(teacher_files, weights=path))
    assert "full Python pickle" in text and "allow_pickle: true" in text
    model, _ = load_teacher(_torch_cfg(teacher_files, weights=path, allow_pickle=True), INPUT_SHAPE, NUM_CLASSES)
    x = sample_batch()
    torch.testing.assert_close(model(x), source_model(x), atol=1e-6, rtol=0)


def test_missing_and_unexpected_keys_are_named(tmp_path, teacher_files, source_model):
    state = dict(source_model.state_dict())
    state.pop("fc.bias")
    state["extra.weight"] = torch.zeros(1)
    path = tmp_path / "keys.pt"
    torch.save(state, path)
    text = _error(_torch_cfg(teacher_files, weights=path))
    assert "missing 1 key(s) ('fc.bias')" in text and "unexpected 1 key(s) ('extra.weight')" in text


def test_shape_mismatch_points_at_factory_kwargs(teacher_files):
    text = _error(_torch_cfg(teacher_files, factory_kwargs={"num_classes": 7}), num_classes=7)
    assert "fc.weight has shape [5, 4]" in text and "[7, 4]" in text and "factory_kwargs" in text


def test_factory_problems(tmp_path, teacher_files):
    assert "does not exist" in _error(TorchTeacher(factory=f"{tmp_path / 'missing.py'}:make_model"))
    assert "no function 'build'" in _error(TorchTeacher(factory=f"{teacher_files['factory']}:build"))
    bad = tmp_path / "bad_import.py"
    bad.write_text("import sibling_helpers_that_do_not_exist\n")
    text = _error(TorchTeacher(factory=f"{bad}:make_model"))
    assert "ModuleNotFoundError" in text and "sys.path" in text
    text = _error(TorchTeacher(factory=f"{teacher_files['factory']}:make_model", factory_kwargs={"depth": 3}))
    assert "raised TypeError" in text


def test_factory_spec_is_validated():
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="file.py:function_name"):
        TorchTeacher(factory="models/resnet:make_model")


def test_keras_teacher_without_tensorflow_names_the_extra(monkeypatch, tmp_path):
    """`pip install edgekd` without [keras]: a Keras teacher is a one-line config error naming the extra."""
    import sys

    from edgekd.errors import ConfigError

    monkeypatch.setitem(sys.modules, "tensorflow", None)  # `import tensorflow` now raises ImportError
    path = tmp_path / "t.keras"
    path.write_bytes(b"not read")
    with pytest.raises(ConfigError) as info:
        load_teacher(KerasTeacher(path=path, trust_code=True), INPUT_SHAPE, NUM_CLASSES)
    assert "edgekd[keras]" in info.value.one_line() and "\n" not in info.value.one_line()
