"""The audio front end that ships: the numpy reference beside the model, and the ONNX graph with it inside."""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest
import torch

from edgekd.data.audio_frontend import FrontendAndModel, LogMelFrontend
from edgekd.data.schema import AudioFeatures
from edgekd.deploy.audio import frontend_params, onnx_with_frontend, write_frontend_arrays
from edgekd.deploy.stage import _template

RATE, SAMPLES = 8000, 2400
FEATURES = {
    "logmel": AudioFeatures(n_fft=256, hop_length=80, n_mels=16),
    "mfcc-magnitude-peak": AudioFeatures(type="mfcc", n_fft=256, hop_length=80, n_mels=20, n_mfcc=10,
                                         spectrum="magnitude", peak_normalize=True),
    "tensorflow-kws": AudioFeatures(preset="tensorflow-kws", type="mfcc", n_mels=20, n_mfcc=10),
}


def clip(seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(SAMPLES) / RATE
    return (0.3 * np.sin(2 * np.pi * 700 * t) + rng.normal(0, 0.05, SAMPLES)).astype(np.float32)


@pytest.fixture
def reference(tmp_path, monkeypatch):
    """``load(features) -> (Frontend, torch front end)``: the bundle's frontend.py with its files."""
    (tmp_path / "frontend.py").write_text(_template("frontend.py"))
    monkeypatch.syspath_prepend(str(tmp_path))

    def load(features: AudioFeatures):
        torch_frontend = LogMelFrontend(features, sample_rate=RATE)
        params, arrays = frontend_params(torch_frontend)
        write_frontend_arrays(tmp_path / "frontend.npz", arrays)
        (tmp_path / "model.json").write_text(json.dumps({"preprocessing": {"frontend": params}}))
        sys.modules.pop("frontend", None)
        from frontend import Frontend

        return Frontend.from_bundle(tmp_path), torch_frontend

    return load


@pytest.mark.parametrize("name", sorted(FEATURES))
def test_reference_front_end_matches_the_training_one(reference, name):
    numpy_frontend, torch_frontend = reference(FEATURES[name])
    x = clip()
    want = torch_frontend(torch.from_numpy(x)[None]).numpy()[0]  # (1, frames, features)
    got = numpy_frontend.features(x)
    assert got.shape == want.shape == torch_frontend.output_shape(SAMPLES)
    # float64 numpy FFT vs the float32 DFT-as-convolution of training: equal to float32 rounding
    np.testing.assert_allclose(got, want, rtol=1e-3, atol=2e-3)


def test_onnx_with_the_front_end_takes_the_waveform(tmp_path):
    import onnxruntime as ort

    torch.manual_seed(0)
    frontend = LogMelFrontend(FEATURES["logmel"], sample_rate=RATE)
    _, frames, feats = frontend.output_shape(SAMPLES)
    student = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3, padding=1), torch.nn.ReLU(),
                                  torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(), torch.nn.Linear(4, 3)).eval()
    features_model = tmp_path / "student.onnx"
    torch.onnx.export(student, torch.zeros(1, 1, frames, feats), str(features_model), input_names=["input"],
                      output_names=["logits"], opset_version=17, dynamo=False)
    merged = tmp_path / "model.onnx"
    info = onnx_with_frontend(features_model, frontend, SAMPLES, merged, opset=17)
    assert info["shape"] == [1, SAMPLES]
    session = ort.InferenceSession(str(merged), providers=["CPUExecutionProvider"])
    x = clip(1)[None]
    got = session.run(None, {session.get_inputs()[0].name: x})[0]
    want = FrontendAndModel(frontend, student)(torch.from_numpy(x)).detach().numpy()
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)
