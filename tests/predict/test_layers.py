"""Layer geometry read from ONNX graphs (``edgekd.predict.layers``) and the public ``api.predict_latency``."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from edgekd import api
from edgekd.errors import TargetError
from edgekd.predict.layers import costs_with_shapes


def _graph(tmp_path, qdq: bool) -> str:
    """x[1,16,8,8] -> depthwise 3x3 s2 -> grouped 1x1 (4 groups, 32 out) -> GAP -> flatten -> gemm(10)."""
    dw = np.ones((16, 1, 3, 3), np.float32)
    grouped = np.ones((32, 4, 1, 1), np.float32)
    fc = np.ones((10, 32), np.float32)
    inits, names = [], {}
    nodes = []
    for key, w in (("dw", dw), ("grp", grouped), ("fc", fc)):
        if qdq:
            inits.append(numpy_helper.from_array(w.astype(np.int8), f"{key}_q"))
            nodes.append(helper.make_node("DequantizeLinear", [f"{key}_q", "s", "z"], [key]))
        else:
            inits.append(numpy_helper.from_array(w, key))
        names[key] = key
    inits += [numpy_helper.from_array(np.array(0.1, np.float32), "s"),
              numpy_helper.from_array(np.array(0, np.int8), "z")]
    nodes += [helper.make_node("Conv", ["x", "dw"], ["a"], group=16, strides=[2, 2], pads=[1, 1, 1, 1], name="dw"),
              helper.make_node("Conv", ["a", "grp"], ["b"], group=4, name="grouped"),
              helper.make_node("GlobalAveragePool", ["b"], ["c"]), helper.make_node("Flatten", ["c"], ["d"]),
              helper.make_node("Gemm", ["d", "fc"], ["y"], transB=1, name="fc")]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 16, 8, 8])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 10])], initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    path = tmp_path / f"g{int(qdq)}.onnx"
    onnx.save(model, path)
    return str(path)


@pytest.mark.parametrize("qdq, itemsize", [(False, 4), (True, 1)])
def test_layer_shapes_of_depthwise_grouped_and_gemm_nodes(tmp_path, qdq, itemsize):
    rows = {r.name: r for r in costs_with_shapes(_graph(tmp_path, qdq)) if not r.folded}
    dw, grp, fc = rows["dw"].shape, rows["grouped"].shape, rows["fc"].shape
    assert (dw.cin, dw.cout, dw.groups, dw.kernel, dw.stride, dw.out_hw) == (16, 16, 16, (3, 3), (2, 2), (4, 4))
    assert dw.depthwise and not dw.grouped and dw.reduction == 9
    assert grp.grouped and grp.reduction == 4 and grp.outputs == 32 * 16
    assert (fc.cin, fc.cout, fc.out_hw) == (32, 10, (1, 1))
    # Weights as stored: QDQ weights are followed back to their int8 initializer.
    assert (dw.weight_bytes, grp.weight_bytes, fc.weight_bytes) == (144 * itemsize, 128 * itemsize, 320 * itemsize)
    assert all(r.shape is None for r in rows.values() if r.op_type == "GlobalAveragePool")  # not conv-like


def test_public_predict_latency_costs_threads_and_says_how_the_band_was_derived(tmp_path):
    path = _graph(tmp_path, qdq=False)
    one = api.predict_latency(path, "raspberry-pi-4", "fp32", runtime="litert", threads=1)
    four = api.predict_latency(path, "raspberry-pi-4", "fp32", runtime="litert", threads=4)
    assert one["method"] == "device-model:litert" and one["threads"] == 1 and four["threads"] == 4
    assert "leave-one-source-out" in one["band"]
    host = api.predict_latency(path, "host", "fp32")
    assert host["method"] == "roofline" and "not validated" in host["band"]
    with pytest.raises(TargetError, match="threads"):
        api.predict_latency(path, "raspberry-pi-4", "fp32", threads=0)
