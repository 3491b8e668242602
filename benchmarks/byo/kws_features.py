"""TensorFlow MFCCs exactly as the TensorFlow speech-commands / MLPerf Tiny KWS pipeline computes them.

Per clip (FSDD: 8 kHz mono 16-bit WAV):

1. ``tf.audio.decode_wav(contents, desired_channels=1)`` (no ``desired_samples``): float32
   samples = int16 / 32768.
2. Peak normalisation as MLPerf Tiny's ``get_dataset.py``: ``wav / tf.reduce_max(wav)`` (the
   signed maximum, not the absolute one) over the whole clip.
3. Pad with zeros at the end / crop to the first ``desired_samples`` = 8000 samples (1 s).
4. Training only: random time shift of up to ``time_shift_ms`` = 100 ms (uniform integer
   shift in [-800, 800] samples, zero fill), as ``--time_shift_ms`` in the reference. FSDD has
   no background-noise folder, so no noise is mixed in. Test/val/calibration: no shift.
5. ``tf.signal.stft(frame_length=240, frame_step=160, fft_length=None -> 256,
   window_fn=tf.signal.hann_window (periodic), pad_end=False)`` -> 49 frames x 129 bins.
6. Magnitude spectrum ``tf.abs(stft)`` (not power).
7. ``tf.signal.linear_to_mel_weight_matrix(num_mel_bins=40, num_spectrogram_bins=129,
   sample_rate=8000, lower_edge_hertz=20.0, upper_edge_hertz=4000.0)`` (HTK mel scale, triangles
   in mel, unnormalised), applied with ``tf.tensordot(spectrogram, matrix, 1)``.
8. ``tf.math.log(mel + 1e-6)`` (natural log).
9. ``tf.signal.mfccs_from_log_mel_spectrograms`` (DCT-II scaled by ``1/sqrt(2 * 40)``, so c0 is
   sqrt(2) times the orthonormal c0 and c1.. equal the orthonormal ones), keep the first 10.
10. Reshape to ``[49, 10, 1]`` (frames, coefficients, channel) — the DS-CNN input.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import tensorflow as tf

PARAMS = {
    "sample_rate": 8000,
    "clip_duration_ms": 1000,
    "desired_samples": 8000,
    "pad_crop": "zero-pad at the end / keep the first desired_samples samples",
    "decode": "tf.audio.decode_wav(desired_channels=1): int16 / 32768",
    "peak_normalisation": "wav / tf.reduce_max(wav) over the whole clip, before pad/crop",
    "window_size_ms": 30.0,
    "window_stride_ms": 20.0,
    "window_size_samples": 240,
    "window_stride_samples": 160,
    "fft_length": 256,
    "fft_length_note": "tf.signal.stft fft_length=None -> smallest power of 2 >= 240",
    "window_fn": "tf.signal.hann_window (periodic=True)",
    "stft_pad_end": False,
    "spectrum": "magnitude (tf.abs of the STFT), not power",
    "num_spectrogram_bins": 129,
    "num_mel_bins": 40,
    "lower_edge_hertz": 20.0,
    "upper_edge_hertz": 4000.0,
    "mel_matrix": "tf.signal.linear_to_mel_weight_matrix (HTK mel, 1127*ln(1+f/700); unnormalised triangles)",
    "log": "natural log of (mel + 1e-6)",
    "log_offset": 1e-6,
    "dct": "tf.signal.mfccs_from_log_mel_spectrograms: DCT-II * 1/sqrt(2*num_mel_bins) (c0 = sqrt(2) x orthonormal)",
    "dct_coefficient_count": 10,
    "frames": 49,
    "output_shape": [49, 10, 1],
    "train_time_shift_ms": 100.0,
    "background_noise": "none (FSDD has no noise folder)",
}


def decode(path: Path) -> np.ndarray:
    """Float32 samples of a mono 16-bit WAV as ``tf.audio.decode_wav`` returns them (int16/32768)."""
    audio, rate = tf.audio.decode_wav(tf.io.read_file(str(path)), desired_channels=1)
    if int(rate) != PARAMS["sample_rate"]:
        raise ValueError(f"{path} is {int(rate)} Hz, expected {PARAMS['sample_rate']}")
    return audio.numpy()[:, 0]


def normalise_pad(wave: np.ndarray) -> np.ndarray:
    """Steps 2-3: peak normalisation over the whole clip, then pad/crop to 1 s."""
    wave = tf.constant(wave, tf.float32)
    wave = wave / tf.reduce_max(wave)
    n = PARAMS["desired_samples"]
    wave = wave[:n]
    return tf.pad(wave, [[0, n - tf.shape(wave)[0]]]).numpy()


def time_shift(waves: tf.Tensor, max_shift: int) -> tf.Tensor:
    """Step 4 on a batch ``[B, samples]``: each row shifted by its own uniform integer in [-max, max]."""
    n = tf.shape(waves)[1]
    shift = tf.random.uniform([tf.shape(waves)[0], 1], -max_shift, max_shift + 1, dtype=tf.int32)
    padded = tf.pad(waves, [[0, 0], [max_shift, max_shift]])
    # Row i reads padded[max_shift - shift_i + t]: the clip moved right by shift_i, zeros filled in.
    index = max_shift - shift + tf.range(n)[None, :]
    return tf.gather(padded, index, batch_dims=1)


def mfcc(waves: tf.Tensor) -> tf.Tensor:
    """Steps 5-10 on a batch ``[B, 8000]`` of normalised 1 s waveforms -> ``[B, 49, 10, 1]`` float32."""
    p = PARAMS
    stfts = tf.signal.stft(waves, frame_length=p["window_size_samples"], frame_step=p["window_stride_samples"],
                           fft_length=None, window_fn=tf.signal.hann_window)
    spectrograms = tf.abs(stfts)
    num_bins = stfts.shape[-1]
    matrix = tf.signal.linear_to_mel_weight_matrix(p["num_mel_bins"], num_bins, p["sample_rate"],
                                                   p["lower_edge_hertz"], p["upper_edge_hertz"])
    mel = tf.tensordot(spectrograms, matrix, 1)
    mel.set_shape(spectrograms.shape[:-1].concatenate(matrix.shape[-1:]))
    log_mel = tf.math.log(mel + p["log_offset"])
    mfccs = tf.signal.mfccs_from_log_mel_spectrograms(log_mel)[..., :p["dct_coefficient_count"]]
    return tf.reshape(mfccs, [-1, p["frames"], p["dct_coefficient_count"], 1])


def load_waves(files: list[Path]) -> np.ndarray:
    """Decoded, peak-normalised, padded/cropped 1 s waveforms ``[N, 8000]`` float32 (steps 1-3)."""
    return np.stack([normalise_pad(decode(f)) for f in files]).astype(np.float32)


def features(waves: np.ndarray, batch: int = 256) -> np.ndarray:
    """MFCCs ``[N, 49, 10, 1]`` of already normalised waveforms, computed in batches."""
    out = [mfcc(tf.constant(waves[i:i + batch])).numpy() for i in range(0, len(waves), batch)]
    return np.concatenate(out).astype(np.float32)


def check_geometry() -> None:
    """Fail loudly if TF's framing does not give the documented shape (49 frames, 129 bins)."""
    probe = mfcc(tf.zeros([1, PARAMS["desired_samples"]]) + 0.1)
    if tuple(probe.shape[1:]) != tuple(PARAMS["output_shape"]):
        raise RuntimeError(f"MFCC shape {tuple(probe.shape)} != {PARAMS['output_shape']}")
