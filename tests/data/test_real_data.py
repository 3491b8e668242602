"""Small slices of the real shared data; skipped cleanly when ../shared/data is absent."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from edgekd.data.audio import load_audio_folder
from edgekd.data.images import load_image_folder
from edgekd.data.schema import AudioFolderData, ImageFolderData

# ../shared/data beside the project root, wherever the checkout lives (CI clones elsewhere).
SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "data"
FSDD = SHARED / "fsdd" / "recordings"
CIFAR = SHARED / "cifar10-jpg"
FSDD_FEATURES = {"n_fft": 256, "hop_length": 80}
CIFAR_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")


@pytest.mark.skipif(not FSDD.is_dir(), reason="shared FSDD data absent")
def test_fsdd_official_split_on_a_subset():
    # The first 60 files per digit in natural order: all 50 of george, takes 0-9 of jackson.
    cfg = AudioFolderData(root=str(FSDD), layout="flat", sample_rate=8000, limit_per_class=60,
                          features=FSDD_FEATURES, split={"method": "pattern", "field": "index", "test": "0-4"})
    bundle = load_audio_folder(cfg, seed=0)
    assert bundle.class_names == tuple(str(d) for d in range(10)) and bundle.name == "fsdd"
    assert len(bundle.test) == 100 and torch.bincount(bundle.test.y).tolist() == [10] * 10
    assert len(bundle.train) + len(bundle.val) == 500
    assert bundle.input_shape == (1, 97, 40) and torch.isfinite(bundle.test.x).all()


@pytest.mark.skipif(not FSDD.is_dir(), reason="shared FSDD data absent")
def test_fsdd_held_out_speaker_on_a_subset():
    cfg = AudioFolderData(root=str(FSDD), layout="flat", sample_rate=8000, limit_per_class=60,
                          features=FSDD_FEATURES, split={"method": "pattern", "field": "speaker", "test": ["jackson"]})
    bundle = load_audio_folder(cfg, seed=0)
    assert len(bundle.test) == 100 and len(bundle.train) + len(bundle.val) == 500


@pytest.mark.skipif(not FSDD.is_dir(), reason="shared FSDD data absent")
@pytest.mark.parametrize("kind, features", [("logmel", FSDD_FEATURES), ("mfcc", {**FSDD_FEATURES, "type": "mfcc"}),
                                            ("16k-default", {})])
def test_frontend_onnx_parity_on_real_speech(kind, features):
    import warnings

    import onnxruntime as ort

    from edgekd.data.audio_frontend import LogMelFrontend, onnx_bytes
    from edgekd.data.audio_io import fix_length, read_wav

    rate = 16000 if kind == "16k-default" else 8000
    cfg = AudioFolderData(root=str(FSDD), layout="flat", sample_rate=rate, features=features)
    frontend = LogMelFrontend(cfg).eval()
    waves = np.stack([fix_length(read_wav(p, rate, resample=True, mix_to_mono=False), rate)
                      for p in sorted(FSDD.glob("[0-9]_george_1[0-4].wav"))])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the legacy exporter's deprecation notice
        blob = onnx_bytes(frontend, waves.shape[1])
    got = ort.InferenceSession(blob, providers=["CPUExecutionProvider"]).run(None, {"waveform": waves})[0]
    expected = frontend(torch.from_numpy(waves)).numpy()
    assert got.shape == (50, *frontend.output_shape(rate)) and np.abs(got - expected).max() < 1e-4


@pytest.mark.skipif(not CIFAR.is_dir(), reason="shared CIFAR-10 JPEG data absent")
def test_cifar_folder_class_order_and_test_root():
    # limit_per_class reads 5 files per class of root only; test_limit_per_class limits test_root.
    cfg = ImageFolderData(root=str(CIFAR / "train"), test_root=str(CIFAR / "test"), limit_per_class=5,
                          test_limit_per_class=5, mean=[0.485, 0.456, 0.406], std=[0.229, 0.224, 0.225])
    bundle = load_image_folder(cfg, seed=0)
    assert bundle.class_names == CIFAR_CLASSES and bundle.name == "cifar10-jpg"
    assert bundle.input_shape == (3, 32, 32) and len(bundle.test) == 50
    assert bundle.preprocessing["files"] == {"root": "the first 5 files of each class (sorted by name)",
                                             "test_root": "the first 5 files of each class (sorted by name)"}
    assert torch.bincount(bundle.test.y).tolist() == [5] * 10
    # Normalised natural images: roughly zero-centred, unit-ish spread.
    assert abs(float(bundle.test.x.mean())) < 1.0 and 0.3 < float(bundle.test.x.std()) < 2.0
    assert np.isfinite(bundle.train.x.numpy()).all()
