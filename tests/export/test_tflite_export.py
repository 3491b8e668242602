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


class _PoolNet(torch.nn.Module):
    """Sparse ReLU maps whose global average is about a tenth of their peak, then a classifier."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.conv = torch.nn.Conv2d(3, 8, 3, padding=1)
        self.pool = torch.nn.AdaptiveAvgPool2d(1)
        self.fc = torch.nn.Linear(8, 4)
        with torch.no_grad():
            self.conv.weight.mul_(6.0)
            self.conv.bias.fill_(-1.0)

    def forward(self, x):
        return self.fc(self.pool(torch.relu(self.conv(x))).flatten(1))


def _mean_op(path, x_nchw) -> tuple[float, float, np.ndarray]:
    """(input scale, output scale, dequantized outputs on ``x_nchw``) of a fully integer model's MEAN op."""
    from ai_edge_litert.interpreter import Interpreter

    it = Interpreter(model_path=str(path), experimental_preserve_all_tensors=True)
    it.allocate_tensors()
    mean = next(op for op in it._get_ops_details() if op["op_name"] == "MEAN")
    details = {t["index"]: t for t in it.get_tensor_details()}
    out = details[mean["outputs"][0]]
    scale, zero = out["quantization"]
    pooled = []
    for sample in x_nchw:
        it.set_tensor(it.get_input_details()[0]["index"], np.ascontiguousarray(sample[None].transpose(0, 2, 3, 1)))
        it.invoke()
        pooled.append((it.get_tensor(out["index"]).astype(np.float32).reshape(1, -1) - zero) * scale)
    return details[mean["inputs"][0]]["quantization"][0], scale, np.concatenate(pooled)


def test_tflite_int8_global_pool_gets_its_own_output_range(tmp_path, data, lib, monkeypatch):
    import edgekd.export.tflite as tflite

    representative, x, _ = data
    model = _PoolNet().eval()
    with torch.no_grad():
        pooled = model.pool(torch.relu(model.conv(torch.from_numpy(x)))).flatten(1).numpy()
    own = export_tflite(model, lib.SHAPE, tmp_path / "own.tflite", int8=True, representative=representative)
    monkeypatch.setattr(tflite, "_own_pool_output_ranges", lambda graph, config: graph)  # litert-torch's sharing
    shared = export_tflite(model, lib.SHAPE, tmp_path / "shared.tflite", int8=True, representative=representative)
    own_in, own_out, own_pooled = _mean_op(own, x)
    shared_in, shared_out, shared_pooled = _mean_op(shared, x)
    # Hand-checked on this model: the pool's input peaks near 9.3 and its output near 0.9, so a shared
    # scale reads the pooled features in steps of 0.032 and an own one in steps of 0.0036. The pooled
    # features' mean error was 0.0109 shared and 0.0068 own (the rest comes from the layers before).
    assert shared_out == shared_in and own_out < own_in / 4
    assert own_out * 255 >= 0.8 * pooled.max()  # still covers the pooled values
    own_error, shared_error = np.abs(own_pooled - pooled).mean(), np.abs(shared_pooled - pooled).mean()
    assert own_error < 0.75 * shared_error, (own_error, shared_error)
    reference = lib.torch_logits(model, x)
    assert np.abs(_run(own, x)[0] - reference).mean() < np.abs(_run(shared, x)[0] - reference).mean()
