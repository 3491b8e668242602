"""Whole `edgekd build`s with a black-box teacher of every kind (issue 11: none may take a torch-only path).

The data are made here so that a few seconds of training learn them: images whose class sets
their mean colour, and tones whose class sets their pitch. The teachers are trained here too:
a tiny torch CNN exported to TorchScript and ONNX, and a tiny Keras CNN ending in softmax
(NHWC, as Keras users write them) saved as ``.keras`` and converted to ``.tflite`` with
TensorFlow's own converter. Each build runs one distillation epoch and must exit 0 or 3 with
the teacher scored through edgekd exactly as its own runtime scores it and its MACs counted
from its graph.

``make test`` runs one build per teacher kind covering image and audio, an MCU and a phone
profile; the rest of the kind x task x profile matrix is marked ``slow`` (``make test-all``).
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

import edgekd
from edgekd.config import load_config
from edgekd.data import load_data

KINDS = ("tflite", "keras", "onnx", "torchscript")
TASKS = ("image", "audio")
PROFILES = ("stm32h7a3", "pixel-8")
# One build per kind in `make test`, together covering both tasks and both profile kinds.
# make test runs the third-party kinds (TFLite, Keras) and one cheap ONNX build; the rest are in the slow suite
# (make test-all) to keep make test under 10 minutes on 2 cores.
QUICK = {("tflite", "image", "stm32h7a3"), ("keras", "audio", "pixel-8"), ("onnx", "audio", "stm32h7a3")}
COMMON = ["distill.epochs=1", "distill.batch_size=16", "bench.latency_mode=off", "data.representative_samples=8",
          "student.options={width: 0.25}"]


def _pngs(root: Path) -> Path:
    from PIL import Image

    rng = np.random.default_rng(0)
    colours = np.array([[220, 40, 40], [40, 220, 40], [40, 40, 220], [220, 220, 40]])
    for k, colour in enumerate(colours):
        (root / f"c{k}").mkdir(parents=True, exist_ok=True)
        for i in range(24):
            img = np.clip(colour + rng.normal(0, 30, (12, 12, 3)), 0, 255).astype(np.uint8)
            Image.fromarray(img).save(root / f"c{k}" / f"{i:02d}.png")
    return root


def _wavs(root: Path) -> Path:
    from scipy.io import wavfile

    rng = np.random.default_rng(0)
    t = np.arange(2400) / 8000
    for k, label in enumerate(("low", "mid", "high")):
        (root / label).mkdir(parents=True, exist_ok=True)
        for i in range(16):
            wave = 0.4 * np.sin(2 * np.pi * (300 * 2 ** k + 7 * i) * t) + rng.normal(0, 0.02, t.size)
            wavfile.write(root / label / f"{i:02d}.wav", 8000, (wave * 32767).astype(np.int16))
    return root


def _data_overrides(task: str, root: Path) -> list[str]:
    if task == "image":
        return ["data.kind=image_folder", f"data.root={root}", "data.mean=[0.5,0.5,0.5]", "data.std=[0.25,0.25,0.25]"]
    return ["data.kind=audio_folder", f"data.root={root}", "data.sample_rate=8000", "data.clip_seconds=0.3",
            "data.features={n_fft: 128, hop_length: 64, n_mels: 16}"]


class _TinyCnn(nn.Module):
    def __init__(self, channels: int, classes: int):
        super().__init__()
        self.conv = nn.Conv2d(channels, 8, 3, padding=1)
        self.fc = nn.Linear(8, classes)

    def forward(self, x):
        return self.fc(torch.relu(self.conv(x)).mean((2, 3)))


def _train_torch(x: torch.Tensor, y: torch.Tensor, classes: int) -> nn.Module:
    torch.manual_seed(0)
    model = _TinyCnn(x.shape[1], classes)
    opt = torch.optim.Adam(model.parameters(), lr=0.05)
    for _ in range(60):
        opt.zero_grad()
        nn.functional.cross_entropy(model(x), y).backward()
        opt.step()
    return model.eval()


def _train_keras(x: np.ndarray, y: np.ndarray, classes: int):
    import keras

    keras.utils.set_random_seed(0)
    nhwc = np.ascontiguousarray(x.transpose(0, 2, 3, 1))
    model = keras.Sequential([keras.Input(nhwc.shape[1:]), keras.layers.Conv2D(8, 3, padding="same", activation="relu"),
                              keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(classes, activation="softmax")])
    model.compile(optimizer=keras.optimizers.Adam(0.05), loss="sparse_categorical_crossentropy")
    model.fit(nhwc, y, epochs=60, batch_size=len(y), verbose=0)
    return model


def _tflite_from_keras(model, path: Path) -> Path:
    import tensorflow as tf

    path.write_bytes(tf.lite.TFLiteConverter.from_keras_model(model).convert())
    return path


def make_teacher(kind: str, task: str, root: Path, folder: Path) -> Path:
    """Train a tiny teacher of ``kind`` on the train split edgekd itself loads, and write its file."""
    bundle = load_data(load_config(None, _data_overrides(task, root)))
    x, y, classes = bundle.train.x, bundle.train.y, bundle.num_classes
    if kind in ("keras", "tflite"):
        model = _train_keras(x.numpy(), y.numpy(), classes)
        if kind == "keras":
            model.save(folder / "teacher.keras")
            return folder / "teacher.keras"
        return _tflite_from_keras(model, folder / "teacher.tflite")
    model = _train_torch(x, y, classes)
    sample = x[:1]
    if kind == "torchscript":
        torch.jit.trace(model, sample).save(str(folder / "teacher.ts"))
        return folder / "teacher.ts"
    # A fixed batch of 1, as many published .onnx files have: the build must feed it one sample at a time
    # in every stage (distillation, measurement, bench), not only where the probe runs.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, (sample,), str(folder / "teacher.onnx"), dynamo=False, opset_version=17,
                          input_names=["x"], output_names=["logits"])
    return folder / "teacher.onnx"


def _matrix():
    for kind in KINDS:
        for task in TASKS:
            for target in PROFILES:
                marks = () if (kind, task, target) in QUICK else (pytest.mark.slow,)
                yield pytest.param(kind, task, target, marks=marks, id=f"{kind}-{task}-{target}")


def _direct_outputs(kind: str, path: Path, x: np.ndarray) -> np.ndarray:
    """The teacher's raw test outputs through its own runtime, without edgekd's teacher wrappers."""
    if kind == "keras":
        import keras

        out = keras.saving.load_model(path).predict(x.transpose(0, 2, 3, 1), verbose=0)
    elif kind == "tflite":
        from ai_edge_litert.interpreter import Interpreter

        interp = Interpreter(model_path=str(path))
        interp.allocate_tensors()
        inp, outp = interp.get_input_details()[0], interp.get_output_details()[0]
        rows = []
        for sample in x.transpose(0, 2, 3, 1):
            interp.set_tensor(inp["index"], sample[None].astype(np.float32))
            interp.invoke()
            rows.append(interp.get_tensor(outp["index"])[0])
        out = np.stack(rows)
    elif kind == "onnx":
        import onnxruntime as ort

        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        out = np.concatenate([session.run(None, {"x": x[i:i + 1]})[0] for i in range(len(x))])
    else:
        out = torch.jit.load(str(path))(torch.from_numpy(x)).detach().numpy()
    return np.asarray(out, dtype=np.float64)


def ece_of_probabilities(probs: np.ndarray, y: np.ndarray, bins: int = 15) -> float:
    """Expected calibration error straight from probabilities: 15 equal-width (lo, hi] confidence bins."""
    conf, correct = probs.max(1), probs.argmax(1) == y
    which = np.clip(np.ceil(conf * bins).astype(int) - 1, 0, bins - 1)
    return float(sum(abs(correct[which == b].mean() - conf[which == b].mean()) * (which == b).mean()
                     for b in range(bins) if (which == b).any()))


@pytest.fixture(scope="module")
def data_roots(tmp_path_factory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("byo-data")
    return {"image": _pngs(base / "images"), "audio": _wavs(base / "audio")}


@pytest.mark.parametrize(("kind", "task", "target"), list(_matrix()))
def test_whole_build_with_a_file_teacher(kind, task, target, data_roots, tmp_path):
    root = data_roots[task]
    teacher_path = make_teacher(kind, task, root, tmp_path)
    overrides = [*_data_overrides(task, root), f"teacher.kind={kind}", f"teacher.path={teacher_path}", *COMMON]
    if kind in ("keras", "torchscript"):
        overrides.append("teacher.trust_code=true")
    if task == "audio":
        overrides.append("student.name=ds-cnn")
    result = edgekd.build(None, target=target, out_dir=tmp_path / "out", overrides=overrides)
    assert result.exit_code in (0, 3)
    report = json.loads((result.out_dir / "report.json").read_text())
    teacher = next(m for m in report["models"] if m["role"] == "teacher")
    # MACs counted from the graph: conv 8 x C x 3 x 3 per pixel, then dense 8 x classes.
    c, h, w = teacher["input_shape"]
    classes = len(report["data"]["classes"])
    assert teacher["macs"] == h * w * 8 * c * 9 + 8 * classes
    # Scored through edgekd exactly as its own runtime scores it on the same test split.
    bundle = load_data(load_config(None, overrides))
    x_test, y_test = bundle.test.numpy()
    direct = _direct_outputs(kind, teacher_path, x_test)
    assert teacher["accuracy"]["top1"] == pytest.approx(float((direct.argmax(1) == y_test).mean()), abs=1e-9)
    assert teacher["accuracy"]["top1"] > 1.5 / classes  # it passed the sanity check
    students = [m for m in report["models"] if m["role"] != "teacher"]
    assert students and all(m["macs"] and m["macs"] > 0 for m in students)
    if kind in ("keras", "tflite"):  # softmax teachers: ECE through edgekd is the ECE of their probabilities
        assert any("outputs probabilities" in n for n in teacher["notes"])
        assert teacher["calibration"]["ece"] == pytest.approx(ece_of_probabilities(direct, y_test), abs=1e-6)
