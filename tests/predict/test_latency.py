"""Roofline latency prediction and the quick host calibration."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from edgekd.errors import TargetError
from edgekd.predict.graph import op_costs
from edgekd.predict.latency import predict_latency
from edgekd.targets import load_target, profile_from_dict, targets_dir


def _roofline_only(name: str):
    """A shipped profile without its ``device:`` facts: costed by the roofline, as profiles without them are."""
    import yaml

    data = yaml.safe_load((targets_dir() / f"{name}.yaml").read_text())
    data.pop("device", None)
    return profile_from_dict(data, name)


def _conv_model(tmp_path, qdq=False):
    """x[batch,16,32,32] -> conv3x3(32) -> relu -> GAP -> flatten -> gemm(10), optionally QDQ INT8."""
    inits = [numpy_helper.from_array(np.full((32, 16, 3, 3), 0.01, np.float32), "w"),
             numpy_helper.from_array(np.full((10, 32), 0.01, np.float32), "fc")]
    x_in, w_in = "x", "w"
    nodes = []
    if qdq:
        inits = [numpy_helper.from_array(np.ones((32, 16, 3, 3), np.int8), "wq"), inits[1],
                 numpy_helper.from_array(np.array(0.1, np.float32), "s"),
                 numpy_helper.from_array(np.array(0, np.int8), "z")]
        nodes += [helper.make_node("QuantizeLinear", ["x", "s", "z"], ["xq"]),
                  helper.make_node("DequantizeLinear", ["xq", "s", "z"], ["xd"]),
                  helper.make_node("DequantizeLinear", ["wq", "s", "z"], ["wd"])]
        x_in, w_in = "xd", "wd"
    nodes += [helper.make_node("Conv", [x_in, w_in], ["c"], pads=[1, 1, 1, 1], name="conv"),
              helper.make_node("Relu", ["c"], ["r"]),
              helper.make_node("GlobalAveragePool", ["r"], ["g"], name="gap"),
              helper.make_node("Flatten", ["g"], ["f"]),
              helper.make_node("Gemm", ["f", "fc"], ["y"], transB=1, name="fc")]
    graph = helper.make_graph(nodes, "g",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 16, 32, 32])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 10])], initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    path = tmp_path / ("int8.onnx" if qdq else "fp32.onnx")
    onnx.save(model, path)
    return path


@pytest.mark.parametrize("name", ["host", "raspberry-pi-4", "pixel-8", "iphone-15-pro", "jetson-orin-nano"])
def test_bounds_are_ordered(tmp_path, name):
    profile = load_target(name)
    for precision in profile.precisions:
        pred = predict_latency(_conv_model(tmp_path, qdq=precision == "int8"), profile, precision)
        assert 0 < pred["low"] <= pred["p50"] <= pred["high"]
        assert len(pred["per_op"]) == 3  # conv, gap, gemm: relu fused, flatten a view, Q/DQ folded
        if pred["method"] == "roofline":
            assert sum(pred["bound_counts"].values()) == len(pred["per_op"])
        else:  # profiles with device facts: the device model, with its band said in words
            assert pred["method"].startswith("device-model:") and pred["band"]


def test_p50_is_the_hand_computed_roofline(tmp_path):
    profile = _roofline_only("raspberry-pi-4")
    path = _conv_model(tmp_path)
    eff, bw = profile.efficiency, profile.memory.bandwidth_bytes_per_s
    expected = 0.0
    for cost in (c for c in op_costs(path) if not c.folded):
        band = getattr(eff, cost.op_class).fp32
        compute = (cost.macs or cost.ops) / (24e9 * band.mid)  # 4 cores x 1.5 GHz x 4 MAC
        memory = (cost.bytes_read + cost.bytes_written) / (bw * eff.memory.mid)
        expected += max(compute, memory) + profile.op_overhead_s
    pred = predict_latency(path, profile, "fp32")
    assert pred["p50"] == pytest.approx(expected * 1e3)
    assert pred["macs"] == 32 * 32 * 32 * 16 * 9 + 10 * 32


def test_lower_precision_is_predicted_faster_where_the_device_has_it(tmp_path):
    path = _conv_model(tmp_path)
    pi5 = _roofline_only("raspberry-pi-5")  # native fp16 (2x) and SDOT int8 (4x)
    fp32, fp16 = (predict_latency(path, pi5, p)["p50"] for p in ("fp32", "fp16"))
    int8 = predict_latency(_conv_model(tmp_path, qdq=True), pi5, "int8")
    assert fp16 < fp32 and int8["p50"] < fp32
    assert {op["precision"] for op in int8["per_op"] if op["op_type"] == "Conv"} == {"int8"}
    pi4 = _roofline_only("raspberry-pi-4")  # no fp16: same rate as fp32 (only bytes shrink)
    assert predict_latency(path, pi4, "fp16")["p50"] <= predict_latency(path, pi4, "fp32")["p50"]


def test_mcu_runs_single_threaded(tmp_path):
    esp = load_target("esp32-s3")
    pred = predict_latency(_conv_model(tmp_path, qdq=True), esp, "int8")
    assert pred["peak_macs_per_s"]["int8"] == pytest.approx(240e6 * 16)
    assert pred["p50"] > predict_latency(_conv_model(tmp_path, qdq=True), load_target("host"), "int8")["p50"]


def test_unknown_precision_is_a_target_error(tmp_path):
    with pytest.raises(TargetError):
        predict_latency(_conv_model(tmp_path), load_target("host"), "int4")


def test_quick_calibration_returns_a_valid_profile(tmp_path):
    from edgekd.fitting.microbench import fit_host, write_profile

    base = load_target("host")
    profile = fit_host(base, threads=1, quick=True)
    assert profile.runtime.threads == 1
    assert profile.op_overhead_s > 0 and profile.memory.bandwidth_bytes_per_s > 0
    assert profile.efficiency.conv.fp32.mid != base.efficiency.conv.fp32.mid  # measured, not the prior
    for cls in ("conv", "depthwise", "pointwise", "gemm", "elementwise", "pool"):
        band = getattr(profile.efficiency, cls).fp32
        assert 0 < band.low <= band.mid <= band.high <= 1
    path = write_profile(profile, tmp_path / "host-measured.yaml")
    assert path.read_text().startswith("# Measured by edgekd")
    again = load_target(str(path))
    assert again.efficiency == profile.efficiency
    assert predict_latency(_conv_model(tmp_path), again, "fp32")["p50"] > 0
