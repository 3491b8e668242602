"""A tiny torch CNN written out as every teacher kind (built once per test session)."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest
import torch

INPUT_SHAPE = (3, 8, 8)
NUM_CLASSES = 5

# The user's model file, as they would write it.
FACTORY_SRC = '''
import torch
from torch import nn


class TinyNet(nn.Module):
    def __init__(self, num_classes=5, width=4):
        super().__init__()
        self.conv = nn.Conv2d(3, width, 3, padding=1)
        self.bn = nn.BatchNorm2d(width)
        self.fc = nn.Linear(width, num_classes)

    def forward(self, x):
        x = torch.relu(self.bn(self.conv(x)))
        return self.fc(x.mean((2, 3)))


def make_model(num_classes=5, width=4):
    return TinyNet(num_classes, width)
'''


def build_source_model() -> torch.nn.Module:
    """The tiny net with fixed, non-trivial weights (BN statistics included), in eval mode."""
    namespace: dict = {}
    exec(compile(FACTORY_SRC, "tiny_factory.py", "exec"), namespace)  # noqa: S102 - our own test source
    torch.manual_seed(0)
    model = namespace["make_model"]()
    with torch.no_grad():
        model.bn.running_mean.uniform_(-0.5, 0.5)
        model.bn.running_var.uniform_(0.5, 2.0)
    return model.eval()


def sample_batch(n: int = 6, seed: int = 1) -> torch.Tensor:
    """A fixed random NCHW batch of the test's input shape."""
    return torch.randn(n, *INPUT_SHAPE, generator=torch.Generator().manual_seed(seed))


@pytest.fixture(scope="session")
def source_model() -> torch.nn.Module:
    return build_source_model()


@pytest.fixture(scope="session")
def teacher_files(tmp_path_factory, source_model) -> dict[str, Path]:
    """factory .py + weights .pt, TorchScript, ONNX and TFLite versions of ``source_model``."""
    folder = tmp_path_factory.mktemp("teachers")
    files = {"factory": folder / "tiny_factory.py", "weights": folder / "tiny.pt",
             "torchscript": folder / "tiny.ts", "onnx": folder / "tiny.onnx", "tflite": folder / "tiny.tflite"}
    files["factory"].write_text(FACTORY_SRC, encoding="utf-8")
    # As a DataParallel training script saves it: `module.` prefixes, a wrapper dict, no num_batches_tracked.
    state = {f"module.{k}": v for k, v in source_model.state_dict().items() if not k.endswith("num_batches_tracked")}
    torch.save({"state_dict": state, "best_prec1": 91.0}, files["weights"])
    sample = sample_batch(1)
    torch.jit.trace(source_model, sample).save(str(files["torchscript"]))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the legacy exporter's deprecation warning
        torch.onnx.export(source_model, (sample,), str(files["onnx"]), dynamo=False, opset_version=17,
                          input_names=["x"], output_names=["logits"], dynamic_axes={"x": {0: "n"}, "logits": {0: "n"}})
    return files


@pytest.fixture(scope="session")
def tflite_file(teacher_files, source_model) -> Path:
    """The tiny net converted with litert-torch (fixed batch of 1, NCHW float I/O)."""
    import litert_torch

    path = teacher_files["tflite"]
    litert_torch.convert(source_model.eval(), (sample_batch(1),)).export(str(path))
    return path


@pytest.fixture(scope="session")
def keras_file(tmp_path_factory) -> tuple[Path, object]:
    """A tiny NHWC Keras classifier ending in softmax, saved as .keras; returns (path, model)."""
    import keras

    keras.utils.set_random_seed(0)
    c, h, w = INPUT_SHAPE
    model = keras.Sequential([keras.Input((h, w, c)), keras.layers.Conv2D(4, 3, padding="same", activation="relu"),
                              keras.layers.GlobalAveragePooling2D(),
                              keras.layers.Dense(NUM_CLASSES, activation="softmax")])
    path = tmp_path_factory.mktemp("keras") / "tiny.keras"
    model.save(path)
    return path, model
