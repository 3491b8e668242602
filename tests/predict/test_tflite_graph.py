"""Costs and memory of .tflite graphs made by TensorFlow's converter, against hand-computed figures."""

from __future__ import annotations

import pytest

from edgekd.errors import ModelFileError
from edgekd.predict.tflite_graph import op_costs_tflite
from edgekd.predict.tflite_memory import analyze_tflite

from .conftest import GOLDEN_MACS

# (op type, class, MACs) of every MAC op of the golden network, in execution order (see conftest.py).
EXPECTED_MAC_OPS = [("CONV_2D", "conv", 13824), ("DEPTHWISE_CONV_2D", "depthwise", 4608),
                    ("CONV_2D", "grouped", 10368), ("DEPTHWISE_CONV_2D", "depthwise", 2592),
                    ("CONV_2D", "pointwise", 1728), ("TRANSPOSE_CONV", "conv", 864), ("FULLY_CONNECTED", "gemm", 40)]


def _mac_rows(costs):
    return [(c.op_type, c.op_class, c.macs) for c in costs if c.macs]


def test_fp32_graph_costs_every_op_by_hand(golden_files):
    costs = op_costs_tflite(golden_files["fp32"])
    assert _mac_rows(costs) == EXPECTED_MAC_OPS
    assert sum(c.macs for c in costs if not c.folded) == GOLDEN_MACS
    assert {c.precision for c in costs} == {"fp32"} and not any(c.folded for c in costs)
    conv = costs[0]
    assert conv.fused == "relu"  # from Conv2D(activation="relu"): the builtin options, no RELU op
    assert conv.bytes_read == 4 * (8 * 8 * 3 + 8 * 3 * 3 * 3 + 8) and conv.bytes_written == 4 * 8 * 8 * 8
    by_type = {c.op_type: c for c in costs}
    assert by_type["HARD_SWISH"].op_class == "elementwise" and by_type["HARD_SWISH"].ops == 3 * 6 * 6 * 6
    assert by_type["MAX_POOL_2D"].ops == 3 * 3 * 6 * (2 * 2)  # output elements x window
    assert by_type["MEAN"].op_class == "pool" and by_type["MEAN"].ops == 6 * 6 * 4
    assert by_type["SOFTMAX"].ops == 10 * 5


def test_int8_graph_is_int8_with_quantize_ops_folded(golden_files):
    costs = op_costs_tflite(golden_files["int8"])
    assert _mac_rows(costs) == EXPECTED_MAC_OPS
    folded = [c.op_type for c in costs if c.folded]
    assert folded == ["QUANTIZE", "DEQUANTIZE"]  # float I/O around integer kernels
    assert {c.precision for c in costs if not c.folded} == {"int8"}
    conv = next(c for c in costs if c.op_type == "CONV_2D")
    # int8 input and weights, int32 bias; the output is written as int8
    assert conv.bytes_read == 8 * 8 * 3 + 8 * 3 * 3 * 3 + 4 * 8 and conv.bytes_written == 8 * 8 * 8


def test_liveness_arena_and_weights(golden_files):
    fp32, int8 = analyze_tflite(golden_files["fp32"]), analyze_tflite(golden_files["int8"])
    # Peak at the depthwise conv: its 8x8x8 input and output alive together (the BN MUL/ADD before it run
    # in place). FP32: 2 x 2048 bytes; int8: 2 x 512.
    assert fp32["peak_activation_bytes"] == 2 * 8 * 8 * 8 * 4 and "dw" in fp32["peak_node"]
    assert int8["peak_activation_bytes"] == 2 * 8 * 8 * 8
    # FP32 weights: 900 float parameters (see test_model_facts) + MEAN axes (2 x int32) + TRANSPOSE_CONV
    # output shape (4 x int32).
    assert fp32["weights_bytes"] == 4 * 900 + 4 * 2 + 4 * 4
    assert int8["weights_bytes"] < fp32["weights_bytes"] / 3
    assert fp32["file_bytes"] == golden_files["fp32"].stat().st_size


def test_torch_export_grouped_conv_through_litert(tmp_path):
    import torch
    from torch import nn

    from edgekd.export.tflite import export_tflite

    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 8, 3, padding=1, groups=4),
                          nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 5)).eval()
    path = export_tflite(model, (3, 8, 8), tmp_path / "g.tflite")
    rows = _mac_rows(op_costs_tflite(path))
    # conv 8*8*8*27; grouped (4 groups of 2 input channels) 8*8*8*2*9; linear 8*5
    assert rows == [("CONV_2D", "conv", 13824), ("CONV_2D", "grouped", 9216), ("FULLY_CONNECTED", "gemm", 40)]


@pytest.mark.parametrize("content", [b"", b"not a flatbuffer at all", b"\x00" * 64])
def test_unreadable_file_is_a_model_file_error(tmp_path, content):
    path = tmp_path / "bad.tflite"
    path.write_bytes(content)
    with pytest.raises(ModelFileError):
        op_costs_tflite(path)


def test_truncated_flatbuffer_is_a_model_file_error(tmp_path, golden_files):
    path = tmp_path / "cut.tflite"
    path.write_bytes(golden_files["fp32"].read_bytes()[:600])
    with pytest.raises(ModelFileError):
        op_costs_tflite(path)


def test_dynamic_input_size_is_an_error_not_a_1x1_cost(tmp_path):
    import keras
    import tensorflow as tf

    from edgekd.predict.graph import UncostableGraphError
    from edgekd.predict.model_facts import count_model

    inp = keras.Input((None, None, 3))  # H and W decided at run time: the flatbuffer stores 1 for them
    out = keras.layers.Dense(4)(keras.layers.GlobalAveragePooling2D()(keras.layers.Conv2D(8, 3)(inp)))
    path = tmp_path / "dyn.tflite"
    path.write_bytes(tf.lite.TFLiteConverter.from_keras_model(keras.Model(inp, out)).convert())
    with pytest.raises(UncostableGraphError, match="CONV_2D"):
        op_costs_tflite(path)
    facts = count_model(path, "tflite")
    assert facts["macs"] is None and "CONV_2D" in facts["unknown_ops"][0]


def test_float16_weights_are_fp16_ops_with_dequantize_folded(tmp_path):
    import keras
    import tensorflow as tf

    inp = keras.Input((8, 8, 3), batch_size=1)
    model = keras.Model(inp, keras.layers.Conv2D(4, 3, bias_initializer="ones")(inp))
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.target_spec.supported_types = [tf.float16]  # weights stored float16, DEQUANTIZE'd at load
    path = tmp_path / "fp16.tflite"
    path.write_bytes(converter.convert())
    costs = op_costs_tflite(path)
    conv = next(c for c in costs if c.op_type == "CONV_2D")
    assert {c.op_type for c in costs if c.folded} == {"DEQUANTIZE"}
    assert conv.precision == "fp16" and conv.macs == 6 * 6 * 4 * 3 * 9
    # float32 input and output, float16 weights and bias read at their stored size
    assert conv.bytes_read == 4 * 8 * 8 * 3 + 2 * (4 * 3 * 3 * 3 + 4) and conv.bytes_written == 4 * 6 * 6 * 4
    assert analyze_tflite(path)["weights_bytes"] == 2 * (4 * 27 + 4)
