"""Per-op cost table: MACs, classes, bytes and precision of hand-built ONNX graphs."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from edgekd.predict.graph import op_costs


def _save(tmp_path, nodes, inputs, outputs, inits, name="m.onnx"):
    graph = helper.make_graph(nodes, "g", inputs, outputs, initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    path = tmp_path / name
    onnx.save(model, path)
    return path


def _w(name, shape):
    return numpy_helper.from_array(np.zeros(shape, np.float32), name)


def _small_cnn(tmp_path):
    """x[batch,3,8,8] -> conv3x3(8) -> relu -> dw3x3 -> pw1x1(4) -> GAP -> flatten -> gemm(10)."""
    nodes = [helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], pads=[1, 1, 1, 1], name="conv"),
             helper.make_node("Relu", ["c1"], ["r1"], name="relu"),
             helper.make_node("Conv", ["r1", "w2"], ["c2"], pads=[1, 1, 1, 1], group=8, name="dw"),
             helper.make_node("Conv", ["c2", "w3"], ["c3"], name="pw"),
             helper.make_node("GlobalAveragePool", ["c3"], ["g"], name="gap"),
             helper.make_node("Flatten", ["g"], ["f"], name="flat"),
             helper.make_node("Gemm", ["f", "w4", "b4"], ["y"], transB=1, name="fc")]
    inits = [_w("w1", (8, 3, 3, 3)), _w("b1", (8,)), _w("w2", (8, 1, 3, 3)), _w("w3", (4, 8, 1, 1)),
             _w("w4", (10, 4)), _w("b4", (10,))]
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 3, 8, 8])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 10])
    return _save(tmp_path, nodes, [x], [y], inits)


def test_macs_and_classes_match_the_analytic_counts(tmp_path):
    costs = {c.name: c for c in op_costs(_small_cnn(tmp_path))}
    assert costs["conv"].macs == (8 * 8 * 8) * 3 * 3 * 3       # out elements x Cin x k x k
    assert costs["dw"].macs == (8 * 8 * 8) * 1 * 3 * 3          # group == Cin: one input channel each
    assert costs["pw"].macs == (4 * 8 * 8) * 8
    assert costs["fc"].macs == 10 * 4
    assert [costs[n].op_class for n in ("conv", "dw", "pw", "fc", "gap")] == \
        ["conv", "depthwise", "pointwise", "gemm", "pool"]
    assert costs["flat"].folded and costs["flat"].bytes_read == 0
    assert costs["relu"].folded  # fused into the conv that feeds it
    assert costs["gap"].ops == 4 * 8 * 8


def test_bytes_read_and_written_include_weights(tmp_path):
    conv = next(c for c in op_costs(_small_cnn(tmp_path)) if c.name == "conv")
    assert conv.bytes_read == 4 * (3 * 8 * 8 + 8 * 3 * 3 * 3 + 8)
    assert conv.bytes_written == 4 * (8 * 8 * 8)
    assert conv.precision == "fp32"


def test_matmul_and_batch_dimension_is_one(tmp_path):
    a = helper.make_tensor_value_info("a", TensorProto.FLOAT, ["batch", 5, 16])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 5, 7])
    path = _save(tmp_path, [helper.make_node("MatMul", ["a", "w"], ["y"], name="mm")], [a], [y], [_w("w", (16, 7))])
    (cost,) = op_costs(path)
    assert cost.macs == 5 * 7 * 16


def test_qdq_conv_is_int8_and_qdq_nodes_are_folded(tmp_path):
    s = numpy_helper.from_array(np.array(0.1, np.float32), "s")
    z = numpy_helper.from_array(np.array(0, np.int8), "z")
    wq = numpy_helper.from_array(np.ones((8, 3, 3, 3), np.int8), "wq")
    nodes = [helper.make_node("QuantizeLinear", ["x", "s", "z"], ["xq"]),
             helper.make_node("DequantizeLinear", ["xq", "s", "z"], ["xd"]),
             helper.make_node("DequantizeLinear", ["wq", "s", "z"], ["wd"]),
             helper.make_node("Conv", ["xd", "wd"], ["c"], pads=[1, 1, 1, 1], name="conv"),
             helper.make_node("QuantizeLinear", ["c", "s", "z"], ["y"])]
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 3, 8, 8])
    y = helper.make_tensor_value_info("y", TensorProto.INT8, ["batch", 8, 8, 8])
    costs = op_costs(_save(tmp_path, nodes, [x], [y], [s, z, wq]))
    conv = next(c for c in costs if c.name == "conv")
    assert conv.precision == "int8"
    assert conv.macs == 8 * 8 * 8 * 27
    assert conv.bytes_read == 3 * 8 * 8 + 8 * 27      # 1-byte activations and weights
    assert conv.bytes_written == 8 * 8 * 8             # written as int8 by the fused kernel
    assert all(c.folded for c in costs if c.op_type in ("QuantizeLinear", "DequantizeLinear"))


def test_torch_exported_model_counts_match(tmp_path):
    torch = pytest.importorskip("torch")
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 6, 3, padding=1), torch.nn.ReLU6(),
                                torch.nn.Conv2d(6, 6, 3, padding=1, groups=6), torch.nn.AdaptiveAvgPool2d(1),
                                torch.nn.Flatten(), torch.nn.Linear(6, 5)).eval()
    path = tmp_path / "t.onnx"
    torch.onnx.export(model, torch.zeros(1, 3, 12, 12), path, dynamo=False, input_names=["x"],
                      dynamic_axes={"x": {0: "batch"}})
    total = sum(c.macs for c in op_costs(path) if not c.folded)
    assert total == 6 * 144 * 27 + 6 * 144 * 9 + 6 * 5
