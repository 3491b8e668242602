"""Log-mel / MFCC features in plain torch ops, so the same graph runs on the device.

The STFT is a strided 1-D convolution whose fixed weights are the DFT basis times a
periodic Hann window (no ``torch.stft``: it does not export to ONNX opset 17 with the
legacy exporter, and many edge runtimes lack an STFT op). Then power spectrum, an HTK
mel filterbank (triangles on the HTK mel scale, peak 1, no area normalisation — the
same as torchaudio's ``MelScale(mel_scale="htk", norm=None)``), ``ln(x + log_offset)``
and, for MFCC, an orthonormal DCT-II. Frames are not centred (no padding): frame ``t``
covers samples ``[t·hop, t·hop + n_fft)``. Each step can instead follow ``tf.signal``
(magnitude spectrum, TF framing, TF mel weights and DCT: see :mod:`.audio_tf`).
"""

from __future__ import annotations

import io
import math
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .audio_tf import tf_dct_matrix, tf_hann_window, tf_mel_weight_matrix
from .schema import AudioFeatures


def hz_to_mel(hz: np.ndarray | float) -> np.ndarray:
    """HTK mel scale: ``2595 · log10(1 + f / 700)``."""
    return 2595.0 * np.log10(1.0 + np.asarray(hz, dtype=np.float64) / 700.0)


def mel_to_hz(mel: np.ndarray | float) -> np.ndarray:
    """Inverse of :func:`hz_to_mel`."""
    return 700.0 * (10.0 ** (np.asarray(mel, dtype=np.float64) / 2595.0) - 1.0)


def mel_filterbank(n_fft: int, sample_rate: int, n_mels: int, fmin: float, fmax: float) -> np.ndarray:
    """Triangular HTK mel filters over the ``n_fft // 2 + 1`` FFT bins.

    Returns:
        ``(n_bins, n_mels)`` float64; column ``m`` peaks (at 1) at the ``m+1``-th of
        ``n_mels + 2`` points evenly spaced in mel between ``fmin`` and ``fmax``.
    """
    bins = np.linspace(0.0, sample_rate / 2.0, n_fft // 2 + 1)
    edges = mel_to_hz(np.linspace(hz_to_mel(fmin), hz_to_mel(fmax), n_mels + 2))
    lower, centre, upper = edges[:-2], edges[1:-1], edges[2:]
    rising = (bins[:, None] - lower[None, :]) / (centre - lower)[None, :]
    falling = (upper[None, :] - bins[:, None]) / (upper - centre)[None, :]
    return np.maximum(0.0, np.minimum(rising, falling))


def mel_centres(sample_rate: int, n_mels: int, fmin: float, fmax: float) -> np.ndarray:
    """Centre frequency (Hz) of each mel filter."""
    return mel_to_hz(np.linspace(hz_to_mel(fmin), hz_to_mel(fmax), n_mels + 2))[1:-1]


def dct_matrix(n_mels: int, n_mfcc: int) -> np.ndarray:
    """Orthonormal DCT-II as a ``(n_mels, n_mfcc)`` matrix (``scipy.fft.dct(norm="ortho")``)."""
    n = np.arange(n_mels)[:, None]
    k = np.arange(n_mfcc)[None, :]
    basis = np.cos(math.pi / n_mels * (n + 0.5) * k) * math.sqrt(2.0 / n_mels)
    basis[:, 0] *= 1.0 / math.sqrt(2.0)
    return basis


def hann_window(win_length: int, n_fft: int) -> np.ndarray:
    """Periodic Hann window of ``win_length``, zero-padded on both sides to ``n_fft`` (as torch.stft)."""
    n = np.arange(win_length)
    window = 0.5 - 0.5 * np.cos(2.0 * math.pi * n / win_length)
    left = (n_fft - win_length) // 2
    return np.pad(window, (left, n_fft - win_length - left))


class LogMelFrontend(nn.Module):
    """Waveform ``(N, T)`` (or ``(N, 1, T)``, ``(N, 1, 1, T)``) → features ``(N, 1, frames, n_feat)``.

    ``n_feat`` is ``n_mels`` (log-mel) or ``n_mfcc`` (MFCC); time is H and frequency is W,
    the layout the students take as ``(C=1, H, W)``. The ``framing``, ``spectrum``,
    ``mel_weights``, ``dct`` and ``peak_normalize`` keys of :class:`AudioFeatures` switch
    single steps to TensorFlow's conventions (:mod:`edgekd.data.audio_tf`).
    """

    basis: torch.Tensor  # registered buffers, declared for type checkers
    mel_fb: torch.Tensor

    def __init__(self, cfg: Any, sample_rate: int | None = None):
        """Build the fixed weights.

        Args:
            cfg: An :class:`AudioFeatures` section, or an ``audio_folder`` section (its
                ``features`` and ``sample_rate`` are used).
            sample_rate: Required with an :class:`AudioFeatures` section.
        """
        super().__init__()
        if not isinstance(cfg, AudioFeatures):
            sample_rate, cfg = cfg.sample_rate, cfg.features
        if sample_rate is None:
            raise ValueError("LogMelFrontend needs the sample rate")
        self.cfg = cfg
        self.sample_rate = int(sample_rate)
        self.n_fft, self.win_length, self.hop_length = cfg.frames_in_samples(self.sample_rate)
        self.tf_framing = cfg.framing == "tensorflow"
        # Samples one frame reads: the window alone (TF), or n_fft with the window centred in it.
        self.frame_length = self.win_length if self.tf_framing else self.n_fft
        self.fmax = float(cfg.fmax if cfg.fmax is not None else sample_rate / 2.0)
        self.n_bins = self.n_fft // 2 + 1
        self.register_buffer("basis", torch.from_numpy(self._dft_basis()[:, None, :]).float(), persistent=False)
        if cfg.mel_weights == "tensorflow":
            fb = tf_mel_weight_matrix(cfg.n_mels, self.n_fft, self.sample_rate, cfg.fmin, self.fmax)
        else:
            fb = mel_filterbank(self.n_fft, self.sample_rate, cfg.n_mels, cfg.fmin, self.fmax)
        self.register_buffer("mel_fb", torch.from_numpy(fb).float(), persistent=False)
        if cfg.type == "mfcc":
            make_dct = tf_dct_matrix if cfg.dct == "tensorflow" else dct_matrix
            self.register_buffer("dct", torch.from_numpy(make_dct(cfg.n_mels, cfg.n_mfcc)).float(), persistent=False)
        else:
            self.dct = None

    def _dft_basis(self) -> np.ndarray:
        """Rows 0..B-1 give the real parts, rows B..2B-1 the imaginary parts of the windowed DFT.

        TF framing: the kernel spans the window only; zero-padding the frame at the end to
        ``n_fft`` adds nothing to the sums, so the DFT phase runs over ``n < win_length``.
        """
        if self.tf_framing:
            window, taps = tf_hann_window(self.win_length), self.win_length
        else:
            window, taps = hann_window(self.win_length, self.n_fft), self.n_fft
        phase = 2.0 * math.pi * np.outer(np.arange(self.n_bins), np.arange(taps)) / self.n_fft
        return np.concatenate([np.cos(phase), -np.sin(phase)]) * window[None, :]

    @property
    def n_features(self) -> int:
        return self.cfg.n_mfcc if self.cfg.type == "mfcc" else self.cfg.n_mels

    def n_frames(self, num_samples: int) -> int:
        """Frames produced from a clip of ``num_samples`` (no centring, no end padding)."""
        return 1 + (num_samples - self.frame_length) // self.hop_length

    def output_shape(self, num_samples: int) -> tuple[int, int, int]:
        """One sample's feature shape ``(1, frames, n_features)``."""
        return (1, self.n_frames(num_samples), self.n_features)

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        x = wave.flatten(1)
        if self.cfg.peak_normalize:
            # The floor leaves an all-zero clip at zero instead of dividing by 0.
            x = x / x.abs().amax(dim=1, keepdim=True).clamp_min(1e-12)
        spec = F.conv1d(x.unsqueeze(1), self.basis, stride=self.hop_length)  # (N, 2B, frames)
        real, imag = spec[:, :self.n_bins], spec[:, self.n_bins:]
        power = (real * real + imag * imag).transpose(1, 2)  # (N, frames, B)
        spectrum = torch.sqrt(power) if self.cfg.spectrum == "magnitude" else power
        feats = torch.log(torch.matmul(spectrum, self.mel_fb) + self.cfg.log_offset)
        if self.dct is not None:
            feats = torch.matmul(feats, self.dct)
        return feats.unsqueeze(1)

    def describe(self) -> dict[str, Any]:
        """Every parameter the device needs to compute the same features."""
        out: dict[str, Any] = {
            "type": self.cfg.type,
            "sample_rate": self.sample_rate,
            "stft": self._describe_stft(),
            "spectrum": "magnitude |X|" if self.cfg.spectrum == "magnitude" else "power |X|^2",
            "mel": {"n_mels": self.cfg.n_mels, "fmin": self.cfg.fmin, "fmax": self.fmax, "scale": "htk",
                    "filters": "triangular, peak 1, no area normalisation"},
            "log": f"ln(mel + {self.cfg.log_offset})",
            "output_layout": "(1, frames, features): C=1, H=time, W=frequency",
        }
        if self.cfg.mel_weights == "tensorflow":
            out["mel"]["filters"] = ("tf.signal.linear_to_mel_weight_matrix: triangles linear in mel "
                                     "(1127 ln(1 + f/700)), peak 1, DC bin zero")
        if self.cfg.type == "mfcc":
            out["dct"] = {"type": "DCT-II", "norm": "ortho", "n_mfcc": self.cfg.n_mfcc}
            if self.cfg.dct == "tensorflow":
                out["dct"]["norm"] = "tf.signal.mfccs_from_log_mel_spectrograms: unnormalised x rsqrt(2 n_mels)"
        if self.cfg.peak_normalize:
            out["peak_normalize"] = "x / max|x| per fixed-length clip, before the STFT"
        if self.cfg.preset:
            out["preset"] = self.cfg.preset
        return out

    def _describe_stft(self) -> dict[str, Any]:
        out: dict[str, Any] = {"n_fft": self.n_fft, "hop_length": self.hop_length, "win_length": self.win_length}
        if self.tf_framing:
            out.update(window="tf.signal.hann_window(periodic=True) (symmetric when odd)", center=False,
                       padding="none: frame t covers samples [t*hop, t*hop + win_length), zero-padded at the "
                               "end to n_fft (tf.signal.stft, pad_end=False)")
        else:
            out.update(window="hann (periodic), zero-padded to n_fft, centred", center=False,
                       padding="none: frame t covers samples [t*hop, t*hop + n_fft)")
        return out


class FrontendAndModel(nn.Module):
    """``model(frontend(waveform))``: puts the feature front end inside an exported graph."""

    def __init__(self, frontend: nn.Module, model: nn.Module):
        super().__init__()
        self.frontend = frontend
        self.model = model

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        return self.model(self.frontend(wave))


def onnx_bytes(module: nn.Module, num_samples: int, opset: int = 17) -> bytes:
    """Export a waveform-input module (a front end, or a :class:`FrontendAndModel`) to ONNX.

    Uses the legacy (TorchScript) exporter; the input ``waveform`` is ``(batch, num_samples)``
    with a dynamic batch. The caller writes the bytes (atomically).
    """
    buffer = io.BytesIO()
    sample = torch.zeros(1, num_samples)
    was_training = module.training
    module.eval()
    try:
        torch.onnx.export(module, (sample,), buffer, opset_version=opset, dynamo=False,  # type: ignore[arg-type]
                          input_names=["waveform"], output_names=["output"],
                          dynamic_axes={"waveform": {0: "batch"}, "output": {0: "batch"}})
    finally:
        module.train(was_training)
    return buffer.getvalue()
