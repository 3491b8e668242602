"""A build on a profile with measured runtime models predicts each artifact with its runtime's model."""

from __future__ import annotations

import yaml

import edgekd
from edgekd.targets import load_target

from .test_runtime_model import _model_dict


def test_build_uses_the_runtime_model_of_each_artifact(tmp_path):
    data = load_target("raspberry-pi-4").model_dump(mode="json")
    data["latency_models"] = {"onnxruntime": {"fp32": _model_dict(), "int8": _model_dict()}}
    board = tmp_path / "board.yaml"
    board.write_text(yaml.safe_dump(data))
    result = edgekd.build(None, target=str(board), out_dir=tmp_path / "out",
                          overrides=["teacher.epochs=1", "distill.epochs=1", "export.formats=[onnx]",
                                     "bench.latency_mode=off"])
    methods = {m["name"]: m["latency_ms"]["predicted"]["method"] for m in result.report["models"]
               if m["latency_ms"]["predicted"]}
    onnx = {m["name"] for m in result.report["models"] if m["format"] == "onnx"}
    assert onnx and all(methods[name] == "runtime-model:onnxruntime" for name in onnx)
    # The others have no runtime model: the profile's own predictor (its device facts: the device model).
    assert all(method == "device-model:onnxruntime" for name, method in methods.items() if name not in onnx)
    assert "the runtime models measured on it (onnxruntime model for" in (result.out_dir / "report.md").read_text()
