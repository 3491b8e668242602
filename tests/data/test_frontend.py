"""The log-mel / MFCC front end: reference maths, tone peaks, ONNX parity within 1e-4."""

from __future__ import annotations

import warnings

import numpy as np
import onnxruntime as ort
import pytest
import scipy.fft
import torch
from torch import nn

from edgekd.data.audio_frontend import FrontendAndModel, LogMelFrontend, mel_centres, onnx_bytes
from edgekd.data.schema import AudioFeatures

RATE = 8000


def signals(n: int = 4000) -> np.ndarray:
    """Pure tones, a chirp with noise, white noise and silence: the awkward and the usual."""
    t = np.arange(n) / RATE
    rng = np.random.default_rng(0)
    chirp = 0.6 * np.sin(2 * np.pi * (200 + 1500 * t) * t) + rng.normal(0, 0.01, n)
    rows = [0.5 * np.sin(2 * np.pi * f * t) for f in (100, 440, 1000, 3000)]
    rows += [chirp, rng.normal(0, 0.2, n), np.zeros(n)]
    return np.stack(rows).astype(np.float32)


def run_onnx(module: nn.Module, x: np.ndarray) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the legacy exporter's deprecation notice
        blob = onnx_bytes(module, x.shape[1], opset=17)
    session = ort.InferenceSession(blob, providers=["CPUExecutionProvider"])
    return session.run(None, {"waveform": x})[0]


@pytest.mark.parametrize("kind", ["logmel", "mfcc"])
def test_onnx_export_matches_torch(kind):
    frontend = LogMelFrontend(AudioFeatures(type=kind, n_fft=256, hop_length=80, win_length=200), RATE).eval()
    x = signals()
    expected = frontend(torch.from_numpy(x)).numpy()
    got = run_onnx(frontend, x)
    assert got.shape == expected.shape == (7, 1, 1 + (4000 - 256) // 80, 40 if kind == "logmel" else 13)
    assert np.abs(got - expected).max() < 1e-4


def test_matches_torch_stft_reference():
    cfg = AudioFeatures(n_fft=256, hop_length=80, win_length=200, n_mels=32)
    frontend = LogMelFrontend(cfg, RATE)
    x = torch.from_numpy(signals())
    spec = torch.stft(x, 256, 80, 200, window=torch.hann_window(200), center=False, return_complex=True)
    power = spec.abs().pow(2).transpose(1, 2)
    reference = torch.log(power @ frontend.mel_fb + cfg.log_offset)
    assert torch.allclose(frontend(x)[:, 0], reference, atol=1e-4)


def test_mfcc_is_orthonormal_dct_of_logmel():
    logmel = LogMelFrontend(AudioFeatures(type="logmel", n_mels=20), RATE)
    mfcc = LogMelFrontend(AudioFeatures(type="mfcc", n_mels=20, n_mfcc=10), RATE)
    x = torch.from_numpy(signals())
    expected = scipy.fft.dct(logmel(x).numpy().astype(np.float64), type=2, norm="ortho", axis=-1)[..., :10]
    assert np.allclose(mfcc(x).numpy(), expected, atol=1e-4)


@pytest.mark.parametrize("freq", [250.0, 900.0, 2500.0])
def test_pure_tone_peaks_at_its_mel_bin(freq):
    cfg = AudioFeatures(n_fft=512, hop_length=128, n_mels=40, fmin=0.0)
    frontend = LogMelFrontend(cfg, RATE)
    t = np.arange(4000) / RATE
    x = torch.from_numpy((0.5 * np.sin(2 * np.pi * freq * t)).astype(np.float32))[None]
    peak = int(frontend(x)[0, 0].mean(0).argmax())
    centres = mel_centres(RATE, 40, 0.0, RATE / 2)
    assert peak == int(np.abs(centres - freq).argmin())


def test_input_layouts_and_describe():
    frontend = LogMelFrontend(AudioFeatures(n_fft=128, hop_length=64, n_mels=8), RATE)
    x = torch.randn(2, 1000)
    assert torch.equal(frontend(x), frontend(x[:, None])) and torch.equal(frontend(x), frontend(x[:, None, None]))
    assert frontend(x).shape == (2, *frontend.output_shape(1000)) == (2, 1, 14, 8)
    info = frontend.describe()
    assert info["mel"]["scale"] == "htk" and info["stft"]["n_fft"] == 128 and info["mel"]["fmax"] == 4000.0


def test_frontend_inside_the_exported_graph():
    frontend = LogMelFrontend(AudioFeatures(n_fft=128, hop_length=64, n_mels=16), RATE)
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                          nn.Linear(4, 3))
    whole = FrontendAndModel(frontend, model).eval()
    x = signals(2000)
    expected = whole(torch.from_numpy(x)).detach().numpy()
    assert expected.shape == (7, 3)
    assert np.abs(run_onnx(whole, x) - expected).max() < 1e-4
