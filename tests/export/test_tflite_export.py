"""export_tflite: FP32 parity (NHWC), fully-integer INT8 with int8 or float I/O, op-naming errors."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

from edgekd.errors import ConfigError, ConversionError
from edgekd.export.tflite import export_tflite


def _run(path, x_nchw):
    """Run every sample through ai_edge_litert (NHWC), (de)quantizing integer I/O."""
    from ai_edge_litert.interpreter import Interpreter

    it = Interpreter(model_path=str(path))
    it.allocate_tensors()
    inp, out = it.get_input_details()[0], it.get_output_details()[0]
    ys = []
    for sample in x_nchw:
        xi = sample[None].transpose(0, 2, 3, 1)
        if inp["dtype"] == np.int8:
            scale, zero = inp["quantization"]
            xi = np.clip(np.round(xi / scale) + zero, -128, 127).astype(np.int8)
        it.set_tensor(inp["index"], np.ascontiguousarray(xi))
        it.invoke()
        y = it.get_tensor(out["index"])
        if out["dtype"] == np.int8:
            scale, zero = out["quantization"]
            y = (y.astype(np.float32) - zero) * scale
        ys.append(y)
    return np.concatenate(ys), inp, out, [op["op_name"] for op in it._get_ops_details()]


def test_tflite_fp32_matches_torch_nhwc(tmp_path, tiny_model, data, lib):
    _, x, _ = data
    path = export_tflite(tiny_model, lib.SHAPE, tmp_path / "m.tflite")
    got, inp, out, _ = _run(path, x[:8])
    assert list(inp["shape"]) == [1, 16, 16, 3] and inp["dtype"] == np.float32
    np.testing.assert_allclose(got, lib.torch_logits(tiny_model, x[:8]), atol=1e-4, rtol=0)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.tflite"]


# Float I/O around integer kernels is the slow-suite half (make test-all); int8 I/O is what MCUs ship.
@pytest.mark.parametrize("int8_io", [True, pytest.param(False, marks=pytest.mark.slow)])
def test_tflite_int8_is_fully_integer_and_agrees(tmp_path, tiny_model, data, lib, int8_io):
    representative, x, _ = data
    before = copy.deepcopy(tiny_model.state_dict())
    path = export_tflite(tiny_model, lib.SHAPE, tmp_path / "q.tflite", int8=True, representative=representative,
                         int8_io=int8_io)
    got, inp, out, ops = _run(path, x)
    io_dtype = np.int8 if int8_io else np.float32
    assert inp["dtype"] == io_dtype and out["dtype"] == io_dtype
    # Fully integer: no float kernel sandwiched between DEQUANTIZE/QUANTIZE pairs.
    assert ops.count("QUANTIZE") == (0 if int8_io else 1)
    assert ops.count("DEQUANTIZE") == (0 if int8_io else 1)
    agree = np.mean(got.argmax(1) == lib.torch_logits(tiny_model, x).argmax(1))
    assert agree >= 0.8, f"int8 top-1 agrees with torch on only {agree:.0%}"
    for key, value in tiny_model.state_dict().items():
        assert torch.equal(value, before[key])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["q.tflite"]


def test_tflite_int8_needs_calibration(tmp_path, tiny_model, lib):
    with pytest.raises(ConfigError):
        export_tflite(tiny_model, lib.SHAPE, tmp_path / "q.tflite", int8=True)
    with pytest.raises(ConfigError):
        export_tflite(tiny_model, lib.SHAPE, tmp_path / "q.tflite", int8=True,
                      representative=np.zeros((4, 1, 16, 16), np.float32))
    assert list(tmp_path.iterdir()) == []


def test_tflite_unsupported_op_names_op_and_format(tmp_path, lib):
    with pytest.raises(ConversionError) as info:
        export_tflite(lib.SvdNet(), lib.SHAPE, tmp_path / "svd.tflite")
    assert info.value.fmt == "tflite"
    assert "svd" in (info.value.op or "")
    assert "tflite" in str(info.value) and "\n" not in str(info.value)
    assert list(tmp_path.iterdir()) == []
