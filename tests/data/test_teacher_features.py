"""teacher.features: the teacher's own front end computed from the same clips (and augmented waveforms)."""

from __future__ import annotations

import pytest
import torch

from edgekd.config import load_config
from edgekd.data import load_data
from edgekd.data.audio import load_audio_folder
from edgekd.data.audio_frontend import LogMelFrontend
from edgekd.data.schema import AudioFeatures, AudioFolderData
from edgekd.errors import ConfigError

STUDENT = {"n_fft": 128, "hop_length": 64, "n_mels": 16}
TEACHER = AudioFeatures(preset="tensorflow-kws", type="mfcc", n_mels=20, n_mfcc=10, fmin=20.0, fmax=4000.0)


def data_cfg(root, **kwargs):
    base = dict(root=str(root), layout="flat", sample_rate=8000, clip_seconds=0.3, features=STUDENT,
                representative_samples=4)
    return AudioFolderData(**{**base, **kwargs})


def test_every_split_holds_the_teachers_own_features(fsdd_like):
    cfg = data_cfg(fsdd_like(takes=4))
    bundle = load_audio_folder(cfg, seed=0, teacher_features=TEACHER)
    plain = load_audio_folder(cfg, seed=0)
    # 0.3 s at 8 kHz = 2400 samples: the student gets 1 + (2400 - 128) // 64 = 36 frames of 16 mel bands,
    # the teacher TF framing 240 / 160 -> 1 + (2400 - 240) // 160 = 14 frames of 10 MFCCs.
    assert bundle.input_shape == plain.input_shape == (1, 36, 16)
    assert bundle.teacher_input_shape == (1, 14, 10)
    for split, same in ((bundle.train, plain.train), (bundle.test, plain.test), (bundle.val, plain.val)):
        assert torch.equal(split.x, same.x)  # the student's inputs do not change
        assert split.teacher_x.shape == (len(split), 1, 14, 10) and torch.equal(split.for_teacher(), split.teacher_x)
        idx = torch.arange(len(split))
        assert torch.equal(split.teacher_batch(idx, split.x), split.teacher_x)
    assert plain.test.teacher_x is None and torch.equal(plain.test.for_teacher(), plain.test.x)
    assert bundle.preprocessing["teacher_features"]["dct"]["n_mfcc"] == 10
    assert bundle.summary()["teacher_input_shape"] == [1, 14, 10]


def test_teacher_features_are_row_aligned_with_the_students(fsdd_like):
    """With the student's own keys as teacher.features, every split's teacher_x is x: same clips, same order."""
    cfg = data_cfg(fsdd_like(takes=3))
    bundle = load_audio_folder(cfg, seed=0, teacher_features=cfg.features)
    for split in (bundle.train, bundle.val, bundle.test, bundle.representative):
        assert torch.equal(split.teacher_x, split.x)


def test_augmented_batch_gives_the_teacher_the_same_augmented_waveforms(fsdd_like):
    cfg = data_cfg(fsdd_like(takes=4), augment={"time_shift_ms": 40.0, "noise_snr_db": 20.0})
    bundle = load_audio_folder(cfg, seed=0, teacher_features=TEACHER)
    train = bundle.train
    assert train.x.shape[1:] == (1, 1, 2400) and train.teacher_x is None  # waveforms; features per batch
    idx = torch.tensor([0, 3, 5])
    student_in = train.augment(train.x[idx], torch.Generator().manual_seed(7))
    teacher_in = train.teacher_batch(idx, student_in)
    # Replaying the same generator on a teacher-only augmenter gives the same augmented waveforms.
    from edgekd.data.audio import AudioAugmenter

    replay = AudioAugmenter(LogMelFrontend(TEACHER, 8000), 8000, 40.0, 20.0)
    expected = replay(train.x[idx], torch.Generator().manual_seed(7))
    assert teacher_in.shape == (3, 1, 14, 10) and torch.allclose(teacher_in, expected, atol=1e-5)
    unaugmented = LogMelFrontend(TEACHER, 8000)(train.x[idx].flatten(1))
    assert not torch.allclose(teacher_in, unaugmented, atol=1e-2)  # the augmentation reached the teacher
    with pytest.raises(RuntimeError, match="did not produce last"):
        train.teacher_batch(idx, student_in + 1)


def test_teacher_features_must_fit_the_clips_and_need_audio(fsdd_like, tmp_path):
    cfg = data_cfg(fsdd_like(takes=2))
    with pytest.raises(ConfigError, match="teacher.features.fmax 6000.0 is above"):
        load_audio_folder(cfg, seed=0, teacher_features=AudioFeatures(fmax=6000.0))
    with pytest.raises(ConfigError, match="longer than the clip"):
        load_audio_folder(cfg, seed=0, teacher_features=AudioFeatures(n_fft=4096))
    config = load_config(None, ["teacher.kind=onnx", f"teacher.path={tmp_path / 'x.onnx'}",
                                "teacher.features.type=mfcc"])
    with pytest.raises(ConfigError, match="teacher.features is a front end for audio"):
        load_data(config)
