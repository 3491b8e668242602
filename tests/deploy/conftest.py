"""Real (tiny) builds whose deploy bundles the tests open: 1 teacher epoch, 1 distillation epoch.

Data is made here: coloured PNGs with noise (an image folder with its own test folder) and
tones as WAV files (FSDD-style flat layout, takes 0-1 are the test split).
"""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np
import pytest
import yaml

import edgekd

QUICK = {"teacher": {"kind": "scratch-cnn", "epochs": 1}, "distill": {"epochs": 1}, "bench": {"latency_mode": "off"}}
COLOURS = [(220, 40, 40), (40, 200, 40), (40, 40, 220)]
TONES = [300.0, 900.0, 2200.0]


def write_images(root: Path, per_class: int, seed: int) -> None:
    """Noisy flat-colour PNGs, 20x18 (the config resizes them to 16x16, as run.py must)."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    for label, colour in enumerate(COLOURS):
        for i in range(per_class):
            pixels = np.clip(rng.normal(colour, 60.0, (18, 20, 3)), 0, 255).astype(np.uint8)
            (root / f"c{label}").mkdir(parents=True, exist_ok=True)
            Image.fromarray(pixels).save(root / f"c{label}" / f"{i:03d}.png")


def write_wav(path: Path, samples: np.ndarray, rate: int = 8000) -> None:
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes((np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes())


def write_tones(root: Path, takes: int, seed: int) -> None:
    """``{label}_{speaker}_{take}.wav``: a noisy tone per class, detuned per take; takes 0-1 are test."""
    rng = np.random.default_rng(seed)
    root.mkdir(parents=True, exist_ok=True)
    t = np.arange(int(0.3 * 8000)) / 8000
    for label, freq in enumerate(TONES):
        for speaker in ("ann", "bob"):
            for take in range(takes):
                wave_ = 0.4 * np.sin(2 * np.pi * freq * (1 + 0.02 * take) * t) + rng.normal(0, 0.05, t.size)
                write_wav(root / f"{label}_{speaker}_{take}.wav", wave_)


def build(tmp: Path, target: str, config: dict | None):
    path = None
    if config is not None:
        path = tmp / "config.yaml"
        path.write_text(yaml.safe_dump(config))
    return edgekd.build(path, target=target, out_dir=tmp / "out", overrides=() if config else
                        ["teacher.epochs=1", "distill.epochs=1", "bench.latency_mode=off"])


@pytest.fixture(scope="session")
def image_build(tmp_path_factory):
    """An image folder (with its own test folder) built for raspberry-pi-4 as .tflite (LiteRT runner)."""
    tmp = tmp_path_factory.mktemp("images")
    write_images(tmp / "train", 24, seed=0)
    write_images(tmp / "test", 8, seed=1)
    config = {**QUICK, "data": {"kind": "image_folder", "root": str(tmp / "train"), "test_root": str(tmp / "test"),
                                "size": [16, 16]},
              "export": {"formats": ["tflite"]}}
    return build(tmp, "raspberry-pi-4", config)


@pytest.fixture(scope="session")
def audio_build(tmp_path_factory):
    """WAV tones built for raspberry-pi-4 as ONNX: the log-mel front end goes into the bundle's graph."""
    tmp = tmp_path_factory.mktemp("audio")
    write_tones(tmp / "wavs", takes=8, seed=0)
    config = {**QUICK, "data": {"kind": "audio_folder", "root": str(tmp / "wavs"), "layout": "flat",
                                "sample_rate": 8000, "clip_seconds": 0.3,
                                "features": {"n_fft": 256, "hop_length": 80, "n_mels": 16},
                                "split": {"method": "pattern", "field": "index", "test": "0-1"}},
              "student": {"name": "ds-cnn"}, "export": {"formats": ["onnx"]}}
    return build(tmp, "raspberry-pi-4", config)
