"""Tiny models and their exports, made once per test module (conversion takes seconds)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from torch import nn


class TinyNet(nn.Module):
    """Conv-BN-ReLU, a depthwise residual block, global pool and a classifier (5 classes)."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(inplace=True))
        self.block = nn.Sequential(nn.Conv2d(8, 8, 3, padding=1, groups=8), nn.BatchNorm2d(8), nn.ReLU())
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(8, 5)

    def forward(self, x):
        x = self.stem(x)
        x = x + self.block(x)
        return self.fc(torch.flatten(self.pool(x), 1))


# H != W != C so that an NCHW/NHWC mix-up cannot pass silently.
INPUT_SHAPE = (3, 12, 10)


def tiny_model(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    model = TinyNet()
    # Non-trivial BN statistics, so folding BN into Conv is really exercised.
    for bn in (model.stem[1], model.block[1]):
        bn.running_mean.uniform_(-0.5, 0.5)
        bn.running_var.uniform_(0.5, 2.0)
    return model.eval()


def export_onnx(model: nn.Module, path, *, dynamic: bool = True) -> None:
    sample = torch.zeros(1, *INPUT_SHAPE)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, (sample,), str(path), dynamo=False, opset_version=17,
                          input_names=["x"], output_names=["logits"],
                          dynamic_axes={"x": {0: "batch"}, "logits": {0: "batch"}} if dynamic else None)


@pytest.fixture(scope="session")
def model() -> nn.Module:
    return tiny_model()


@pytest.fixture(scope="session")
def x() -> np.ndarray:
    return np.random.default_rng(0).random((6, *INPUT_SHAPE), dtype=np.float32)


@pytest.fixture(scope="session")
def exports(model, tmp_path_factory) -> dict:
    folder = tmp_path_factory.mktemp("runtimes")
    paths = {"onnx": folder / "tiny.onnx", "onnx_b1": folder / "tiny_b1.onnx"}
    export_onnx(model, paths["onnx"], dynamic=True)
    export_onnx(model, paths["onnx_b1"], dynamic=False)
    return paths


@pytest.fixture(scope="session")
def tflite_exports(model, x, tmp_path_factory) -> dict:
    """FP32 NCHW, FP32 NHWC (to_channel_last_io) and full-integer INT8 .tflite files."""
    litert_torch = pytest.importorskip("litert_torch")
    folder = tmp_path_factory.mktemp("tflite")
    paths = {"fp32": folder / "tiny.tflite", "nhwc": folder / "tiny_nhwc.tflite", "int8": folder / "tiny_int8.tflite"}
    sample = torch.from_numpy(x[:1])
    litert_torch.convert(model, (sample,)).export(str(paths["fp32"]))
    nhwc = litert_torch.to_channel_last_io(model, args=[0]).eval()
    litert_torch.convert(nhwc, (sample.permute(0, 2, 3, 1).contiguous(),)).export(str(paths["nhwc"]))
    _export_int8(model, x, paths["int8"])
    return paths


def _export_int8(model, x, path) -> None:
    """PT2E static INT8 through litert-torch: a fully integer model with int8 input and output."""
    import litert_torch
    from litert_torch.quantize import pt2e_quantizer
    from litert_torch.quantize.quant_config import QuantConfig
    from torchao.quantization.pt2e import quantize_pt2e

    sample = (torch.from_numpy(x[:1]),)
    quantizer = pt2e_quantizer.PT2EQuantizer().set_global(
        pt2e_quantizer.get_symmetric_quantization_config(is_per_channel=True))
    graph = quantize_pt2e.prepare_pt2e(torch.export.export(model, sample).module(), quantizer)
    for i in range(len(x)):  # calibration
        graph(torch.from_numpy(x[i:i + 1]))
    graph = quantize_pt2e.convert_pt2e(graph, fold_quantize=False)
    litert_torch.convert(graph, sample, quant_config=QuantConfig(pt2e_quantizer=quantizer)).export(str(path))
