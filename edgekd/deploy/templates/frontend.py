"""Reference audio front end of this bundle: a fixed-length clip -> the features the model takes (numpy only).

Written by edgekd. The model in this bundle does not contain its feature front end, so the
device computes the features itself; this file is the reference for that computation, and
``run.py`` uses it. The parameters are in model.json (``preprocessing.frontend``); the fixed
arrays (analysis window, mel filterbank, DCT) are in frontend.npz, so nothing is re-derived:

    frames   frame t = clip[t*hop : t*hop + frame_length]            (no padding, no centring)
    spectrum X = rfft(frame * window, n_fft); |X|^2 (power) or |X| (magnitude)
    mel      spectrum @ mel_weights                                    (n_fft/2+1 -> n_mels)
    log      ln(mel + log_offset)
    mfcc     log_mel @ dct                                             (only when dct is present)
    layout   (1, frames, features): C=1, H=time, W=frequency

With ``peak_normalize`` each clip is first divided by its largest |sample|.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np


class Frontend:
    """The front end described by a bundle's model.json and frontend.npz."""

    def __init__(self, params: dict, arrays: dict):
        self.frame_length = int(params["frame_length"])
        self.hop_length = int(params["hop_length"])
        self.n_fft = int(params["n_fft"])
        self.spectrum = params["spectrum"]
        self.log_offset = float(params["log_offset"])
        self.peak_normalize = bool(params["peak_normalize"])
        self.window = np.asarray(arrays["window"], dtype=np.float64)
        self.mel_weights = np.asarray(arrays["mel_weights"], dtype=np.float64)
        self.dct = np.asarray(arrays["dct"], dtype=np.float64) if "dct" in arrays else None

    @classmethod
    def from_bundle(cls, folder: str | Path) -> "Frontend":
        """Load the parameters (model.json) and arrays (frontend.npz) of a bundle folder."""
        folder = Path(folder)
        spec = json.loads((folder / "model.json").read_text(encoding="utf-8"))
        with np.load(folder / "frontend.npz") as arrays:
            return cls(spec["preprocessing"]["frontend"], dict(arrays))

    def features(self, clip: np.ndarray) -> np.ndarray:
        """``(1, frames, features)`` float32 features of one fixed-length clip."""
        x = np.asarray(clip, dtype=np.float32)
        if self.peak_normalize:
            x = x / max(float(np.abs(x).max()), 1e-12)
        frames = 1 + (len(x) - self.frame_length) // self.hop_length
        index = np.arange(self.frame_length)[None, :] + self.hop_length * np.arange(frames)[:, None]
        spectrum = np.abs(np.fft.rfft(x[index].astype(np.float64) * self.window, n=self.n_fft))
        if self.spectrum == "power":
            spectrum = spectrum ** 2
        out = np.log(spectrum @ self.mel_weights + self.log_offset)
        if self.dct is not None:
            out = out @ self.dct
        return out[None].astype(np.float32)
