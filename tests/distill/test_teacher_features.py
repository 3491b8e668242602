"""A teacher with its own audio front end (teacher.features): KD feeds it its own features, in a whole build too."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from scipy.io import wavfile
from torch import nn

import edgekd
from edgekd.config import DistillConfig
from edgekd.data.audio import load_audio_folder
from edgekd.data.schema import AudioFeatures, AudioFolderData
from edgekd.distill.methods import build_objective
from edgekd.distill.trainer import TrainSpec, fit
from edgekd.students import build_student

TEACHER = AudioFeatures(preset="tensorflow-kws", type="mfcc", n_mels=20, n_mfcc=10, fmin=20.0, fmax=4000.0)
TEACHER_SHAPE = (1, 14, 10)  # 0.3 s at 8 kHz, TF framing 240 / 160, 10 MFCCs

# The user's teacher file: refuses any input but its own MFCC shape, and keeps the batches it saw.
FACTORY_SRC = '''
import torch
from torch import nn


class MfccNet(nn.Module):
    def __init__(self, num_classes=3):
        super().__init__()
        self.conv = nn.Conv2d(1, 4, 3, padding=1)
        self.fc = nn.Linear(4, num_classes)
        self.seen = []

    def forward(self, x):
        if tuple(x.shape[1:]) != (1, 14, 10):
            raise ValueError(f"MfccNet takes (N, 1, 14, 10) MFCCs, got {tuple(x.shape)}")
        self.seen.append(x.detach().clone())
        return self.fc(torch.relu(self.conv(x)).mean((2, 3)))


def make_model(num_classes=3):
    torch.manual_seed(0)
    return MfccNet(num_classes)
'''


def make_teacher() -> nn.Module:
    namespace: dict = {}
    exec(compile(FACTORY_SRC, "mfcc_factory.py", "exec"), namespace)  # noqa: S102 - our own test source
    return namespace["make_model"]().eval()


def recordings(tmp_path, takes: int = 8):
    """Flat ``{label}_spk_{i}.wav`` files: one noisy tone per class, 0.3 s at 8 kHz."""
    root = tmp_path / "recordings"
    root.mkdir()
    rng = np.random.default_rng(0)
    t = np.arange(2400) / 8000
    for label, freq in enumerate((400.0, 1200.0, 2600.0)):
        for i in range(takes):
            wave = 0.4 * np.sin(2 * np.pi * freq * (1 + 0.01 * i) * t) + rng.normal(0, 0.01, t.size)
            wavfile.write(root / f"{label}_spk_{i}.wav", 8000, (wave * 32767).astype(np.int16))
    return root


def data_cfg(root, **kwargs) -> AudioFolderData:
    base = dict(root=str(root), layout="flat", sample_rate=8000, clip_seconds=0.3, representative_samples=4,
                features={"n_fft": 128, "hop_length": 64, "n_mels": 16})
    return AudioFolderData(**{**base, **kwargs})


def run_kd(bundle, teacher) -> dict:
    student = build_student("ds-cnn", bundle.num_classes, bundle.input_shape, width=0.25)
    cfg = DistillConfig(epochs=1, batch_size=8)
    objective = build_objective(teacher, student, bundle.train, cfg, bundle.input_shape, torch.device("cpu"),
                                teacher_input_shape=bundle.teacher_input_shape)
    spec = TrainSpec(epochs=1, lr=1e-3, weight_decay=0.0, batch_size=8)
    history = fit(student, bundle.train, bundle.val, spec, objective.loss, seed=0, label="student")
    objective.close()
    return {"cached": objective.cached, "history": history}


def test_cached_kd_runs_the_teacher_on_its_own_features(tmp_path):
    bundle = load_audio_folder(data_cfg(recordings(tmp_path)), seed=0, teacher_features=TEACHER)
    teacher = make_teacher()
    result = run_kd(bundle, teacher)
    assert result["cached"] and np.isfinite(result["history"]["epochs"][0]["loss"])
    assert torch.equal(torch.cat(teacher.seen), bundle.train.teacher_x)  # once, over the teacher's own inputs


def test_augmented_kd_gives_the_teacher_features_of_each_augmented_batch(tmp_path):
    cfg = data_cfg(recordings(tmp_path), augment={"time_shift_ms": 30.0, "noise_snr_db": 25.0})
    bundle = load_audio_folder(cfg, seed=0, teacher_features=TEACHER)
    teacher = make_teacher()
    result = run_kd(bundle, teacher)
    assert not result["cached"]
    steps = -(-len(bundle.train) // 8)
    assert len(teacher.seen) == steps and all(tuple(x.shape[1:]) == TEACHER_SHAPE for x in teacher.seen)
    # Augmented: none of the teacher's batches is the clean clips' features.
    clean = bundle.train.augment.teacher_frontend(bundle.train.x.flatten(1))
    assert all(not any(torch.allclose(row, c, atol=1e-3) for c in clean) for row in teacher.seen[0])


def test_whole_build_with_a_torch_teacher_on_tf_mfccs(tmp_path):
    """edgekd build: student on log-mel, torch teacher on TF MFCCs; the teacher scores through its own features."""
    root = recordings(tmp_path)
    (tmp_path / "mfcc_factory.py").write_text(FACTORY_SRC, encoding="utf-8")
    overrides = [
        "data.kind=audio_folder", f"data.root={root}", "data.layout=flat", "data.sample_rate=8000",
        "data.clip_seconds=0.3", "data.features={n_fft: 128, hop_length: 64, n_mels: 16}",
        "data.augment.noise_snr_db=30", "data.representative_samples=8",
        "teacher.kind=torch", f"teacher.factory={tmp_path / 'mfcc_factory.py'}:make_model",
        "teacher.features={preset: tensorflow-kws, type: mfcc, n_mels: 20, n_mfcc: 10, fmin: 20, fmax: 4000}",
        "student.name=ds-cnn", "student.options={width: 0.25}", "distill.epochs=1", "distill.batch_size=8",
        "export.formats=[onnx]", "bench.latency_mode=off",
    ]
    result = edgekd.build(None, target="raspberry-pi-4", out_dir=tmp_path / "out", overrides=overrides)
    report = json.loads((result.out_dir / "report.json").read_text())
    teacher = next(m for m in report["models"] if m["role"] == "teacher")
    assert teacher["accuracy"]["top1"] is not None
    assert report["data"]["teacher_input_shape"] == list(TEACHER_SHAPE)
    assert report["data"]["preprocessing"]["teacher_features"]["stft"]["win_length"] == 240


@pytest.mark.parametrize("augment", [{}, {"noise_snr_db": 25.0}])
def test_pruning_recovery_feeds_the_teacher_its_own_features(tmp_path, augment):
    from types import SimpleNamespace

    from edgekd.config import PruneConfig
    from edgekd.prune.stage import _recover

    bundle = load_audio_folder(data_cfg(recordings(tmp_path), augment=augment), seed=0, teacher_features=TEACHER)
    teacher = make_teacher()
    student = build_student("ds-cnn", bundle.num_classes, bundle.input_shape, width=0.25)
    ctx = SimpleNamespace(config=SimpleNamespace(seed=0), reporter=None)
    _recover(student, teacher, bundle, PruneConfig(recovery_epochs=1), DistillConfig(batch_size=8), ctx)
    assert teacher.seen and all(tuple(x.shape[1:]) == TEACHER_SHAPE for x in teacher.seen)
