"""Shape helpers of the runtimes: the real shapes a runtime produces, read by the graph cost tables."""

from __future__ import annotations

import numpy as np
from onnx import TensorProto, helper, numpy_helper

from edgekd.runtimes.litert_runner import tensor_shapes
from edgekd.runtimes.onnx_runner import intermediate_shapes


def test_intermediate_shapes_reads_what_onnxruntime_produces():
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 3, "h", "w"])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, None)
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"], strides=[2, 2]), helper.make_node("Relu", ["c"], ["y"])]
    graph = helper.make_graph(nodes, "g", [x], [y], [numpy_helper.from_array(np.ones((4, 3, 3, 3), np.float32), "w")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8  # what onnxruntime 1.31 reads
    shapes = intermediate_shapes(model, {"x": np.zeros((1, 3, 11, 9), np.float32)}, ["c", "y"])
    assert shapes["c"][0] == (1, 4, 5, 4) and shapes["y"][0] == (1, 4, 5, 4)  # (11-3)//2+1, (9-3)//2+1
    assert shapes["c"][1] == np.float32
    assert [o.name for o in model.graph.output] == ["y"]  # the caller's model is not changed


def test_tensor_shapes_of_a_dynamic_batch_tflite_are_batch_one(tmp_path):
    import keras
    import tensorflow as tf

    inp = keras.Input((6, 6, 2))  # batch dimension dynamic (-1 in the signature)
    model = keras.Model(inp, keras.layers.Conv2D(3, 3)(inp))
    path = tmp_path / "m.tflite"
    path.write_bytes(tf.lite.TFLiteConverter.from_keras_model(model).convert())
    shapes = tensor_shapes(path)
    assert (1, 6, 6, 2) in shapes.values() and (1, 4, 4, 3) in shapes.values()
