"""TensorFlow-compatible audio features: hand-worked golden values, then agreement with ``tf.signal``.

Tolerance of the ``tf.signal`` comparisons: ``TOL = 1e-3`` absolute on log-mel and MFCC values,
whose range on these clips is ~17 (log-mel) and ~130 (MFCC), i.e. below 1e-4 of the range.
Both sides compute in float32, TF with an FFT and edgekd with a DFT-by-convolution, so they
cannot agree bit for bit; the log then amplifies absolute rounding in weak mel bands by
1/(mel + 1e-6). Measured over all 3,000 FSDD recordings at 8 kHz (``make bench-tf-features``):
max 1.8e-4 (log-mel and MFCC), and each float32 result within 1.8e-4 of TF run in float64, which
the tests also check. The bound is for mel bands that carry signal: in nearly empty bands (FSDD
resampled to 16 kHz, bands above 4 kHz) TF's own float32 result drifts up to ~0.09 from its float64
value and the gap follows it. 1e-3 leaves headroom for other BLAS/FFT builds while staying far
below what any single convention changes: every TF key switched back to edgekd's own default
moves the features by more than 20 x TOL (the subtlest, the mel weights' shape, by ~0.035 with
20 bands; asserted by ``test_each_convention_matters``).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch

from edgekd.data.audio_frontend import LogMelFrontend, mel_filterbank
from edgekd.data.audio_io import fix_length, read_wav
from edgekd.data.audio_tf import next_power_of_two, tf_dct_matrix, tf_hann_window, tf_mel_weight_matrix
from edgekd.data.schema import AudioFeatures, AudioFolderData

TOL = 1e-3
FSDD = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "fsdd" / "recordings"


# --- golden values worked by hand -------------------------------------------------------------


def test_tf_mel_matrix_golden_tiny_fft():
    # n_fft 4 at 1400 Hz: bins at 0, 350, 700 Hz. One filter from 0 to 700 Hz: mel edges
    # 0, m(700)/2, m(700) with m(f) = 1127 ln(1 + f/700), so m(700) = 1127 ln 2.
    # Bin 350 Hz sits at 1127 ln 1.5, past the centre: falling slope
    # (ln 2 - ln 1.5) / (ln 2 / 2) = 2 - 2 log2(1.5) = 0.830075. DC is zeroed, 700 Hz is the edge.
    weights = tf_mel_weight_matrix(n_mels=1, n_fft=4, sample_rate=1400, fmin=0.0, fmax=700.0)
    assert weights.shape == (3, 1)
    assert np.allclose(weights[:, 0], [0.0, 2 - 2 * math.log2(1.5), 0.0], atol=1e-12)
    # edgekd's HTK filters are linear in Hz instead: centre m^-1(m(700)/2) = 700 (sqrt 2 - 1) Hz, so
    # 350 Hz gets (700 - 350) / (700 - 700 (sqrt 2 - 1)) = (2 + sqrt 2) / 4 = 0.853553.
    htk = mel_filterbank(4, 1400, 1, 0.0, 700.0)
    assert math.isclose(htk[1, 0], (2 + math.sqrt(2)) / 4, abs_tol=1e-12)


def test_tf_dct_golden_two_bands():
    # N = 2: c_k = sqrt(2/2) sum_n x_n cos(pi k (2n + 1) / 4). For x = [1, 3]:
    # c0 = 1 + 3 = 4 (the orthonormal DCT gives 4 / sqrt 2), c1 = (1 - 3) / sqrt 2 = -sqrt 2.
    x = np.array([1.0, 3.0])
    assert np.allclose(x @ tf_dct_matrix(2, 2), [4.0, -math.sqrt(2)], atol=1e-12)


def test_tf_window_and_fft_length_golden():
    assert np.allclose(tf_hann_window(4), [0.0, 0.5, 1.0, 0.5])  # even: periodic
    assert np.allclose(tf_hann_window(5), [0.0, 0.5, 1.0, 0.5, 0.0])  # odd: TF gives the symmetric one
    assert [next_power_of_two(n) for n in (1, 2, 3, 240, 256, 257, 480)] == [1, 2, 4, 256, 256, 512, 512]


def test_preset_framing_gives_49_frames_and_keeps_user_keys():
    cfg = AudioFeatures(preset="tensorflow-kws", type="mfcc")
    frontend = LogMelFrontend(cfg, 16000)
    assert (frontend.n_fft, frontend.win_length, frontend.hop_length) == (512, 480, 320)
    assert frontend.output_shape(16000) == (1, 49, 13)
    assert LogMelFrontend(cfg, 8000).output_shape(8000) == (1, 49, 13)  # 240 / 160 / 256
    own = AudioFeatures(preset="tensorflow-kws", hop_length=128, log_offset=1e-3, spectrum="power")
    assert (own.frame_step_ms, own.hop_length, own.log_offset, own.spectrum) == (None, 128, 1e-3, "power")
    assert own.framing == "tensorflow" and own.dct == "tensorflow"
    # The resolved config survives a dump/load round trip unchanged.
    assert AudioFeatures.model_validate(cfg.model_dump()) == cfg


def test_preset_sets_clip_alignment_and_defaults_are_unchanged(tmp_path):
    tf_data = AudioFolderData(root=str(tmp_path), features={"preset": "tensorflow-kws"})
    assert tf_data.clip_align == "start"
    assert AudioFolderData(root=str(tmp_path), clip_align="centre",
                           features={"preset": "tensorflow-kws"}).clip_align == "centre"
    plain = AudioFolderData(root=str(tmp_path))
    assert plain.clip_align == "centre"
    assert (plain.features.framing, plain.features.spectrum, plain.features.mel_weights, plain.features.dct,
            plain.features.n_fft, plain.features.peak_normalize) == ("centred", "power", "htk", "ortho", 512, False)


def test_fix_length_start_alignment():
    x = np.arange(1, 6, dtype=np.float32)
    assert fix_length(x, 3, "start").tolist() == [1, 2, 3]
    assert fix_length(x, 7, "start").tolist() == [1, 2, 3, 4, 5, 0, 0]
    assert fix_length(x, 3).tolist() == [2, 3, 4]  # centre, as before


def test_peak_normalize_scales_each_clip():
    cfg = AudioFeatures(n_fft=64, hop_length=32, n_mels=8, peak_normalize=True)
    frontend = LogMelFrontend(cfg, 8000)
    x = torch.randn(2, 512)
    assert torch.allclose(frontend(x), frontend(x * torch.tensor([[0.1], [7.0]])), atol=1e-4)
    assert torch.isfinite(frontend(torch.zeros(1, 512))).all()


# --- agreement with tf.signal ------------------------------------------------------------------


def tf_features(waves: np.ndarray, rate: int, cfg: AudioFeatures, peak_normalize: bool = False,
                dtype: str = "float32"):
    """The TensorFlow tutorials' pipeline, written with tf.signal only (the reference)."""
    tf = pytest.importorskip("tensorflow")
    x = tf.constant(waves.astype(dtype))
    if peak_normalize:
        x = x / tf.reduce_max(tf.abs(x), axis=-1, keepdims=True)
    n_fft, win, hop = cfg.frames_in_samples(rate)
    stft = tf.signal.stft(x, frame_length=win, frame_step=hop)  # default fft_length, periodic Hann
    assert stft.shape[-1] == n_fft // 2 + 1
    weights = tf.signal.linear_to_mel_weight_matrix(cfg.n_mels, n_fft // 2 + 1, rate, cfg.fmin, cfg.fmax or rate / 2,
                                                    dtype=tf.as_dtype(dtype))
    log_mel = tf.math.log(tf.tensordot(tf.abs(stft), weights, 1) + cfg.log_offset)
    mfcc = tf.signal.mfccs_from_log_mel_spectrograms(log_mel)[..., :cfg.n_mfcc]
    return log_mel.numpy(), mfcc.numpy()


def edgekd_features(waves: np.ndarray, rate: int, cfg: AudioFeatures):
    log_mel = LogMelFrontend(cfg.model_copy(update={"type": "logmel"}), rate)(torch.from_numpy(waves))
    mfcc = LogMelFrontend(cfg.model_copy(update={"type": "mfcc"}), rate)(torch.from_numpy(waves))
    return log_mel[:, 0].numpy(), mfcc[:, 0].numpy()


def assert_agree(waves, rate, cfg, peak_normalize=False) -> tuple[float, float]:
    ref_mel, ref_mfcc = tf_features(waves, rate, cfg, peak_normalize)
    got_mel, got_mfcc = edgekd_features(waves, rate, cfg)
    assert got_mel.shape == ref_mel.shape and got_mfcc.shape == ref_mfcc.shape
    diffs = float(np.abs(got_mel - ref_mel).max()), float(np.abs(got_mfcc - ref_mfcc).max())
    assert max(diffs) < TOL, f"max |edgekd - tf.signal|: log-mel {diffs[0]:.2e}, mfcc {diffs[1]:.2e}"
    exact_mel, exact_mfcc = tf_features(waves, rate, cfg, peak_normalize, dtype="float64")
    exact = float(np.abs(got_mel - exact_mel).max()), float(np.abs(got_mfcc - exact_mfcc).max())
    assert max(exact) < TOL, f"max |edgekd - tf.signal in float64|: log-mel {exact[0]:.2e}, mfcc {exact[1]:.2e}"
    return diffs


def synthetic(rate: int, seconds: float = 1.0) -> np.ndarray:
    """A voiced-like harmonic chirp with noise, a click train, and a clip with silence at both ends."""
    n = int(rate * seconds)
    t = np.arange(n) / rate
    rng = np.random.default_rng(1)
    f0 = 120 + 80 * t
    voiced = sum(0.3 / k * np.sin(2 * np.pi * k * np.cumsum(f0) / rate) for k in range(1, 12))
    clicks = np.zeros(n)
    clicks[:: rate // 50] = 0.9
    burst = np.zeros(n)
    burst[n // 4: n // 2] = rng.normal(0, 0.2, n // 2 - n // 4)
    return np.stack([voiced + rng.normal(0, 0.003, n), clicks, burst]).astype(np.float32)


@pytest.mark.parametrize("rate, keys", [
    (16000, {}),  # 30 ms / 20 ms -> 480 / 320 / fft 512, 49 frames
    (8000, {}),
    (8000, {"win_length": 201, "hop_length": 80, "frame_length_ms": None, "frame_step_ms": None}),  # odd window
])
def test_matches_tf_signal_on_synthetic_audio(rate, keys):
    cfg = AudioFeatures(preset="tensorflow-kws", n_mels=40, n_mfcc=13, fmin=20.0, fmax=rate / 2, **keys)
    assert_agree(synthetic(rate), rate, cfg)


def test_matches_tf_signal_with_peak_normalisation():
    cfg = AudioFeatures(preset="tensorflow-kws", n_mels=32, fmin=60.0, fmax=3800.0, peak_normalize=True)
    assert_agree(synthetic(8000), 8000, cfg, peak_normalize=True)


def fsdd_clips(count: int = 12) -> tuple[list[Path], np.ndarray]:
    if not FSDD.is_dir():
        pytest.skip(f"{FSDD} absent (real speech is only checked where ../shared/data is)")
    files = sorted(FSDD.glob("*.wav"))[:: max(1, len(sorted(FSDD.glob("*.wav"))) // count)][:count]
    waves = [fix_length(read_wav(f, 8000, resample=False, mix_to_mono=False), 8000, "start") for f in files]
    return files, np.stack(waves)


def test_matches_tf_signal_on_fsdd_speech():
    _files, waves = fsdd_clips()
    cfg = AudioFeatures(preset="tensorflow-kws", n_mels=40, n_mfcc=13, fmin=20.0, fmax=4000.0)
    assert_agree(waves, 8000, cfg)


def test_wav_reading_and_clip_match_tf_decode_wav():
    tf = pytest.importorskip("tensorflow")
    files, waves = fsdd_clips(4)
    for path, wave in zip(files, waves):
        decoded = tf.audio.decode_wav(path.read_bytes(), desired_samples=8000).audio[:, 0].numpy()
        assert np.array_equal(decoded, wave)


@pytest.mark.parametrize("key, edgekd_value", [("framing", "centred"), ("spectrum", "power"),
                                               ("mel_weights", "htk"), ("dct", "ortho"), ("log_offset", 1e-4)])
def test_each_convention_matters(key, edgekd_value):
    """Each TF key, switched back to edgekd's default, moves the features far past TOL (the test can fail)."""
    waves = synthetic(8000)
    cfg = AudioFeatures(preset="tensorflow-kws", n_mels=20, fmin=20.0, fmax=4000.0)
    ref_mel, ref_mfcc = tf_features(waves, 8000, cfg)
    got_mel, got_mfcc = edgekd_features(waves, 8000, cfg.model_copy(update={key: edgekd_value}))
    # Measured: framing ~10, spectrum ~4, log_offset 4.6, dct 26 (MFCC c0), mel_weights 0.035.
    assert max(np.abs(got_mel - ref_mel).max(), np.abs(got_mfcc - ref_mfcc).max()) > 20 * TOL


def test_tf_frontend_exports_inside_the_onnx_graph():
    """The TF-style front end is still plain ops: ONNX (onnxruntime) gives the torch features."""
    import warnings

    import onnxruntime as ort

    from edgekd.data.audio_frontend import FrontendAndModel, onnx_bytes

    cfg = AudioFeatures(preset="tensorflow-kws", type="mfcc", n_mels=40, fmin=20.0, fmax=4000.0, peak_normalize=True)
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3, padding=1), torch.nn.ReLU(), torch.nn.AdaptiveAvgPool2d(1),
                                torch.nn.Flatten(), torch.nn.Linear(4, 3))
    x = synthetic(8000)
    for module in (LogMelFrontend(cfg, 8000).eval(), FrontendAndModel(LogMelFrontend(cfg, 8000), model).eval()):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the legacy exporter's deprecation notice
            session = ort.InferenceSession(onnx_bytes(module, x.shape[1]), providers=["CPUExecutionProvider"])
        expected = module(torch.from_numpy(x)).detach().numpy()
        assert np.abs(session.run(None, {"waveform": x})[0] - expected).max() < TOL


def test_framing_keys_are_checked_against_the_rate_and_clip(tmp_path):
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="needs win_length or frame_length_ms"):
        AudioFeatures(n_fft=None)
    with pytest.raises(ValidationError, match="features: the window is 800 samples at 8000 Hz"):
        AudioFolderData(root=str(tmp_path), sample_rate=8000, features={"frame_length_ms": 100, "n_fft": 512})
    with pytest.raises(ValidationError, match=r"a frame \(480 samples\) is longer than the clip \(320\)"):
        AudioFolderData(root=str(tmp_path), clip_seconds=0.02, features={"preset": "tensorflow-kws"})
