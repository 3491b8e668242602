"""Shapes are always concrete: graphs whose shapes ONNX inference cannot resolve get exact costs, or an error."""

from __future__ import annotations

import warnings

import numpy as np
import onnx
import pytest
import torch
import torch.nn.functional as F
from onnx import TensorProto, helper, numpy_helper
from torch import nn

from edgekd.predict.graph import UncostableGraphError, op_costs
from edgekd.predict.memory import analyze_onnx


class _SameConv(nn.Conv2d):
    """TF-"same" padding computed from the input size at run time (as EfficientNet-EdgeTPU ports do)."""

    def forward(self, x):
        ih, iw = x.shape[-2:]
        kh, kw = self.weight.shape[-2:]
        sh, sw = self.stride
        ph = max((-(-ih // sh) - 1) * sh + kh - ih, 0)
        pw = max((-(-iw // sw) - 1) * sw + kw - iw, 0)
        x = F.pad(x, [pw // 2, pw - pw // 2, ph // 2, ph - ph // 2])
        return F.conv2d(x, self.weight, self.bias, self.stride, 0, self.dilation, self.groups)


class _Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.c1, self.c2 = _SameConv(3, 8, 3, stride=2), _SameConv(8, 8, 3, groups=8)
        self.g = nn.Conv2d(8, 8, 1, groups=2)
        self.fc = nn.Linear(8, 5)

    def forward(self, x):
        return self.fc(self.g(self.c2(torch.relu(self.c1(x)))).mean((2, 3)))


# On 3x16x16: c1 (stride 2, same) 8x8x8 out * 3*9 = 13824; c2 depthwise 512 * 9 = 4608;
# g (1x1, 2 groups of 4) 512 * 4 = 2048; fc 8*5 = 40.
EXPECTED = [("conv", 13824), ("depthwise", 4608), ("grouped", 2048), ("gemm", 40)]


def _export(path, dynamic_axes):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(_Net().eval(), (torch.zeros(1, 3, 16, 16),), str(path), dynamo=False, opset_version=17,
                          input_names=["x"], output_names=["y"], dynamic_axes=dynamic_axes)
    return path


def _mac_rows(costs):
    return [(c.op_class, c.macs) for c in costs if c.op_type in ("Conv", "Gemm", "MatMul")]


def test_runtime_padding_gets_exact_macs_not_zero(tmp_path):
    path = _export(tmp_path / "same.onnx", {"x": {0: "n"}, "y": {0: "n"}})
    model = onnx.shape_inference.infer_shapes(onnx.load(str(path)), data_prop=True)
    known = {v.name for v in model.graph.value_info
             if all(d.HasField("dim_value") for d in v.type.tensor_type.shape.dim)}
    conv_out = next(n.output[0] for n in model.graph.node if n.op_type == "Conv")
    assert conv_out not in known  # the case: shape inference alone leaves the conv's output unknown
    assert _mac_rows(op_costs(path)) == EXPECTED
    assert analyze_onnx(path)["peak_activation_bytes"] > 4 * 3 * 16 * 16  # arena sees real shapes too


def test_dynamic_height_width_needs_the_input_shape(tmp_path):
    path = _export(tmp_path / "hw.onnx", {"x": {0: "n", 2: "h", 3: "w"}, "y": {0: "n"}})
    with pytest.raises(UncostableGraphError, match="dynamic dimensions"):
        op_costs(path)
    assert _mac_rows(op_costs(path, input_shape=(1, 3, 16, 16))) == EXPECTED


def test_node_whose_shape_no_one_can_know_raises_naming_it(tmp_path):
    # A custom-domain op onnxruntime cannot run feeds a conv: its input shape stays unknown.
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, None)
    nodes = [helper.make_node("Mystery", ["x"], ["t"], domain="com.example", name="mystery"),
             helper.make_node("Conv", ["t", "w"], ["y"], name="conv_after_mystery")]
    graph = helper.make_graph(nodes, "g", [x], [y], [numpy_helper.from_array(np.zeros((4, 3, 3, 3), np.float32), "w")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("com.example", 1)])
    model.ir_version = 8  # readable by onnxruntime 1.31: it fails on the unknown op, not on the version
    path = tmp_path / "mystery.onnx"
    onnx.save(model, path)
    with pytest.raises(UncostableGraphError, match="Mystery node 'mystery'"):  # the first node it cannot cost
        op_costs(path)
