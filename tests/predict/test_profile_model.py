"""`edgekd profile` / `edgekd.profile()`: an existing .onnx/.tflite costed on the profiles, no distillation."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import pytest
import torch
from torch import nn

import edgekd
from edgekd import cli
from edgekd.targets import list_targets

# conv 3->8 3x3 on 16x16 (same padding), then dense 8->4: hand-computed MACs.
MACS = 16 * 16 * 8 * 3 * 9 + 8 * 4
PARAMS = 8 * 3 * 9 + 8 + 8 * 4 + 4
MODEL_KEYS = {"path", "format", "precision", "params", "macs", "size_bytes", "memory"}
ROW_KEYS = {"target", "precision", "threads", "p50_ms", "low_ms", "high_ms", "supported", "notes"}


class _Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1)
        self.fc = nn.Linear(8, 4)

    def forward(self, x):
        return self.fc(torch.relu(self.conv(x)).mean((2, 3)))


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> dict[str, Path]:
    import litert_torch

    folder = tmp_path_factory.mktemp("profile")
    torch.manual_seed(0)
    net = _Net().eval()
    sample = torch.randn(1, 3, 16, 16)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(net, (sample,), str(folder / "net.onnx"), dynamo=False, opset_version=17,
                          input_names=["x"], output_names=["y"])
    litert_torch.convert(net, (sample,)).export(str(folder / "net.tflite"))
    (folder / "broken.tflite").write_bytes((folder / "net.tflite").read_bytes()[:300])
    (folder / "broken.onnx").write_bytes(b"not an onnx model at all")
    return {"onnx": folder / "net.onnx", "tflite": folder / "net.tflite", "broken-tflite": folder / "broken.tflite",
            "broken-onnx": folder / "broken.onnx"}


def run_cli(capsys, argv: list[str]) -> tuple[int, str, str]:
    capsys.readouterr()
    code = 0
    try:
        cli.main(argv)
    except SystemExit as exc:  # main exits only on errors
        code = exc.code or 0
    out = capsys.readouterr()
    return code, out.out, out.err


def test_tflite_on_every_profile(models):
    result = edgekd.profile(models["tflite"], all_targets=True, measure_host=False)
    model = result["model"]
    assert MODEL_KEYS <= set(model) and model["format"] == "tflite" and model["precision"] == "fp32"
    assert (model["macs"], model["params"]) == (MACS, PARAMS)
    assert model["size_bytes"] == models["tflite"].stat().st_size
    assert model["memory"]["weights_bytes"] >= 4 * (PARAMS - 8) and model["memory"]["peak_activation_bytes"] > 0
    assert [r["target"] for r in result["predictions"]] == [p.name for p in list_targets()]
    for row in result["predictions"]:
        assert set(row) == ROW_KEYS
        assert 0 < row["low_ms"] <= row["p50_ms"] <= row["high_ms"], row
    # An MCU profile without FP32 kernels cannot run the float model as it is, and says so.
    mcu = next(r for r in result["predictions"] if r["target"] == "stm32h7a3")
    assert not mcu["supported"] and any("no fp32" in n for n in mcu["notes"])
    assert result["model"]["memory"]["tflm_arena_bytes"] > 0  # measured in the TFLite Micro interpreter


def test_onnx_on_one_mcu_from_the_cli_as_json(models, capsys):
    code, out, err = run_cli(capsys, ["profile", str(models["onnx"]), "--target", "stm32h7a3", "--json"])
    assert code == 0, err
    result = json.loads(out)
    model = result["model"]
    assert model["format"] == "onnx" and (model["macs"], model["params"]) == (MACS, PARAMS)
    assert model["host_latency_ms"]["p50"] > 0 and model["host_latency_ms"]["runtime"] == "onnxruntime"
    [row] = result["predictions"]
    assert row["target"] == "stm32h7a3" and row["threads"] == 1 and row["p50_ms"] > 0


def test_threads_change_the_phone_prediction(models):
    one = edgekd.profile(models["onnx"], ["pixel-8"], threads=1, measure_host=False)["predictions"][0]
    four = edgekd.profile(models["onnx"], ["pixel-8"], threads=4, measure_host=False)["predictions"][0]
    assert (one["threads"], four["threads"]) == (1, 4)
    assert four["p50_ms"] != one["p50_ms"]


def test_int8_tflite_is_costed_as_int8(tmp_path):
    import numpy as np
    import tensorflow as tf

    keras = tf.keras
    model = keras.Sequential([keras.Input((16, 16, 3)), keras.layers.Conv2D(8, 3, padding="same", activation="relu"),
                              keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(4)])
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = lambda: ([np.random.default_rng(i).random((1, 16, 16, 3), np.float32)]
                                                for i in range(8))
    path = tmp_path / "int8.tflite"
    path.write_bytes(converter.convert())
    result = edgekd.profile(path, ["stm32h7a3"], measure_host=False)
    assert result["model"]["precision"] == "int8" and result["model"]["macs"] == MACS
    assert result["predictions"][0]["supported"] and result["predictions"][0]["precision"] == "int8"


@pytest.mark.parametrize("which", ["broken-tflite", "broken-onnx", "missing", "keras"])
def test_bad_model_file_exits_2_with_one_line(which, models, capsys, tmp_path):
    path = {"missing": tmp_path / "none.onnx", "keras": tmp_path / "m.keras"}.get(which) or models[which]
    if which == "keras":
        path.write_bytes(b"PK")
    code, _out, err = run_cli(capsys, ["profile", str(path), "--all-targets"])
    lines = [line for line in err.splitlines() if line.startswith("error")]
    assert code == 2 and len(lines) == 1 and " — fix: " in lines[0], err
    assert "Traceback" not in err and "internal error" not in err
