"""bench-compress's per-node ONNX Runtime profile: layer kinds, a real profile of a tiny model, the line."""

from __future__ import annotations

import numpy as np
import pytest


@pytest.mark.parametrize("op_type, group, dims, kind", [
    ("QLinearConv", 1, [48, 1, 10, 4], "conv, 1 input channel"),
    ("Conv", 48, [48, 1, 3, 3], "depthwise conv"),
    ("Conv", 1, [48, 48, 1, 1], "pointwise conv"),
    ("Conv", 1, [48, 16, 3, 3], "other conv"),
    ("Conv", 2, [48, 8, 3, 3], "other conv"),  # grouped, not depthwise
    ("Gemm", 1, [10, 48], "everything else"),
    ("QuantizeLinear", 1, None, "everything else"),
])
def test_layer_kind(bench_module, op_type, group, dims, kind):
    assert bench_module("onnx_ops").layer_kind(op_type, group, dims) == kind


def test_profile_of_fp32_and_int8_counts_each_layer_of_a_ds_cnn(bench_module, tmp_path):
    import torch
    from torch import nn

    from edgekd.export.onnx import export_onnx
    from edgekd.quantize.ort_static import quantize_onnx_static

    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 8, (5, 3), stride=2, padding=1), nn.ReLU(),
                          nn.Conv2d(8, 8, 3, padding=1, groups=8), nn.ReLU(), nn.Conv2d(8, 8, 1), nn.ReLU(),
                          nn.Conv2d(8, 8, 3, padding=1, groups=8), nn.ReLU(), nn.Conv2d(8, 8, 1), nn.ReLU(),
                          nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 4))
    fp32 = export_onnx(model, (1, 20, 12), tmp_path / "fp32.onnx")
    calib = np.random.default_rng(0).standard_normal((16, 1, 20, 12)).astype(np.float32)
    int8 = quantize_onnx_static(fp32, tmp_path / "int8.onnx", calib)
    out = bench_module("onnx_ops").op_breakdown({"fp32": fp32, "int8": int8}, calib[:1], turns=2, burst=3)
    for label in ("fp32", "int8"):
        nodes = out[label]["nodes"]
        assert (nodes["conv, 1 input channel"], nodes["depthwise conv"], nodes["pointwise conv"]) == (1, 2, 2)
        assert "other conv" not in nodes
        assert out[label]["total_us"] == pytest.approx(sum(out[label]["kinds"].values()), abs=0.5)
        assert all(us > 0 for us in out[label]["kinds"].values())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fp32.onnx", "int8.onnx"]  # profiles stay in a temp dir


def test_breakdown_line(bench_module):
    fp32 = {"kinds": {"conv, 1 input channel": 36.0, "pointwise conv": 176.0, "everything else": 14.0},
            "total_us": 226.0}
    int8 = {"kinds": {"conv, 1 input channel": 70.0, "pointwise conv": 69.0, "everything else": 21.0},
            "total_us": 160.0}
    assert bench_module("onnx_ops").breakdown_line(fp32, int8) == (
        "conv, 1 input channel 36 -> 70 µs (1.94x); pointwise conv 176 -> 69 µs (0.39x); everything else "
        "14 -> 21 µs (1.50x); all nodes 226 -> 160 µs.")
