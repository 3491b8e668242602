"""Each teacher kind loads the user's file and reproduces the source model's logits."""

from __future__ import annotations

import numpy as np
import torch

from edgekd.distill.trainer import predict_logits
from edgekd.students import count_params_macs
from edgekd.teachers.blackbox import BlackBoxTeacher, LogProbabilities
from edgekd.teachers.loaders import load_teacher, teacher_size
from edgekd.teachers.schema import KerasTeacher, OnnxTeacher, TFLiteTeacher, TorchScriptTeacher, TorchTeacher

from .conftest import INPUT_SHAPE, NUM_CLASSES, sample_batch


def _torch_cfg(files, **kw) -> TorchTeacher:
    return TorchTeacher(factory=f"{files['factory']}:make_model", weights=files["weights"], **kw)


def test_torch_factory_with_wrapped_prefixed_weights(teacher_files, source_model):
    model, description = load_teacher(_torch_cfg(teacher_files), INPUT_SHAPE, NUM_CLASSES)
    x = sample_batch()
    torch.testing.assert_close(model(x), source_model(x), atol=1e-6, rtol=0)
    assert "tiny.pt" in description and not model.training
    assert all(not p.requires_grad for p in model.parameters())


def test_torch_factory_module_is_private_not_from_sys_path(tmp_path, teacher_files, source_model):
    # A factory file named like a stdlib module is still the user's file, and does not replace the stdlib one.
    (tmp_path / "json.py").write_text(teacher_files["factory"].read_text())
    cfg = TorchTeacher(factory=f"{tmp_path / 'json.py'}:make_model", weights=teacher_files["weights"])
    model, _ = load_teacher(cfg, INPUT_SHAPE, NUM_CLASSES)
    import json
    assert hasattr(json, "dumps") and type(model).__module__.startswith("_edgekd_teacher_")
    x = sample_batch()
    torch.testing.assert_close(model(x), source_model(x), atol=1e-6, rtol=0)


def test_torchscript(teacher_files, source_model):
    model, _ = load_teacher(TorchScriptTeacher(path=teacher_files["torchscript"], trust_code=True),
                            INPUT_SHAPE, NUM_CLASSES)
    x = sample_batch()
    torch.testing.assert_close(model(x), source_model(x), atol=1e-5, rtol=0)
    params, macs, note = teacher_size(model, INPUT_SHAPE)
    # Counted from the aten ops the script runs, in the hook counter's convention (conv + linear MACs).
    assert params == sum(p.numel() for p in source_model.parameters()) and note is None
    assert macs == count_params_macs(source_model, INPUT_SHAPE)[1] > 0


def test_onnx_black_box_and_size_from_graph(teacher_files, source_model):
    model, description = load_teacher(OnnxTeacher(path=teacher_files["onnx"]), INPUT_SHAPE, NUM_CLASSES)
    assert isinstance(model, BlackBoxTeacher) and model.layout == "nchw" and "ONNX" in description
    x = sample_batch(300)  # more than one runtime chunk
    torch.testing.assert_close(predict_logits(model, x), source_model(x).detach(), atol=1e-4, rtol=0)
    params, macs, note = teacher_size(model, INPUT_SHAPE)
    # Same MAC convention as the torch counter (BN is folded into the conv by the exporter).
    assert macs == count_params_macs(source_model, INPUT_SHAPE)[1] and params > 0 and note is None


def test_tflite_black_box(tflite_file, source_model):
    model, description = load_teacher(TFLiteTeacher(path=tflite_file), INPUT_SHAPE, NUM_CLASSES)
    assert isinstance(model, BlackBoxTeacher) and model.layout == "nchw" and model.fixed_batch == 1
    x = sample_batch(5)
    torch.testing.assert_close(model(x), source_model(x).detach(), atol=1e-4, rtol=0)
    assert "float I/O" in description
    # MACs read from the flatbuffer, same convention as the torch counter (BN folded into the conv).
    params, macs, note = teacher_size(model, INPUT_SHAPE)
    assert macs == count_params_macs(source_model, INPUT_SHAPE)[1] and note is None
    assert params == sum(p.numel() for p in source_model.parameters()) - 2 * 4  # BN scale/shift folded away


def test_keras_nhwc_softmax_becomes_log_probabilities(keras_file):
    path, keras_model = keras_file
    model, description = load_teacher(KerasTeacher(path=path, trust_code=True), INPUT_SHAPE, NUM_CLASSES)
    assert isinstance(model, LogProbabilities) and model.inner.layout == "nhwc"
    assert "fed NHWC" in description and "log-probabilities" in description
    x = sample_batch(4)
    expected = np.log(np.asarray(keras_model(x.numpy().transpose(0, 2, 3, 1), training=False)))
    np.testing.assert_allclose(model(x).numpy(), expected, atol=1e-5)
    # softmax(log p) = p: the teacher's distribution is unchanged for KD.
    np.testing.assert_allclose(torch.softmax(model(x), 1).numpy(), np.exp(expected), atol=1e-5)
    # Conv2D(3->4, 3x3, "same") on HxW + Dense(4->5): H*W*4*3*9 + 4*5 MACs; no BN, so params = Keras' count.
    c, h, w = INPUT_SHAPE
    assert teacher_size(model, INPUT_SHAPE) == (keras_model.count_params(), h * w * 4 * c * 9 + 4 * NUM_CLASSES, None)


def test_explicit_layout_overrides_auto(teacher_files):
    model, _ = load_teacher(OnnxTeacher(path=teacher_files["onnx"], input_layout="nchw"), INPUT_SHAPE, NUM_CLASSES)
    assert model.layout == "nchw"


def test_preprocess_note_is_recorded(teacher_files):
    cfg = OnnxTeacher(path=teacher_files["onnx"], preprocess="RGB [0,1], ImageNet mean/std")
    assert "expects input: RGB [0,1], ImageNet mean/std" in load_teacher(cfg, INPUT_SHAPE, NUM_CLASSES)[1]
