"""The real pretrained CIFAR-10 resnet20 loads as a user's torch teacher and is accurate (skips without data)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from edgekd.teachers.loaders import load_teacher
from edgekd.teachers.schema import TorchTeacher

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT.parent / "shared" / "data"
WEIGHTS = DATA / "cifar10-resnet" / "resnet20-12fca82f.th"
TEST = DATA / "cifar10-jpg" / "test"
MEAN, STD = np.array([0.485, 0.456, 0.406], np.float32), np.array([0.229, 0.224, 0.225], np.float32)

pytestmark = pytest.mark.skipif(not (WEIGHTS.is_file() and TEST.is_dir()), reason="no ../shared/data CIFAR-10 files")


def _images(per_class: int = 20) -> tuple[torch.Tensor, torch.Tensor]:
    from PIL import Image

    xs, ys = [], []
    for label, folder in enumerate(sorted(p for p in TEST.iterdir() if p.is_dir())):  # alphabetical = label index
        for file in sorted(folder.glob("*.jpg"))[:per_class]:
            rgb = np.asarray(Image.open(file).convert("RGB"), np.float32) / 255.0
            xs.append(((rgb - MEAN) / STD).transpose(2, 0, 1))
            ys.append(label)
    return torch.from_numpy(np.stack(xs)), torch.tensor(ys)


def test_resnet20_checkpoint_top1_on_200_jpeg_test_images():
    cfg = TorchTeacher(factory=f"{ROOT / 'benchmarks' / 'models' / 'cifar_resnet.py'}:make_model",
                       factory_kwargs={"depth": 20}, weights=WEIGHTS)
    model, description = load_teacher(cfg, (3, 32, 32), 10)
    x, y = _images()
    assert len(y) == 200
    with torch.no_grad():
        top1 = float((model(x).argmax(1) == y).float().mean())
    assert top1 >= 0.75, f"resnet20 top-1 {top1:.3f} on 200 JPEG test images ({description})"
    assert sum(p.numel() for p in model.parameters()) == 269_722
