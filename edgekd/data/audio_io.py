"""Reading WAV files into float32 mono waveforms at one sample rate."""

from __future__ import annotations

import math
import warnings
from pathlib import Path

import numpy as np

from ..errors import DataError

# Integer PCM → [-1, 1): divide by the magnitude of the most negative value (uint8 is offset by 128).
_SCALE = {np.dtype(np.int16): 32768.0, np.dtype(np.int32): 2.0 ** 31}


def read_wav(path: Path, sample_rate: int, *, resample: bool, mix_to_mono: bool) -> np.ndarray:
    """One WAV file as float32 mono samples in [-1, 1] at ``sample_rate``.

    Reads PCM 8/16/24/32-bit and 32/64-bit float files (``scipy.io.wavfile``).

    Args:
        path: The file.
        sample_rate: The rate the dataset expects.
        resample: Resample a file at another rate (``scipy.signal.resample_poly``) instead of failing.
        mix_to_mono: Average the channels of a multi-channel file instead of failing.

    Raises:
        DataError: not a WAV, truncated, empty, another rate or several channels when not allowed.
    """
    from scipy.io import wavfile

    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            rate, data = wavfile.read(path)
    except Exception as exc:  # scipy raises ValueError, struct.error, EOFError … on malformed files
        raise DataError(f"{path} is not a readable WAV file ({exc.__class__.__name__}: {exc})",
                        fix="delete it or re-encode it as PCM WAV") from None
    for warning in caught:
        # scipy returns the samples it found for a truncated data chunk, only warning: refuse
        # rather than train on half a recording.
        if "prematurely" in str(warning.message) or "truncated" in str(warning.message).lower():
            raise DataError(f"{path} is truncated ({warning.message})", fix="delete it or re-record/re-encode it")
    if data.size == 0:
        raise DataError(f"{path} holds no samples", fix="delete it or replace it with a real recording")
    if data.ndim == 2 and data.shape[1] > 1:
        if not mix_to_mono:
            raise DataError(f"{path} has {data.shape[1]} channels, expected mono",
                            fix="set data.mix_to_mono: true to average the channels, or convert the file to mono")
    samples = _to_float(data, path)
    if samples.ndim == 2:
        samples = samples.mean(axis=1)
    if rate != sample_rate:
        if not resample:
            raise DataError(f"{path} is sampled at {rate} Hz, expected {sample_rate} Hz (data.sample_rate)",
                            fix="set data.resample: true to resample it, or data.sample_rate to the files' rate")
        samples = resample_to(samples, rate, sample_rate)
    return samples.astype(np.float32, copy=False)


def _to_float(data: np.ndarray, path: Path) -> np.ndarray:
    if data.dtype == np.uint8:
        return (data.astype(np.float32) - 128.0) / 128.0
    if data.dtype in _SCALE:  # scipy reads 24-bit PCM into the top of int32, so one scale fits both
        return data.astype(np.float32) / _SCALE[data.dtype]
    if data.dtype.kind == "f":
        return data.astype(np.float32)
    raise DataError(f"{path} has unsupported sample type {data.dtype}", fix="re-encode it as 16-bit PCM WAV")


def resample_to(samples: np.ndarray, rate: int, target: int) -> np.ndarray:
    """Polyphase resampling by the reduced ratio ``target / rate`` (Kaiser-windowed FIR)."""
    from scipy.signal import resample_poly

    g = math.gcd(int(rate), int(target))
    return resample_poly(samples, target // g, rate // g).astype(np.float32)


def fix_length(samples: np.ndarray, length: int, align: str = "centre") -> np.ndarray:
    """Cut or zero-pad a clip to ``length`` samples.

    Args:
        samples: The clip.
        length: Samples wanted.
        align: ``centre`` crops a longer clip around its middle and pads a shorter one equally
            on both sides; ``start`` keeps the first ``length`` samples and pads at the end
            (what ``tf.audio.decode_wav(desired_samples=...)`` does).
    """
    n = len(samples)
    if align == "start":
        return samples[:length] if n >= length else np.pad(samples, (0, length - n))
    if n >= length:
        start = (n - length) // 2
        return samples[start:start + length]
    left = (length - n) // 2
    return np.pad(samples, (left, length - n - left))
