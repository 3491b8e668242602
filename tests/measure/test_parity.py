"""Parity: logit comparison, and locating a corrupted node in an ONNX export."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from torch import nn

from edgekd.errors import ModelFileError
from edgekd.measure.parity import compare_logits, first_diverging_node


class SE(nn.Module):
    """Squeeze-excite with a functional mean: its ReduceMean node has no torch module counterpart."""

    def __init__(self, c):
        super().__init__()
        self.fc1, self.act, self.fc2, self.gate = nn.Conv2d(c, 4, 1), nn.ReLU(), nn.Conv2d(4, c, 1), nn.Hardsigmoid()

    def forward(self, x):
        return x * self.gate(self.fc2(self.act(self.fc1(x.mean((2, 3), keepdim=True)))))


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(inplace=True))
        self.dw = nn.Sequential(nn.Conv2d(8, 8, 3, padding=1, groups=8), nn.BatchNorm2d(8), nn.ReLU())
        self.se = SE(8)
        self.head = nn.Linear(8, 5)

    def forward(self, x):
        x = self.stem(x)
        x = x + self.se(self.dw(x))  # residual Add in the root forward
        return self.head(x.mean((2, 3)))


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    import onnx

    torch.manual_seed(0)
    model = Net().eval()
    path = tmp_path_factory.mktemp("parity") / "net.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, (torch.zeros(1, 3, 12, 10),), str(path), dynamo=False, opset_version=17,
                          input_names=["x"], output_names=["logits"],
                          dynamic_axes={"x": {0: "batch"}, "logits": {0: "batch"}})
    x = np.random.default_rng(0).random((2, 3, 12, 10), dtype=np.float32)
    return model, path, x, onnx.load(str(path))


def test_compare_logits_golden():
    ref = np.array([[1.0, 2.0], [3.0, 0.0]])
    cand = np.array([[1.5, 2.0], [0.0, 4.0]])
    # |diff| = [[.5, 0], [3, 4]]: max 4, mean 7.5 / 4 = 1.875; argmax [1, 0] vs [1, 1] -> 1/2 agree
    assert compare_logits(ref, cand) == {"top1_agreement": 0.5, "max_abs_diff": 4.0, "mean_abs_diff": 1.875}
    with pytest.raises(ValueError):
        compare_logits(ref, cand[:1])


def test_clean_export_has_no_diverging_node(exported):
    model, path, x, _ = exported
    # The export folds BN into Conv and has nodes with no torch module (ReduceMean, Add): none is flagged.
    assert first_diverging_node(path, model, x, atol=1e-4) is None


@pytest.mark.parametrize("which", [0, 1, 2, -1])  # stem conv, depthwise conv, SE conv, head Gemm
def test_corrupted_initializer_is_located(exported, tmp_path, which):
    import onnx
    from onnx import numpy_helper

    model, _, x, proto = exported
    proto = onnx.ModelProto.FromString(proto.SerializeToString())  # a private copy
    weighted = [n for n in proto.graph.node if n.op_type in ("Conv", "Gemm")]
    target = weighted[which]
    init = next(i for i in proto.graph.initializer if i.name == target.input[1])
    w = numpy_helper.to_array(init).copy()
    w.flat[0] += 1.0  # one weight off by 1.0
    init.CopyFrom(numpy_helper.from_array(w, init.name))
    bad = tmp_path / "bad.onnx"
    onnx.save(proto, str(bad))
    assert first_diverging_node(bad, model, x, atol=1e-4) == target.name


def test_unreadable_onnx_is_a_model_file_error(exported, tmp_path):
    model, path, x, _ = exported
    bad = tmp_path / "cut.onnx"
    bad.write_bytes(path.read_bytes()[:100])
    with pytest.raises(ModelFileError, match="cut.onnx"):
        first_diverging_node(bad, model, x, atol=1e-4)
