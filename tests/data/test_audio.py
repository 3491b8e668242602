"""Audio folders: WAV reading, labels from names, pattern splits, features, augmentation, errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.io import wavfile

from edgekd.data.audio import load_audio_folder
from edgekd.data.audio_io import fix_length, read_wav
from edgekd.data.schema import AudioFolderData
from edgekd.errors import DataError

FEATURES = {"n_fft": 128, "hop_length": 64, "n_mels": 16}


def cfg(root, **kwargs):
    base = dict(root=str(root), layout="flat", sample_rate=8000, clip_seconds=0.25, features=FEATURES,
                representative_samples=4)
    base.update(kwargs)
    return AudioFolderData(**base)


def test_flat_layout_official_style_split(fsdd_like):
    root = fsdd_like(labels=("0", "1", "2"), speakers=("ann", "bob"), takes=10)
    bundle = load_audio_folder(cfg(root, split={"method": "pattern", "field": "index", "test": "0-4"}), seed=0)
    assert bundle.class_names == ("0", "1", "2") and bundle.task == "audio"
    # 0.25 s at 8 kHz = 2000 samples → 1 + (2000 - 128) // 64 = 30 frames of 16 mel bands.
    assert bundle.input_shape == (1, 30, 16) and bundle.test.x.shape == (30, 1, 30, 16)
    assert len(bundle.test) == 3 * 2 * 5 and len(bundle.train) + len(bundle.val) == 30
    assert len(bundle.val) == 3  # 10% of each class's 10 train files
    assert bundle.train.augment is None and len(bundle.representative) == 4
    assert bundle.preprocessing["features"]["mel"]["n_mels"] == 16
    assert bundle.frontend is not None and bundle.frontend.output_shape(2000) == bundle.input_shape


def test_numeric_label_order_speaker_holdout_and_val_rule(fsdd_like):
    root = fsdd_like(labels=("10", "2", "1"), speakers=("ann", "bob", "cy"), takes=3)
    split = {"method": "pattern", "field": "speaker", "test": ["cy"], "val": "bob"}
    bundle = load_audio_folder(cfg(root, split=split), seed=0)
    assert bundle.class_names == ("1", "2", "10")
    assert (len(bundle.train), len(bundle.val), len(bundle.test)) == (9, 9, 9)


def test_class_folders_layout_and_ratio_split(tmp_path):
    t = np.arange(2400) / 8000
    for _k, (name, freq) in enumerate((("yes", 500.0), ("no", 1800.0))):
        for i in range(10):
            (tmp_path / name).mkdir(exist_ok=True)
            wavfile.write(tmp_path / name / f"take{i}.wav", 8000,
                          (0.4 * np.sin(2 * np.pi * freq * t) * 32767).astype(np.int16))
    bundle = load_audio_folder(cfg(tmp_path, layout="class_folders"), seed=0)
    assert bundle.class_names == ("no", "yes")
    assert (len(bundle.train), len(bundle.val), len(bundle.test)) == (14, 2, 4)
    # The 1800 Hz class ("no", label 0) has more energy in the high mel bands than "yes".
    high = bundle.test.x[..., 12:].mean((1, 2, 3))
    assert bool((high[bundle.test.y == 0].min() > high[bundle.test.y == 1].max()))


def test_augment_deterministic_and_changes_features(fsdd_like):
    root = fsdd_like(takes=6)
    aug = {"time_shift_ms": 20, "noise_snr_db": 10}
    bundle = load_audio_folder(cfg(root, augment=aug, split={"method": "pattern", "field": "index", "test": "0"}),
                               seed=0)
    x = bundle.train.x[:6]
    assert x.shape == (6, 1, 1, 2000)  # waveforms: features are computed per batch
    one = bundle.train.augment(x, torch.Generator().manual_seed(1))
    two = bundle.train.augment(x, torch.Generator().manual_seed(1))
    other = bundle.train.augment(x, torch.Generator().manual_seed(2))
    clean = bundle.frontend(x.flatten(1))
    assert one.shape == (6, *bundle.input_shape) and torch.equal(one, two)
    assert not torch.allclose(one, other) and not torch.allclose(one, clean)
    assert bundle.val.x.shape[1:] == bundle.input_shape and bundle.representative.x.shape[1:] == bundle.input_shape
    assert set(bundle.preprocessing["train_augment"]) == {"time_shift_samples", "noise"}


def test_time_shift_moves_the_signal():
    from edgekd.data.audio import AudioAugmenter

    wave = torch.zeros(1, 1, 1, 100)
    wave[..., 50] = 1.0
    shifter = AudioAugmenter(lambda w: w, sample_rate=1000, time_shift_ms=10, noise_snr_db=None)
    out = shifter(wave, torch.Generator().manual_seed(0))
    assert out.sum() == 1.0 and 40 <= int(out.argmax()) <= 60 and int(out.argmax()) != 50


def test_fix_length_centre_crops_and_pads():
    x = np.arange(10, dtype=np.float32)
    assert fix_length(x, 4).tolist() == [3, 4, 5, 6]
    assert fix_length(x[:2], 6).tolist() == [0, 0, 0, 1, 0, 0]


def test_wav_formats_resample_and_mono(tmp_path):
    t = np.arange(8000) / 8000
    sine = (0.5 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    wavfile.write(tmp_path / "f32.wav", 8000, sine)
    wavfile.write(tmp_path / "u8.wav", 8000, np.round(sine * 127 + 128).astype(np.uint8))
    wavfile.write(tmp_path / "hi.wav", 16000, (np.repeat(sine, 2) * 32767).astype(np.int16))
    wavfile.write(tmp_path / "st.wav", 8000, np.stack([sine, -sine * 0], axis=1))
    assert np.allclose(read_wav(tmp_path / "f32.wav", 8000, resample=False, mix_to_mono=False), sine)
    assert np.abs(read_wav(tmp_path / "u8.wav", 8000, resample=False, mix_to_mono=False) - sine).max() < 1.5 / 128
    resampled = read_wav(tmp_path / "hi.wav", 8000, resample=True, mix_to_mono=False)
    assert len(resampled) == 8000 and np.abs(resampled[100:-100] - sine[100:-100]).max() < 0.05
    assert np.allclose(read_wav(tmp_path / "st.wav", 8000, resample=False, mix_to_mono=True), sine / 2)


@pytest.mark.parametrize("case", ["rate", "stereo", "not_wav", "truncated", "empty"])
def test_bad_wavs_are_named_with_the_fix(fsdd_like, case):
    root = fsdd_like(takes=3)
    bad = root / "1_bob_2.wav"
    if case == "rate":
        wavfile.write(bad, 16000, np.zeros(4000, dtype=np.int16))
        expect = r"1_bob_2.wav is sampled at 16000 Hz, expected 8000 Hz .*data.resample: true"
    elif case == "stereo":
        wavfile.write(bad, 8000, np.zeros((2000, 2), dtype=np.int16))
        expect = r"1_bob_2.wav has 2 channels, expected mono .*data.mix_to_mono: true"
    elif case == "not_wav":
        bad.write_bytes(b"ID3 this is an mp3 really")
        expect = r"1_bob_2.wav is not a readable WAV file"
    elif case == "truncated":
        bad.write_bytes(bad.read_bytes()[:1000])
        expect = r"1_bob_2.wav is truncated"
    else:
        wavfile.write(bad, 8000, np.zeros(0, dtype=np.int16))
        expect = r"1_bob_2.wav holds no samples"
    with pytest.raises(DataError, match=expect) as err:
        load_audio_folder(cfg(root), seed=0)
    assert err.value.exit_code == 2 and err.value.fix


def test_name_not_matching_pattern_and_empty_rule(fsdd_like):
    root = fsdd_like(takes=3)
    (root / "README.wav").write_bytes(b"")
    with pytest.raises(DataError, match=r"README.wav does not match label_pattern"):
        load_audio_folder(cfg(root), seed=0)
    (root / "README.wav").unlink()
    with pytest.raises(DataError, match=r"split rule test='zed' on field 'speaker' matches no file"):
        load_audio_folder(cfg(root, split={"method": "pattern", "field": "speaker", "test": "zed"}), seed=0)


def test_split_leaving_a_class_without_test(fsdd_like):
    root = fsdd_like(takes=5)
    for path in root.glob("2_*_[0-1].wav"):
        path.unlink()
    with pytest.raises(DataError, match=r"class '2' with no test samples"):
        load_audio_folder(cfg(root, split={"method": "pattern", "field": "index", "test": "0-1"}), seed=0)


def test_config_rejects_inconsistent_sections(tmp_path):
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="layout flat"):
        AudioFolderData(root="r", split={"method": "pattern", "field": "index", "test": "0"})
    with pytest.raises(ValidationError, match="not a field of label_pattern"):
        AudioFolderData(root="r", layout="flat", split={"method": "pattern", "field": "take", "test": "0"})
    with pytest.raises(ValidationError, match="above sample_rate / 2"):
        AudioFolderData(root="r", sample_rate=8000, features={"fmax": 6000})
    with pytest.raises(ValidationError, match="extra"):
        AudioFolderData(root="r", features={"n_fft": 256, "nfft": 3})
