"""Tiny real files made per test: PNG/JPEG class folders and WAV tones."""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

# One colour per class so a label can be checked from the pixels.
COLOURS = [(250, 10, 10), (10, 250, 10), (10, 10, 250), (200, 200, 20), (20, 200, 200)]
# One tone per class (Hz), well apart on the mel scale at 8 kHz.
TONES = [300.0, 700.0, 1500.0, 2800.0]


def write_image(path: Path, colour, size=(8, 6), fmt=None) -> None:
    """A flat-colour image with one brighter pixel (so flips are visible); size is (W, H)."""
    array = np.zeros((size[1], size[0], 3), dtype=np.uint8) + np.asarray(colour, dtype=np.uint8)
    array[0, 0] = 255
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path, format=fmt)


def write_wav(path: Path, samples: np.ndarray, rate: int = 8000, width: int = 2) -> None:
    """PCM WAV with ``wave``; ``samples`` float in [-1, 1], ``(T,)`` or ``(T, channels)``."""
    data = samples if samples.ndim == 2 else samples[:, None]
    if width == 2:
        raw = (np.clip(data, -1, 1) * 32767).astype("<i2").tobytes()
    else:  # 8-bit PCM is unsigned
        raw = (np.clip(data, -1, 1) * 127 + 128).astype(np.uint8).tobytes()
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as out:
        out.setnchannels(data.shape[1])
        out.setsampwidth(width)
        out.setframerate(rate)
        out.writeframes(raw)


def tone(freq: float, seconds: float = 0.3, rate: int = 8000, amplitude: float = 0.5) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (amplitude * np.sin(2 * np.pi * freq * t)).astype(np.float32)


@pytest.fixture
def image_folder(tmp_path):
    """``make(classes={name: count}, size=(W, H), sub="train", ext=".png") -> root``."""

    def make(classes, size=(8, 6), sub="train", ext=".png"):
        root = tmp_path / sub
        for label, (name, count) in enumerate(classes.items()):
            for i in range(count):
                write_image(root / name / f"{i:04d}{ext}", COLOURS[label % len(COLOURS)], size)
            (root / name).mkdir(parents=True, exist_ok=True)
        return root

    return make


@pytest.fixture
def fsdd_like(tmp_path):
    """``make(labels, speakers, takes, rate) -> root``: flat ``{label}_{speaker}_{index}.wav`` tones."""

    def make(labels=("0", "1", "2"), speakers=("ann", "bob"), takes=5, rate=8000, seconds=0.3):
        root = tmp_path / "recordings"
        for label in labels:
            for s, speaker in enumerate(speakers):
                for i in range(takes):
                    # Slight per-take detune and level so files are not identical.
                    freq = TONES[int(label) % len(TONES)] * (1 + 0.01 * i)
                    write_wav(root / f"{label}_{speaker}_{i}.wav", tone(freq, seconds, rate, 0.3 + 0.1 * s), rate)
        return root

    return make
