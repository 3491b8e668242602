"""Tiny inputs for the reliability tests: 8×8 image folders, short WAVs, a tiny teacher in every format."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

INPUT_SHAPE = (3, 8, 8)
NUM_CLASSES = 5

FACTORY_SRC = '''
import torch
from torch import nn


class TinyNet(nn.Module):
    def __init__(self, num_classes=5, width=4):
        super().__init__()
        self.conv = nn.Conv2d(3, width, 3, padding=1)
        self.fc = nn.Linear(width, num_classes)

    def forward(self, x):
        return self.fc(torch.relu(self.conv(x)).mean((2, 3)))


def make_model(num_classes=5, width=4):
    return TinyNet(num_classes, width)
'''


def _tiny_model(num_classes: int = NUM_CLASSES) -> torch.nn.Module:
    namespace: dict = {}
    exec(compile(FACTORY_SRC, "tiny_factory.py", "exec"), namespace)  # noqa: S102 - our own test source
    torch.manual_seed(0)
    return namespace["make_model"](num_classes).eval()


def write_pngs(root: Path, classes: int = NUM_CLASSES, per_class: int = 8, size: int = 8) -> Path:
    """``root/c{k}/{i}.png``: random RGB images, ``per_class`` in each of ``classes`` folders."""
    from PIL import Image

    rng = np.random.default_rng(0)
    for k in range(classes):
        folder = root / f"c{k}"
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            Image.fromarray(rng.integers(0, 255, (size, size, 3), dtype=np.uint8)).save(folder / f"{i}.png")
    return root


def write_wavs(root: Path, rate: int = 8000, per_class: int = 4, seconds: float = 0.1) -> Path:
    """``root/{yes,no}/{i}.wav``: short mono 16-bit tones."""
    from scipy.io import wavfile

    t = np.arange(int(rate * seconds)) / rate
    for k, label in enumerate(("no", "yes")):
        folder = root / label
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            wave = 0.3 * np.sin(2 * np.pi * (300 + 200 * k + 10 * i) * t)
            wavfile.write(folder / f"{i}.wav", rate, (wave * 32767).astype(np.int16))
    return root


@pytest.fixture(autouse=True)
def _one_torch_thread():
    """On a shared 2-core machine extra intra-op threads only spin; restore afterwards."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def images(tmp_path_factory) -> Path:
    """A valid 5-class folder of 8×8 RGB PNGs."""
    return write_pngs(tmp_path_factory.mktemp("images"))


@pytest.fixture(scope="session")
def teacher_files(tmp_path_factory) -> dict[str, Path]:
    """The tiny 5-class net as factory + state_dict, TorchScript, ONNX; plus a 7-class ONNX and a 16×16 one."""
    folder = tmp_path_factory.mktemp("teachers")
    model = _tiny_model()
    files = {"factory": folder / "tiny_factory.py", "weights": folder / "tiny.pt",
             "torchscript": folder / "tiny.ts", "onnx": folder / "tiny.onnx", "onnx7": folder / "seven.onnx",
             "onnx16": folder / "big.onnx"}
    files["factory"].write_text(FACTORY_SRC, encoding="utf-8")
    torch.save(model.state_dict(), files["weights"])
    sample = torch.randn(1, *INPUT_SHAPE)
    torch.jit.trace(model, sample).save(str(files["torchscript"]))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, (sample,), str(files["onnx"]), dynamo=False, opset_version=17,
                          input_names=["x"], output_names=["logits"], dynamic_axes={"x": {0: "n"}})
        torch.onnx.export(_tiny_model(7), (sample,), str(files["onnx7"]), dynamo=False, opset_version=17,
                          input_names=["x"], output_names=["logits"], dynamic_axes={"x": {0: "n"}})
        flat = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3 * 16 * 16, NUM_CLASSES)).eval()
        torch.onnx.export(flat, (torch.randn(1, 3, 16, 16),), str(files["onnx16"]), dynamo=False, opset_version=17,
                          input_names=["x"], output_names=["logits"])
    return files


@pytest.fixture(scope="session")
def tflite_file(tmp_path_factory) -> Path:
    """The tiny net as a real .tflite (litert-torch)."""
    import litert_torch

    path = tmp_path_factory.mktemp("tflite") / "tiny.tflite"
    litert_torch.convert(_tiny_model(), (torch.randn(1, *INPUT_SHAPE),)).export(str(path))
    return path


@pytest.fixture(scope="session")
def keras_file(tmp_path_factory) -> Path:
    """A tiny NHWC Keras classifier saved as .keras."""
    import keras

    c, h, w = INPUT_SHAPE
    model = keras.Sequential([keras.Input((h, w, c)), keras.layers.Conv2D(4, 3, padding="same"),
                              keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(NUM_CLASSES)])
    path = tmp_path_factory.mktemp("keras") / "tiny.keras"
    model.save(path)
    return path


@pytest.fixture(scope="session")
def wav_writer():
    """The ``write_wavs`` helper (conftest modules cannot be imported by name)."""
    return write_wavs


# A tiny default build (digits at 8x8, one epoch each, ONNX only, no latency timing).
TINY_BUILD = ["teacher.epochs=1", "distill.epochs=1", "bench.latency_mode=off", "export.formats=[onnx]",
              "teacher.width=8", "data.resolution=8", "distill.batch_size=256"]


@pytest.fixture(scope="session")
def tiny_failed_build(tmp_path_factory) -> Path:
    """A tiny build into a new folder that failed at its very last serialisation (the manifest).

    Every stage finished and is recorded in ``.edgekd-work``; nothing was promoted.
    Do not modify: copy it.
    """
    from edgekd import api, promote

    def fail(path, manifest):
        raise RuntimeError("injected failure while serialising the manifest")

    out = tmp_path_factory.mktemp("failed") / "out"
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(promote, "write_manifest", fail)
        with pytest.raises(RuntimeError, match="injected failure"):
            api.build(None, "raspberry-pi-4", out, overrides=TINY_BUILD)
    return out


@pytest.fixture(scope="session")
def tiny_finished_build(tiny_failed_build, tmp_path_factory) -> Path:
    """The failed tiny build, resumed to the end (every stage restored, then promoted). Copy it."""
    import shutil

    from edgekd import api

    out = tmp_path_factory.mktemp("finished") / "out"
    shutil.copytree(tiny_failed_build, out)
    api.build(None, "raspberry-pi-4", out, overrides=TINY_BUILD, resume=True)
    return out
