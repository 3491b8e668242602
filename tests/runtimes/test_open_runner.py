"""open_runner: formats, Core ML on Linux, corrupt files, and that imports stay light."""

from __future__ import annotations

import subprocess
import sys

import pytest

from edgekd.errors import BadInputError, ConfigError, EdgekdError, ModelFileError
from edgekd.runtimes import open_runner


def test_coreml_is_a_clear_error(tmp_path):
    with pytest.raises(EdgekdError, match="macOS") as err:
        open_runner(tmp_path / "m.mlpackage", "coreml", 1)
    assert isinstance(err.value, BadInputError) and err.value.fix


def test_unknown_format_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="'pb'"):
        open_runner(tmp_path / "m.pb", "pb", 1)


@pytest.mark.parametrize("how", ["empty", "truncated", "garbage", "missing"])
def test_corrupt_onnx_raises_model_file_error(exports, tmp_path, how):
    _check_bad_file(exports["onnx"], "onnx", "ONNX", tmp_path, how)


@pytest.mark.slow
@pytest.mark.parametrize("how", ["empty", "truncated", "garbage", "missing"])
def test_corrupt_tflite_raises_model_file_error(tflite_exports, tmp_path, how):
    _check_bad_file(tflite_exports["fp32"], "tflite", "TFLite", tmp_path, how)


def _check_bad_file(good, fmt, label, tmp_path, how):
    data = good.read_bytes()
    bad = tmp_path / f"bad-{how}.{fmt}"
    if how != "missing":
        bad.write_bytes({"empty": b"", "truncated": data[: len(data) // 2], "garbage": b"not a model " * 20}[how])
    with pytest.raises(ModelFileError) as err:
        open_runner(bad, fmt, 1)
    text = str(err.value)
    assert str(bad) in text and label in text and err.value.fix
    assert "\n" not in text  # one line, no runtime log dump


def test_importing_runtimes_loads_no_backend():
    code = ("import sys, edgekd, edgekd.runtimes, edgekd.measure.calibration, edgekd.measure.latency, "
            "edgekd.measure.parity; heavy = {'ai_edge_litert', 'tensorflow', 'litert_torch', 'onnxruntime', "
            "'coremltools'} & set(sys.modules); print(sorted(heavy))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
