"""LiteRTRunner: FP32 NCHW and NHWC models match torch, INT8 I/O is (de)quantized."""

from __future__ import annotations

import numpy as np
import pytest

from edgekd.errors import DataError
from edgekd.runtimes import TorchRunner, open_runner
from edgekd.runtimes.litert_runner import LiteRTRunner, dequantize, quantize

pytestmark = pytest.mark.slow  # litert-torch conversion takes a few seconds per model


def test_litert_fp32_matches_torch(model, x, tflite_exports):
    runner = open_runner(tflite_exports["fp32"], "tflite", threads=1)
    assert runner.name == "litert" and runner.model_shape == (1, 3, 12, 10)
    assert not runner.channels_last((3, 12, 10))
    logits = runner.predict(x)
    assert logits.dtype == np.float32 and logits.shape == (len(x), 5)
    np.testing.assert_allclose(logits, TorchRunner(model).predict(x), atol=1e-5, rtol=0)


def test_litert_nhwc_input_is_transposed(model, x, tflite_exports):
    runner = LiteRTRunner(tflite_exports["nhwc"], threads=1)
    assert runner.model_shape == (1, 12, 10, 3) and runner.channels_last((3, 12, 10))
    np.testing.assert_allclose(runner.predict(x), TorchRunner(model).predict(x), atol=1e-5, rtol=0)
    prepared = runner.prepare(x[:1])
    assert prepared.shape == (1, 12, 10, 3)
    assert runner.run_once(prepared) is None


def test_litert_int8_io_is_quantized_and_dequantized(model, x, tflite_exports):
    runner = LiteRTRunner(tflite_exports["int8"], threads=1)
    assert np.dtype(runner._in["dtype"]) == np.int8 and runner.input_q is not None
    assert np.dtype(runner._out["dtype"]) == np.int8 and runner.output_q is not None
    assert runner.prepare(x[:1]).dtype == np.int8
    logits, ref = runner.predict(x), TorchRunner(model).predict(x)
    assert logits.dtype == np.float32
    # Dequantized logits are on torch's scale: within a few output quantization steps.
    out_scale = runner.output_q[0]
    assert np.abs(logits - ref).max() <= 8 * out_scale + 0.02 * np.abs(ref).max()


def test_litert_wrong_input_shape_is_a_data_error(x, tflite_exports):
    runner = LiteRTRunner(tflite_exports["fp32"])
    with pytest.raises(DataError, match="expects input"):
        runner.predict(np.zeros((2, 3, 8, 8), np.float32))


def test_quantize_golden_values():
    # scale 0.5, zero point -3: q = round(x / 0.5) - 3, clipped to [-128, 127]
    #   0.0 -> -3;  1.0 -> 2 - 3 = -1;  0.74 -> round(1.48) - 3 = -2;  100 -> 197 -> 127;  -100 -> -203 -> -128
    q = quantize(np.array([0.0, 1.0, 0.74, 100.0, -100.0]), 0.5, -3, np.int8)
    np.testing.assert_array_equal(q, np.array([-3, -1, -2, 127, -128], np.int8))
    # dequantize: (q + 3) * 0.5
    np.testing.assert_allclose(dequantize(q, 0.5, -3), [0.0, 1.0, 0.5, 65.0, -62.5])
    # uint8 with zero point 128: 1.0 / 0.25 + 128 = 132; -40 -> -32 -> clipped 0
    np.testing.assert_array_equal(quantize(np.array([1.0, -40.0]), 0.25, 128, np.uint8), [132, 0])
