"""`edgekd build` with a teacher fed the wrong input, or preprocessing keys that cannot apply: exit 2, one line."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest
import torch
from torch import nn

from edgekd import cli

from .test_whole_builds import _pngs, _wavs

QUICK = ["--set", "distill.epochs=1", "--set", "bench.latency_mode=off"]
# A build that runs to the end only to show it can: the smallest student, few calibration samples.
SMALL = ["--set", "student.options={width: 0.25}", "--set", "data.representative_samples=8"]


class _Constant(nn.Module):
    """Always says class 0: what a teacher fed inputs it never saw typically degenerates to."""

    def __init__(self, classes: int):
        super().__init__()
        self.bias = nn.Parameter(torch.arange(classes, 0, -1).float())

    def forward(self, x):
        return x.mean((1, 2, 3))[:, None] * 0 + self.bias


@pytest.fixture(scope="module")
def folders(tmp_path_factory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("bad-teacher")
    constant = base / "constant.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(_Constant(4), (torch.zeros(1, 3, 12, 12),), str(constant), dynamo=False, opset_version=17,
                          input_names=["x"], output_names=["y"], dynamic_axes={"x": {0: "n"}, "y": {0: "n"}})
    return {"images": _pngs(base / "images"), "audio": _wavs(base / "audio"), "constant": constant}


def _run(capsys, args: list[str], out: Path) -> tuple[int, list[str]]:
    capsys.readouterr()
    with pytest.raises(SystemExit) as exc:
        cli.main(["build", *QUICK, *args, "--out", str(out)])
    err = capsys.readouterr().err
    return exc.value.code, [line for line in err.splitlines() if line.startswith(("error", "internal error"))]


def _images(folders) -> list[str]:
    return ["--set", f"data={{kind: image_folder, root: '{folders['images']}'}}"]


def test_teacher_at_chance_stops_the_build(folders, capsys, tmp_path):
    code, lines = _run(capsys, [*_images(folders), "--set", f"teacher={{kind: onnx, path: '{folders['constant']}'}}"],
                       tmp_path / "out")
    assert code == 2 and len(lines) == 1, lines
    assert "25.0% top-1" in lines[0] and "teacher.input" in lines[0] and "min_val_top1" in lines[0]
    assert not (tmp_path / "out").exists()
    # The user can switch the check off, and then the build runs (and reports the teacher's 25%).
    code, lines = _run(capsys, [*_images(folders), "--set", f"teacher={{kind: onnx, path: '{folders['constant']}', "
                                "min_val_top1: 0}", "--set", "export.formats=[onnx]", *SMALL], tmp_path / "off")
    assert code in (0, 3) and not lines


@pytest.mark.parametrize(("teacher", "data", "expect"), [
    ("input: {scale: 255}", "audio", "data.kind is audio_folder"),
    ("input: {mean: [1, 2]}", "images", "2 values"),
    ("input_layout: nchw, input: {layout: nhwc}", "images", "input_layout"),
])
def test_preprocessing_keys_that_cannot_apply(teacher, data, expect, folders, capsys, tmp_path):
    data_set = _images(folders) if data == "images" else [
        "--set", f"data={{kind: audio_folder, root: '{folders['audio']}', sample_rate: 8000, clip_seconds: 0.3}}"]
    teacher_set = ["--set", f"teacher={{kind: onnx, path: '{folders['constant']}', {teacher}}}"]
    code, lines = _run(capsys, [*data_set, *teacher_set], tmp_path / "out")
    assert code == 2 and len(lines) == 1 and lines[0].startswith("error: ") and " — fix: " in lines[0], lines
    assert expect in lines[0]
