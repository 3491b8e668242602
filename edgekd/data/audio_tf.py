"""The pieces of ``tf.signal``'s speech features that differ from edgekd's defaults.

TensorFlow keyword-spotting pipelines compute
``tf.signal.stft(x, frame_length, frame_step)`` → ``abs`` → ``tensordot`` with
``tf.signal.linear_to_mel_weight_matrix`` → ``log(x + offset)`` →
``tf.signal.mfccs_from_log_mel_spectrograms``. Each step has a convention of its own:

* framing: frame ``t`` is samples ``[t·step, t·step + frame_length)``, windowed by TF's
  "periodic" Hann (which is the *symmetric* one when ``frame_length`` is odd), then
  zero-padded at the end to ``fft_length`` (default: the next power of two);
  ``1 + (T - frame_length) // step`` frames (``pad_end=False``);
* mel weights: the triangles are linear in *mel* (not in Hz) between edges evenly spaced
  on the mel scale ``1127·ln(1 + f/700)``, and the DC bin always gets weight 0;
* DCT: an unnormalised DCT-II scaled by ``1/sqrt(2·n_mels)``, i.e. the orthonormal one
  except that coefficient 0 is ``sqrt(2)`` times larger.

Everything here is a fixed numpy matrix, so the front end stays plain torch ops
(conv1d, matmul) and exports inside the model's graph. These functions were written from
TensorFlow's documented maths; ``tests/data/test_tf_features.py`` checks them against
``tf.signal`` itself.
"""

from __future__ import annotations

import math

import numpy as np


def next_power_of_two(value: int) -> int:
    """``2**k`` for the smallest ``k`` with ``2**k >= value`` (``tf.signal.stft``'s default fft_length)."""
    return 1 << max(int(value) - 1, 0).bit_length()


def tf_hann_window(length: int) -> np.ndarray:
    """``tf.signal.hann_window(length, periodic=True)``: periodic for even, symmetric for odd lengths."""
    if length == 1:
        return np.ones(1)
    denominator = length if length % 2 == 0 else length - 1
    return 0.5 - 0.5 * np.cos(2.0 * math.pi * np.arange(length) / denominator)


def tf_hertz_to_mel(hz: np.ndarray | float) -> np.ndarray:
    """TensorFlow's mel scale ``1127·ln(1 + f/700)`` (the HTK scale, natural-log form)."""
    return 1127.0 * np.log1p(np.asarray(hz, dtype=np.float64) / 700.0)


def tf_mel_weight_matrix(n_mels: int, n_fft: int, sample_rate: float, fmin: float, fmax: float) -> np.ndarray:
    """``tf.signal.linear_to_mel_weight_matrix(n_mels, n_fft // 2 + 1, sample_rate, fmin, fmax)``.

    Returns:
        ``(n_fft // 2 + 1, n_mels)`` float64; row 0 (DC) is zero; column ``m`` rises
        linearly *in mel* from edge ``m`` to 1 at edge ``m + 1`` and falls to 0 at edge
        ``m + 2`` of ``n_mels + 2`` mel-spaced edges from ``fmin`` to ``fmax``.
    """
    n_bins = n_fft // 2 + 1
    bin_mel = tf_hertz_to_mel(np.linspace(0.0, sample_rate / 2.0, n_bins)[1:])[:, None]
    edges = np.linspace(tf_hertz_to_mel(fmin), tf_hertz_to_mel(fmax), n_mels + 2)
    lower, centre, upper = edges[None, :-2], edges[None, 1:-1], edges[None, 2:]
    rising = (bin_mel - lower) / (centre - lower)
    falling = (upper - bin_mel) / (upper - centre)
    weights = np.maximum(0.0, np.minimum(rising, falling))
    return np.concatenate([np.zeros((1, n_mels)), weights])


def tf_dct_matrix(n_mels: int, n_mfcc: int) -> np.ndarray:
    """``tf.signal.mfccs_from_log_mel_spectrograms`` as a ``(n_mels, n_mfcc)`` matrix.

    ``c_k = sqrt(2 / N) · Σ_n x_n cos(π k (2n + 1) / 2N)`` for every ``k`` (TF's DCT-II
    ``2·Σ…`` times ``rsqrt(2N)``): the orthonormal DCT except c0, which is ``sqrt(2)`` larger.
    """
    n = np.arange(n_mels)[:, None]
    k = np.arange(n_mfcc)[None, :]
    return np.cos(math.pi * k * (2 * n + 1) / (2 * n_mels)) * math.sqrt(2.0 / n_mels)
