"""Activation arena from tensor liveness, weights bytes, file bytes and the RSS sampler."""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from edgekd.measure.rss import RssSampler
from edgekd.predict.memory import analyze_onnx


def _save(tmp_path, nodes, inputs, outputs, inits):
    graph = helper.make_graph(nodes, "g", inputs, outputs, initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    path = tmp_path / "m.onnx"
    onnx.save(model, path)
    return path


def _w(name, shape, dtype=np.float32):
    return numpy_helper.from_array(np.zeros(shape, dtype), name)


def test_chain_arena_is_the_hand_computed_peak(tmp_path):
    # x[1,3,8,8] -> conv3x3(8) -> relu (in place) -> conv1x1(4) -> GAP -> flatten (view)
    nodes = [helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["c1"], ["r1"]),
             helper.make_node("Conv", ["r1", "w2"], ["c2"]),
             helper.make_node("GlobalAveragePool", ["c2"], ["g"]),
             helper.make_node("Flatten", ["g"], ["y"])]
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 3, 8, 8])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 4])
    path = _save(tmp_path, nodes, [x], [y], [_w("w1", (8, 3, 3, 3)), _w("b1", (8,)), _w("w2", (4, 8, 1, 1))])
    x_b, c1_b, c2_b, g_b = 3 * 64 * 4, 8 * 64 * 4, 4 * 64 * 4, 4 * 4
    steps = [x_b + c1_b,   # conv1 reads x, writes c1
             c1_b,         # relu in place on c1 (x is dead)
             c1_b + c2_b,  # conv2 reads r1 (= c1's buffer), writes c2
             c2_b + g_b,   # GAP
             g_b]          # flatten is a view of g
    mem = analyze_onnx(path)
    assert mem["peak_activation_bytes"] == max(steps) == 3072
    assert mem["weights_bytes"] == 4 * (8 * 27 + 8 + 4 * 8)
    assert mem["file_bytes"] == path.stat().st_size


def test_add_reuses_a_dead_input_of_equal_size(tmp_path):
    # x[1,4,8,8] -> conv1x1 = a; y = relu(a + x): the add writes into a's (or x's) dead buffer
    nodes = [helper.make_node("Conv", ["x", "w"], ["a"]),
             helper.make_node("Add", ["a", "x"], ["s"]),
             helper.make_node("Relu", ["s"], ["y"])]
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4, 8, 8])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4, 8, 8])
    path = _save(tmp_path, nodes, [x], [y], [_w("w", (4, 4, 1, 1))])
    one = 4 * 64 * 4
    assert analyze_onnx(path)["peak_activation_bytes"] == 2 * one  # not 3: the sum is computed in place


def test_qdq_activations_count_as_int8(tmp_path):
    s, z = numpy_helper.from_array(np.array(0.1, np.float32), "s"), _w("z", (), np.int8)
    nodes = [helper.make_node("QuantizeLinear", ["x", "s", "z"], ["xq"]),
             helper.make_node("DequantizeLinear", ["xq", "s", "z"], ["xd"]),
             helper.make_node("DequantizeLinear", ["wq", "s", "z"], ["wd"]),
             helper.make_node("Conv", ["xd", "wd"], ["c"]),
             helper.make_node("QuantizeLinear", ["c", "s", "z"], ["y"])]
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4, 8, 8])
    y = helper.make_tensor_value_info("y", TensorProto.INT8, [1, 8, 8, 8])
    path = _save(tmp_path, nodes, [x], [y], [s, z, _w("wq", (8, 4, 1, 1), np.int8)])
    mem = analyze_onnx(path)
    # step 0: float input + its int8 copy; step 3 (conv): int8 input + int8 output
    assert mem["peak_activation_bytes"] == max(4 * 64 * 4 + 4 * 64, 4 * 64 + 8 * 64)
    assert mem["weights_bytes"] == 8 * 4 + 4 + 1


def test_rss_sampler_sees_an_allocation():
    import mmap

    # A fresh anonymous mapping: new pages whatever the allocator keeps (after a long test session the
    # process holds freed memory that np.ones could reuse without its RSS growing).
    with RssSampler(interval_s=0.001) as rss:
        start = rss.peak_bytes
        region = mmap.mmap(-1, 64 << 20)
        block = np.frombuffer(region, np.uint8)
        block[:] = 1  # 64 MiB, touched
    assert block.sum() == 64 << 20
    assert rss.peak_bytes >= start + (48 << 20)
    assert rss.samples >= 2
