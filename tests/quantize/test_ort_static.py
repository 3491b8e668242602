"""quantize_onnx_static: QDQ INT8 that runs in onnxruntime and keeps top-1."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
import pytest

from edgekd.errors import ConfigError, DataError
from edgekd.export.onnx import export_onnx
from edgekd.quantize.ort_static import quantize_onnx_static


def _logits(path, x):
    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, {"input": x})[0]


@pytest.fixture(scope="module")
def fp32(tmp_path_factory, tiny_model, lib):
    return export_onnx(tiny_model, lib.SHAPE, tmp_path_factory.mktemp("fp32") / "m.onnx")


@pytest.mark.parametrize("method", ["minmax", "entropy", "percentile"])
def test_static_int8_runs_and_agrees(tmp_path, fp32, data, method):
    representative, x, y = data
    out = quantize_onnx_static(fp32, tmp_path / "q.onnx", representative, method=method)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["q.onnx"]
    proto = onnx.load(str(out))
    ops = [n.op_type for n in proto.graph.node]
    assert "QuantizeLinear" in ops and "DequantizeLinear" in ops
    int8_weights = {i.name for i in proto.graph.initializer if i.data_type == onnx.TensorProto.INT8}
    weight_dq = [n for n in proto.graph.node if n.op_type == "DequantizeLinear" and n.input[0] in int8_weights]
    assert weight_dq, "weights are not stored as int8"
    ref, got = _logits(fp32, x), _logits(out, x)
    assert np.mean(ref.argmax(1) == y) >= 0.9  # the tiny model learned the task: top-1 is meaningful
    agree = np.mean(got.argmax(1) == ref.argmax(1))
    assert agree >= 0.9, f"int8 agrees with fp32 on {agree:.0%} ({method})"


def test_per_channel_weights_have_one_scale_per_channel(tmp_path, fp32, data):
    out = quantize_onnx_static(fp32, tmp_path / "q.onnx", data[0], per_channel=True)
    proto = onnx.load(str(out))
    inits = {i.name: i for i in proto.graph.initializer}
    conv_w_scales = [inits[n.input[1]] for n in proto.graph.node if n.op_type == "DequantizeLinear"
                     and n.input[0] in inits and inits[n.input[0]].data_type == onnx.TensorProto.INT8
                     and len(inits[n.input[0]].dims) == 4]
    assert conv_w_scales and all(len(s.dims) == 1 and s.dims[0] > 1 for s in conv_w_scales)


def test_unknown_method_and_bad_data_are_user_errors(tmp_path, fp32, data):
    with pytest.raises(ConfigError):
        quantize_onnx_static(fp32, tmp_path / "q.onnx", data[0], method="kl")
    with pytest.raises(DataError):
        quantize_onnx_static(fp32, tmp_path / "q.onnx", np.zeros((4, 1, 16, 16), np.float32))
    assert list(tmp_path.iterdir()) == []
