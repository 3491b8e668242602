"""count_model: params and MACs of ONNX, TFLite and Keras files against hand-computed golden counts."""

from __future__ import annotations

import warnings

import numpy as np
import onnx
import pytest
import torch
from onnx import TensorProto, helper, numpy_helper
from torch import nn

from edgekd.predict.model_facts import count_model
from edgekd.students import count_params_macs

from .conftest import GOLDEN_KERAS_PARAMS, GOLDEN_MACS


class _TorchNet(nn.Module):
    """conv(3->8, 3x3) + BN + relu -> grouped conv(8->8, 3x3, groups 4) -> depthwise 3x3 -> GAP -> linear(8->5)."""

    def __init__(self):
        super().__init__()
        self.conv, self.bn = nn.Conv2d(3, 8, 3, padding=1, bias=False), nn.BatchNorm2d(8)
        self.grouped = nn.Conv2d(8, 8, 3, padding=1, groups=4)
        self.dw = nn.Conv2d(8, 8, 3, padding=1, groups=8)
        self.fc = nn.Linear(8, 5)

    def forward(self, x):
        x = self.dw(self.grouped(torch.relu(self.bn(self.conv(x)))))
        return self.fc(x.mean((2, 3)))


# On 3x8x8: conv 8*8*8 * 3*9 = 13824, grouped 8*8*8 * 2*9 = 9216, dw 8*8*8 * 9 = 4608, fc 8*5 = 40.
TORCH_MACS = 13824 + 9216 + 4608 + 40
# conv 216 (no bias) + BN 16 + grouped 8*2*9 + 8 = 152 + dw 72 + 8 = 80 + fc 45
TORCH_PARAMS = 216 + 16 + 152 + 80 + 45


@pytest.fixture(scope="module")
def torch_net():
    torch.manual_seed(0)
    return _TorchNet().eval()


def test_torch_counter_agrees_with_the_hand_count(torch_net):
    assert count_params_macs(torch_net, (3, 8, 8)) == (TORCH_PARAMS, TORCH_MACS)


def test_onnx_from_torch(tmp_path, torch_net):
    path = tmp_path / "net.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(torch_net, (torch.zeros(1, 3, 8, 8),), str(path), dynamo=False, opset_version=17,
                          input_names=["x"], dynamic_axes={"x": {0: "n"}})
    facts = count_model(path, "onnx")
    # The exporter folds BN into the conv: its 16 scale/shift values go, the conv gains an 8-value bias.
    assert facts == {"params": TORCH_PARAMS - 16 + 8, "macs": TORCH_MACS, "unknown_ops": []}


def test_tflite_from_torch_via_export_tflite(tmp_path, torch_net):
    from edgekd.export.tflite import export_tflite

    path = export_tflite(torch_net, (3, 8, 8), tmp_path / "net.tflite")
    assert count_model(path, "tflite") == {"params": TORCH_PARAMS - 16 + 8, "macs": TORCH_MACS, "unknown_ops": []}


def test_keras_file(golden_files):
    assert count_model(golden_files["keras"], "keras") == {"params": GOLDEN_KERAS_PARAMS, "macs": GOLDEN_MACS,
                                                           "unknown_ops": []}


@pytest.mark.parametrize("kind", ["fp32", "int8"])
def test_tflite_from_keras_converter(golden_files, kind):
    # Same MACs as the Keras layers. Params: the BN after the ReLU cannot be folded into a conv, so the converter
    # keeps it as a MUL and an ADD by 8-value constants (16 values, as gamma/beta), and gives the separable conv's
    # depthwise half an 8-value bias Keras does not have: 892 + 8 = 900.
    assert count_model(golden_files[kind], "tflite") == {"params": GOLDEN_KERAS_PARAMS + 8, "macs": GOLDEN_MACS,
                                                         "unknown_ops": []}


def test_saved_model_folder(tmp_path, golden_files):
    import keras

    folder = tmp_path / "saved"
    keras.models.load_model(golden_files["keras"]).export(str(folder))
    facts = count_model(folder, "keras")
    assert facts["macs"] == GOLDEN_MACS and facts["params"] == GOLDEN_KERAS_PARAMS + 8


def test_onnx_op_with_hidden_macs_makes_macs_unknown_not_zero(tmp_path):
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [4, 1, 6])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, None)
    inits = [numpy_helper.from_array(np.zeros((1, 12, 6), np.float32), "w"),
             numpy_helper.from_array(np.zeros((1, 12, 3), np.float32), "r")]
    node = helper.make_node("LSTM", ["x", "w", "r"], ["y"], hidden_size=3, name="rnn")
    model = helper.make_model(helper.make_graph([node], "g", [x], [y], inits),
                              opset_imports=[helper.make_opsetid("", 17)])
    path = tmp_path / "lstm.onnx"
    onnx.save(model, path)
    facts = count_model(path, "onnx")
    assert facts["macs"] is None and facts["unknown_ops"] == ["LSTM (rnn)"] and facts["params"] == 72 + 36


def test_tflite_custom_op_makes_macs_unknown(custom_op_tflite):
    facts = count_model(custom_op_tflite, "tflite")
    assert facts["macs"] is None and any(op.startswith("CUSTOM:EdgekdTestOp") for op in facts["unknown_ops"])
