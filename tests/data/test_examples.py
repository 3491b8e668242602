"""examples/{image-folder,audio-folder,npz}.yaml: each loads and validates; image folder and npz build for 1 epoch.

The examples are used as written, with only the data location (and, for speed, the image size and
epochs) swapped for tiny files made in the test.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import edgekd
from edgekd.config import load_config
from edgekd.data import load_data

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
QUICK = ["teacher.epochs=1", "distill.epochs=1", "export.formats=[onnx]", "quantize.enabled=false",
         "bench.latency_mode=off"]


@pytest.mark.parametrize("name, kind", [("image-folder", "image_folder"), ("audio-folder", "audio_folder"),
                                        ("npz", "npz")])
def test_data_examples_validate(name, kind):
    config = load_config(EXAMPLES / f"{name}.yaml")
    assert config.data.kind == kind


def test_image_folder_example_builds(image_folder, tmp_path):
    root = image_folder({"cat": 14, "dog": 14, "owl": 14}, size=(8, 8))
    config = load_config(EXAMPLES / "image-folder.yaml", [f"data.root={root}", "data.size=[8, 8]", *QUICK])
    assert config.data.augment.horizontal_flip and config.data.mean is not None  # the example's own settings
    result = edgekd.build(config, target="raspberry-pi-4", out_dir=tmp_path / "out")
    assert result.report["data"]["classes"] == ["cat", "dog", "owl"]
    assert result.report["data"]["input_shape"] == [3, 8, 8]


def test_npz_example_builds(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.normal(0, 1, (90, 1, 8, 8)).astype(np.float32)
    y = np.arange(90) % 3
    x[np.arange(90), 0, y * 2, :] += 3.0  # a bright row per class
    (tmp_path / "data").mkdir()
    np.savez(tmp_path / "data" / "arrays.npz", x_train=x[:70], y_train=y[:70], x_test=x[70:], y_test=y[70:])
    config = load_config(EXAMPLES / "npz.yaml", [f"data.path={tmp_path / 'data' / 'arrays.npz'}", *QUICK])
    result = edgekd.build(config, target="raspberry-pi-4", out_dir=tmp_path / "out")
    assert result.report["data"]["samples"]["test"] == 20 and result.report["data"]["input_shape"] == [1, 8, 8]


def test_audio_folder_example_loads_fsdd_like_files(fsdd_like):
    root = fsdd_like(takes=8)
    config = load_config(EXAMPLES / "audio-folder.yaml", [f"data.root={root}"])
    bundle = load_data(config)
    # the official-split rule of the example: takes 0-4 are test
    assert len(bundle.test) == 3 * 2 * 5 and bundle.task == "audio"
    assert bundle.input_shape[0] == 1 and bundle.input_shape[2] == config.data.features.n_mels  # (1, frames, mels)
