"""Bad input of every kind: exit 2, one line naming the problem and the fix, nothing left on disk.

Most cases drive ``edgekd.cli.main`` in-process (fast); a few run the real command in a
subprocess. Every case fails before training except the NaN-loss and disk-full ones.
"""

from __future__ import annotations

import errno
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from edgekd import cli

REPO = Path(__file__).resolve().parents[2]
PROGRESS = re.compile(r"^\s*(\d+\.\d+s \w+|\w+ epoch \d+/\d+|note:)")
QUICK = ["--set", "bench.latency_mode=off", "--set", "distill.epochs=1"]
TRAIN = [*QUICK, "--set", "teacher.epochs=1", "--set", "export.formats=[onnx]"]


def write(path: Path, content: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


def config(tmp: Path, **sections) -> str:
    return str(write(tmp / "build.yaml", yaml.safe_dump(sections)))


def image_data(root: Path) -> dict:
    return {"kind": "image_folder", "root": str(root)}


def truncated(path: Path) -> bytes:
    data = path.read_bytes()
    return data[: len(data) // 2]


def profile(tmp: Path, mutate) -> str:
    data = yaml.safe_load((REPO / "targets" / "raspberry-pi-4.yaml").read_text())
    mutate(data)
    return str(write(tmp / "board.yaml", yaml.safe_dump(data)))


# -- teacher files of each kind: (teacher section, wrong-format bytes) ------------------------------
def teacher_section(kind: str, path: Path, fx) -> dict:
    if kind == "torch":
        return {"kind": "torch", "factory": f"{fx.teacher_files['factory']}:make_model", "weights": str(path)}
    section = {"kind": kind, "path": str(path)}
    if kind in ("torchscript", "keras"):
        section["trust_code"] = True  # the damaged file must be what fails, not the missing opt-in
    return section


def valid_file(kind: str, fx) -> Path:
    return {"torch": lambda: fx.teacher_files["weights"], "torchscript": lambda: fx.teacher_files["torchscript"],
            "onnx": lambda: fx.teacher_files["onnx"], "tflite": lambda: fx.request.getfixturevalue("tflite_file"),
            "keras": lambda: fx.request.getfixturevalue("keras_file")}[kind]()


SUFFIX = {"torch": ".pt", "torchscript": ".ts", "onnx": ".onnx", "tflite": ".tflite", "keras": ".keras"}
# Another format's bytes under this kind's name (what a mixed-up path gives).
WRONG = {"torch": "onnx", "torchscript": "onnx", "onnx": "torchscript", "tflite": "onnx", "keras": "torch"}


def teacher_case(kind: str, damage: str):
    def make(tmp: Path, fx):
        if damage == "empty":
            content = b""
        elif damage == "truncated":
            content = truncated(valid_file(kind, fx))
        else:
            content = valid_file(WRONG[kind], fx).read_bytes()
        path = write(tmp / f"teacher{SUFFIX[kind]}", content)
        return [config(tmp, data=image_data(fx.images), teacher=teacher_section(kind, path, fx))], "teacher"
    return make


def nested(data: dict, dotted: str, value) -> None:
    *head, last = dotted.split(".")
    for part in head:
        data = data[part]
    data[last] = value


def empty_class_folder(tmp: Path, fx):
    root = tmp / "imgs"
    shutil.copytree(fx.images, root)
    (root / "c9").mkdir()
    return [config(tmp, data=image_data(root))], "no"


def not_an_image(tmp: Path, fx):
    root = tmp / "imgs"
    shutil.copytree(fx.images, root)
    write(root / "c0" / "99.png", "I am a text file with a .png name\n")
    return [config(tmp, data=image_data(root))], "99.png"


def audio_case(damage: str):
    def make(tmp: Path, fx):
        import numpy as np
        from scipy.io import wavfile

        root = fx.write_wavs(tmp / "wavs")
        bad = root / "yes" / "bad.wav"
        if damage == "not-wav":
            write(bad, b"RIFF\x00\x00\x00\x00this is not audio")
        elif damage == "rate":
            wavfile.write(bad, 16000, np.zeros(1600, dtype=np.int16))
        else:
            wavfile.write(bad, 8000, np.zeros((800, 2), dtype=np.int16))
        data = {"kind": "audio_folder", "root": str(root), "sample_rate": 8000, "clip_seconds": 0.1,
                "features": {"n_fft": 256, "hop_length": 80, "n_mels": 16}}
        return [config(tmp, data=data)], {"not-wav": "bad.wav", "rate": "16000", "stereo": "channels"}[damage]
    return make


CASES = {
    # config files and --set
    "yaml-syntax-error": lambda t, fx: ([str(write(t / "c.yaml", "distill:\n  epochs: [3\n"))], "yaml syntax"),
    "yaml-tab-indent": lambda t, fx: ([str(write(t / "c.yaml", "distill:\n\tepochs: 3\n"))], "yaml syntax"),
    "config-unknown-section": lambda t, fx: ([str(write(t / "c.yaml", "distil:\n  epochs: 3\n"))], "distil"),
    "config-unknown-key": lambda t, fx: (["--set", "distill.temprature=3"], "temprature"),
    "config-wrong-type": lambda t, fx: (["--set", "distill.epochs=many"], "distill.epochs"),
    "config-out-of-range": lambda t, fx: (["--set", "distill.alpha=1.5"], "distill.alpha"),
    "float-first-conv-with-pt2e": lambda t, fx: (["--set", "quantize.float_first_conv=true", "--set",
                                                  "quantize.tflite_engine=pt2e"], "float_first_conv"),
    "float-first-conv-on-an-mcu": lambda t, fx: (["--set", "quantize.float_first_conv=true", "--target", "stm32h743"],
                                                 "tflite-micro runtime of target stm32h743"),
    "config-top-level-list": lambda t, fx: ([str(write(t / "c.yaml", "- a\n- b\n"))], "mapping"),
    "config-missing-file": lambda t, fx: ([str(t / "nope.yaml")], "does not exist"),
    "config-not-utf8": lambda t, fx: ([str(write(t / "c.yaml", b"\xff\xfe\x00bad"))], "cannot read config"),
    "set-without-equals": lambda t, fx: (["--set", "distill.epochs"], "key.path=value"),
    "unknown-data-kind": lambda t, fx: (["--set", "data.kind=parquet"], "data"),
    # device profiles
    "unknown-target": lambda t, fx: (["--target", "raspbery-pi-4"], "unknown target"),
    "profile-missing-field": lambda t, fx: (["--target", profile(t, lambda d: d.pop("cpu"))], "cpu"),
    "budget-unit-parsecs": lambda t, fx: (
        ["--target", profile(t, lambda d: nested(d, "budgets.max_model_bytes", "12 parsecs"))], "parsecs"),
    "budget-percent-not-fraction": lambda t, fx: (
        ["--target", profile(t, lambda d: nested(d, "budgets.max_top1_drop", 3))], "percent"),
    "budget-wrong-type": lambda t, fx: (
        ["--target", profile(t, lambda d: nested(d, "budgets.max_latency_p90_ms", "fast"))], "max_latency_p90_ms"),
    "profile-unknown-key": lambda t, fx: (["--target", profile(t, lambda d: d.update(budgetz={}))], "budgetz"),
    "profile-yaml-syntax": lambda t, fx: (["--target", str(write(t / "b.yaml", "name: [pi\n"))], "yaml"),
    # teacher files: empty, truncated and wrong-format, for each kind
    **{f"{kind}-{damage}": teacher_case(kind, damage)
       for kind in ("torch", "torchscript", "onnx", "tflite", "keras")
       for damage in ("empty", "truncated", "wrong-format")},
    "teacher-file-missing": lambda t, fx: ([config(t, data=image_data(fx.images),
                                                   teacher={"kind": "onnx", "path": str(t / "none.onnx")})],
                                           "does not exist"),
    "teacher-factory-missing": lambda t, fx: ([config(t, data=image_data(fx.images), teacher={
        "kind": "torch", "factory": f"{t}/nope.py:make_model"})], "nope.py"),
    "teacher-class-count": lambda t, fx: ([config(t, data=image_data(fx.images),
                                                  teacher={"kind": "onnx", "path": str(fx.teacher_files["onnx7"])})],
                                          "7"),
    "teacher-input-shape": lambda t, fx: ([config(t, data=image_data(fx.images), teacher={
        "kind": "onnx", "path": str(fx.teacher_files["onnx16"])})], "16"),
    "teacher-wrong-layout": lambda t, fx: ([config(t, data=image_data(fx.images), teacher={
        "kind": "onnx", "path": str(fx.teacher_files["onnx"]), "input_layout": "nhwc"})], "teacher"),
    # data
    "empty-class-folder": empty_class_folder,
    "image-not-an-image": not_an_image,
    "data-root-missing": lambda t, fx: ([config(t, data=image_data(t / "no-such-folder"))], "does not exist"),
    "wav-not-a-wav": audio_case("not-wav"),
    "wav-other-sample-rate": audio_case("rate"),
    "wav-stereo": audio_case("stereo"),
    # (NaN loss, disk full, an output folder that is a file or not writable: dedicated tests below)
}


@pytest.fixture
def fx(request, images, teacher_files, wav_writer):
    """Session fixtures in one object; TFLite and Keras files are made only when a case asks."""

    class _Fx:
        pass

    got = _Fx()
    got.request, got.images, got.teacher_files, got.write_wavs = request, images, teacher_files, wav_writer
    return got


def run_cli(capsys, argv: list[str]) -> tuple[int, str]:
    capsys.readouterr()
    with pytest.raises(SystemExit) as exc:
        cli.main(argv)
    return exc.value.code, capsys.readouterr().err


def assert_one_line_error(code: int, err: str, expect: str) -> str:
    assert code == 2, err
    assert "Traceback" not in err
    other = [line for line in err.splitlines() if line.strip() and not PROGRESS.match(line)]
    assert len(other) == 1, other
    line = other[0]
    assert line.startswith("error: ") and " — fix: " in line, line
    assert expect.lower() in line.lower(), line
    return line


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input_exits_2_with_one_line(case, tmp_path, fx, capsys):
    args, expect = CASES[case](tmp_path, fx)
    out = tmp_path / "out"
    # QUICK first: a case's own --set must win.
    code, err = run_cli(capsys, ["build", *QUICK, *args, "--out", str(out)])
    assert_one_line_error(code, err, expect)
    assert not out.exists(), "a failed build left its output folder"


def test_at_least_30_distinct_cases():
    assert len(CASES) >= 30


def test_output_folder_is_a_file(tmp_path, capsys):
    out = write(tmp_path / "out", "precious\n")
    code, err = run_cli(capsys, ["build", "--out", str(out), *QUICK])
    assert_one_line_error(code, err, "is a file")
    assert out.read_text() == "precious\n"


def test_output_folder_not_writable(tmp_path, capsys):
    # Tests run as root, which ignores permission bits: /proc refuses new folders even to root.
    out = Path("/proc/edgekd-reliability-out")
    code, err = run_cli(capsys, ["build", "--out", str(out), *QUICK])
    assert_one_line_error(code, err, "/proc")
    assert not out.exists()


def test_existing_output_folder_keeps_its_files(tmp_path, capsys):
    out = tmp_path / "out"
    keep = write(out / "notes.txt", "mine\n")
    code, err = run_cli(capsys, ["build", "--out", str(out), "--target", "nope", *QUICK])
    assert_one_line_error(code, err, "unknown target")
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt"] and keep.read_text() == "mine\n"


def test_disk_full_is_bad_input(tmp_path, capsys, monkeypatch):
    from edgekd import atomic

    def full(path, data):
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(atomic, "_write_file", full)
    out = tmp_path / "out"
    code, err = run_cli(capsys, ["build", "--out", str(out), *TRAIN])
    line = assert_one_line_error(code, err, "disk full at")
    assert "free space or pass --out elsewhere" in line and str(out) in line
    assert not out.exists()


def test_nan_loss_names_step_and_cause(tmp_path, capsys):
    code, err = run_cli(capsys, ["build", "--out", str(tmp_path / "o"), *TRAIN, "--set", "distill.lr=1e30"])
    line = assert_one_line_error(code, err, "loss became")
    assert re.search(r"epoch \d+, step \d+", line) and "learning rate" in line, line


def test_debug_shows_the_traceback(tmp_path, capsys):
    code, err = run_cli(capsys, ["--debug", "build", "--out", str(tmp_path / "o"), "--target", "nope"])
    assert code == 2 and "Traceback" in err and "error: unknown target" in err


@pytest.mark.parametrize("args,expect", [
    (["--target", "raspbery-pi-4"], "unknown target"),
    (["--set", "distill.temprature=3"], "temprature"),
    (["--set", "distill.epochs"], "key.path=value"),
])
def test_real_command_prints_one_line(tmp_path, args, expect):
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, "-m", "edgekd.cli", "build", "--out", str(out), *args],
                          capture_output=True, text=True, timeout=120)
    lines = [x for x in proc.stderr.splitlines() if x.strip()]
    assert proc.returncode == 2 and len(lines) == 1, proc.stderr
    assert expect in lines[0] and " — fix: " in lines[0]
    assert not out.exists()


def test_empty_model_file_via_real_command(tmp_path):
    empty = write(tmp_path / "t.onnx", b"")
    cfg = str(write(tmp_path / "c.yaml", yaml.safe_dump({"teacher": {"kind": "onnx", "path": str(empty)}})))
    proc = subprocess.run([sys.executable, "-m", "edgekd.cli", "build", cfg, "--out", str(tmp_path / "o")],
                          capture_output=True, text=True, timeout=120)
    lines = [x for x in proc.stderr.splitlines() if x.strip() and not PROGRESS.match(x)]
    assert proc.returncode == 2 and len(lines) == 1 and "empty" in lines[0], proc.stderr
    assert "Traceback" not in proc.stderr and not (tmp_path / "o").exists()
