"""Issue 17, rows 8 and 10: profile infinities, 16-bit PNGs, batch-size teachers, --out in the data, student names.

Each bad input exits 2 with one line and leaves nothing in ``--out``.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np
import pytest

import edgekd
from edgekd.errors import EXIT_BAD_INPUT, ConfigError, OutputDirError, TargetError
from edgekd.progress import NullReporter
from edgekd.targets import load_target, targets_dir

from .test_more_bad_inputs import run_main

TINY = ["teacher.epochs=1", "distill.epochs=1", "bench.latency_mode=off", "teacher.width=8", "data.resolution=8",
        "export.formats=[onnx]"]


@pytest.mark.parametrize("key, value, expect", [
    ("max_latency_p90_ms", ".inf", "finite number"),
    ("max_latency_p90_ms", "-.inf", "finite number"),
    ("max_top1_drop", ".nan", "finite number"),
    ("max_model_bytes", "1e999 B", "too large to be a byte size"),
    ("max_model_bytes", "1e999 KiB", "too large to be a byte size"),
])
def test_non_finite_profile_figures_exit_2_before_anything_is_written(key, value, expect, tmp_path, capsys):
    text = (targets_dir() / "raspberry-pi-4.yaml").read_text()
    lines = [f"  {key}: {value}" if line.strip().startswith(f"{key}:") else line for line in text.splitlines()]
    profile = tmp_path / "pi4-inf.yaml"
    profile.write_text("\n".join(lines) + "\n")
    with pytest.raises(TargetError, match=expect):
        load_target(str(profile))
    code, output = run_main(capsys, "build", "--target", str(profile), "--out", str(tmp_path / "out"))
    assert code == EXIT_BAD_INPUT and expect in output and "Traceback" not in output
    assert not (tmp_path / "out").exists()


def _png16(path: Path, values: np.ndarray) -> None:
    from PIL import Image

    Image.fromarray(values.astype(np.uint16)).save(path)


def test_16_bit_pngs_are_scaled_not_saturated(tmp_path):
    """65535 -> 255 (PNG sample-depth scaling); PIL's own convert() would make every value above 255 white."""
    from edgekd.data.images import decode_images

    ramp = (np.arange(64).reshape(8, 8) * 1040).clip(0, 65535)
    _png16(tmp_path / "ramp.png", ramp)
    pixels = decode_images([tmp_path / "ramp.png"], (8, 8), "L", fixed=False)[0, 0]
    np.testing.assert_array_equal(pixels, (ramp * 255 + 32767) // 65535)
    assert len(np.unique(pixels)) == 64  # no saturation: every grey level stays distinct
    rgb = decode_images([tmp_path / "ramp.png"], (8, 8), "RGB", fixed=False)[0]
    np.testing.assert_array_equal(rgb[0], pixels)


def test_a_16_bit_png_folder_trains_above_chance(tmp_path):
    """Two classes that differ only above grey level 255/65535: at chance if the images saturate."""
    rng = np.random.default_rng(0)
    for k, level in enumerate((20000, 45000)):
        (tmp_path / "data" / f"c{k}").mkdir(parents=True)
        for i in range(40):
            _png16(tmp_path / "data" / f"c{k}" / f"{i}.png", rng.normal(level, 3000, (8, 8)).clip(0, 65535))
    result = edgekd.build(None, target="host", out_dir=tmp_path / "out", overrides=[
        f"data={{kind: image_folder, root: '{tmp_path / 'data'}', channels: 1}}", "teacher.epochs=3",
        "distill.epochs=1", "bench.latency_mode=off", "teacher.width=8", "export.formats=[onnx]"])
    teacher = next(m for m in result.report["models"] if m["role"] == "teacher")
    assert teacher["accuracy"]["top1"] > 0.9


BATCH_LIMITED = """
import torch
from torch import nn


class BatchOfTwo(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(64, 10)

    def forward(self, x):
        if x.shape[0] > 2:  # e.g. a reshape written for one fixed batch size
            raise RuntimeError(f"shape '[2, 64]' is invalid for input of size {x.numel()}")
        return self.fc(x.reshape(2, 64)[: x.shape[0]]) if x.shape[0] == 2 else self.fc(x.reshape(1, 64))


def make_model():
    return BatchOfTwo()
"""


def test_teacher_failing_only_on_larger_batches_exits_2_naming_the_batch(tmp_path, capsys):
    factory = tmp_path / "batch2.py"
    factory.write_text(BATCH_LIMITED)
    config = tmp_path / "c.yaml"
    config.write_text(textwrap.dedent(f"""
        teacher: {{kind: torch, factory: "{factory}:make_model", min_val_top1: 0}}
    """))
    code, output = run_main(capsys, "build", str(config), "--target", "host", "--out", str(tmp_path / "out"),
                            *[f"--set={o}" for o in TINY if not o.startswith("teacher.")])
    assert code == EXIT_BAD_INPUT, output
    assert "runs on a batch of 2 samples but fails on a batch of" in output and "Traceback" not in output
    assert not (tmp_path / "out").exists()


def test_out_inside_the_data_folder_is_refused(tmp_path):
    data = tmp_path / "images"
    for k in range(2):
        (data / f"c{k}").mkdir(parents=True)
    overrides = [f"data={{kind: image_folder, root: '{data}'}}"]
    for out in (data / "run1", data, data / "c0" / "deep"):
        with pytest.raises(OutputDirError, match=r"inside data.root"):
            edgekd.build(None, target="host", out_dir=out, overrides=overrides)
    assert sorted(p.name for p in data.iterdir()) == ["c0", "c1"] and not any((data / "c0").iterdir())


def test_unknown_student_is_refused_before_the_teacher_trains(tmp_path):
    stages = []

    class Recorder(NullReporter):
        def stage(self, name, detail=""):
            stages.append(name)

    for overrides, match in ((["student.name=mobilenet_v2"], "unknown student 'mobilenet_v2' .*did you mean"),
                             (["student.options={widht: 0.5}"], "has no option 'widht'"),
                             (["student.options={width: fast}"], "width")):
        with pytest.raises(ConfigError, match=match):
            edgekd.build(None, target="host", out_dir=tmp_path / "out", overrides=[*overrides, "teacher.epochs=50"],
                         reporter=Recorder())
    assert stages == [] and not (tmp_path / "out").exists()
