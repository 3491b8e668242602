"""The device cost model's features, each on a hand-worked tiny graph.

The expected values are computed here from the formulas in ``edgekd/predict/device_model.py``
with explicit coefficients, so each test checks one feature: grouped convolutions padded per
group, thread scaling with parallel efficiency over big.LITTLE clusters, the Edge TPU parameter
cache overflowing into link streaming, INT8 gaining per op class, flash wait states.
"""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from edgekd.predict import device_model as dm
from edgekd.predict.device_coefficients import PRIORS
from edgekd.predict.device_ops import CLASSES, build_op_arrays
from edgekd.predict.device_predict import evaluate, op_arrays_for, predict_on_device
from edgekd.predict.layers import costs_with_shapes
from edgekd.targets import load_target


def _prior(family: str) -> dict:
    return {name: value for name, (value, _sigma) in PRIORS[family].items()}


def _conv_graph(tmp_path, cin=16, cout=16, groups=1, k=3, hw=32, qdq=False, name="g"):
    """x[1,cin,hw,hw] -> conv(k, groups) -> y, optionally with int8 QDQ on input and weight."""
    w = np.full((cout, cin // groups, k, k), 0.01, np.float32)
    inits, nodes, x_in, w_in = [numpy_helper.from_array(w, "w")], [], "x", "w"
    if qdq:
        inits = [numpy_helper.from_array(np.ones(w.shape, np.int8), "wq"),
                 numpy_helper.from_array(np.array(0.1, np.float32), "s"),
                 numpy_helper.from_array(np.array(0, np.int8), "z")]
        nodes += [helper.make_node("QuantizeLinear", ["x", "s", "z"], ["xq"]),
                  helper.make_node("DequantizeLinear", ["xq", "s", "z"], ["xd"]),
                  helper.make_node("DequantizeLinear", ["wq", "s", "z"], ["wd"])]
        x_in, w_in = "xd", "wd"
    nodes.append(helper.make_node("Conv", [x_in, w_in], ["y"], pads=[k // 2] * 4, group=groups, name="conv"))
    graph = helper.make_graph(nodes, name, [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, cin, hw, hw])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, cout, hw, hw])],
                              initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    path = tmp_path / f"{name}.onnx"
    onnx.save(model, path)
    return path


def test_grouped_conv_is_its_own_class_and_pays_per_group_padding(tmp_path):
    rows = costs_with_shapes(_conv_graph(tmp_path, cin=32, cout=32, groups=8, k=3, hw=16, name="grouped"))
    conv = next(r for r in rows if not r.folded)
    assert conv.shape.groups == 8 and conv.shape.grouped
    ops = build_op_arrays(rows, "fp32", lambda p: (8, 1, 4))
    assert CLASSES[ops.cls[0]] == "grouped"
    # 4 output channels per group padded to the 8-wide tile: twice the MACs.
    assert ops.padded_macs[0] == pytest.approx(2 * conv.macs)
    pi4 = load_target("raspberry-pi-4")
    coef = _prior("litert")
    run = dm.cpu_run(ops, pi4.device, pi4.memory.bandwidth_bytes_per_s, 1)
    expected_compute = 2 * conv.macs / (4 * coef["e_grouped_fp32"]) + 16 * 16 * 32 * coef["out_cycles_fp32"]
    seconds = dm.cpu_op_seconds(ops, run, coef)[0]
    assert seconds == pytest.approx(expected_compute / 1.5e9 + coef["op_cycles"] / 1.5e9, rel=1e-9)
    # The same MACs as a dense conv (cin 4, no groups) cost less: no padding waste, the dense-conv rate.
    dense = build_op_arrays(costs_with_shapes(_conv_graph(tmp_path, cin=4, cout=32, k=3, hw=16, name="dense")),
                            "fp32", lambda p: (8, 1, 4))
    assert dense.macs[0] == conv.macs
    assert dm.cpu_op_seconds(dense, dm.cpu_run(dense, pi4.device, 12.8e9, 1), coef)[0] < seconds


def test_threads_scale_with_parallel_efficiency_on_the_fastest_cores_first(tmp_path):
    pixel4 = load_target("pixel-4")
    names = [c.name for c in pixel4.device.cores_for(5)]
    assert names == ["Cortex-A76 (prime)"] + ["Cortex-A76"] * 3 + ["Cortex-A55"]
    ops = op_arrays_for(costs_with_shapes(_conv_graph(tmp_path, cin=64, cout=64, hw=56)), pixel4, "fp32", "litert")
    coef = {**_prior("litert"), "op_cycles": 0.0, "sync_cycles": 0.0, "onchip_bytes_per_cycle": 1e6,
            "dram_efficiency": 1e3}  # compute-bound, no overheads: only the thread scaling is left
    one = dm.cpu_op_seconds(ops, dm.cpu_run(ops, pixel4.device, 34e9, 1), coef)[0]
    four = dm.cpu_op_seconds(ops, dm.cpu_run(ops, pixel4.device, 34e9, 4), coef)[0]
    capacity = (2.84 + 3 * 2.42) / 2.84  # three slower A76 cores join the prime core
    assert one / four == pytest.approx(1 + coef["par_fp32"] * (capacity - 1))
    assert one / four < capacity  # not linear
    five = dm.cpu_op_seconds(ops, dm.cpu_run(ops, pixel4.device, 34e9, 5), coef)[0]
    little = 1.8 * 2 / (2.84 * 8)  # a Cortex-A55 adds ~16% of the prime core's fp32 rate
    assert one / five == pytest.approx(1 + coef["par_fp32"] * (capacity + little - 1))


def _fc_graph(tmp_path, features_in: int, features_out: int, name: str):
    """x[1, n] -> int8 QDQ Gemm with an int8 weight of features_out x features_in bytes."""
    inits = [numpy_helper.from_array(np.ones((features_out, features_in), np.int8), "wq"),
             numpy_helper.from_array(np.array(0.1, np.float32), "s"),
             numpy_helper.from_array(np.array(0, np.int8), "z")]
    nodes = [helper.make_node("QuantizeLinear", ["x", "s", "z"], ["xq"]),
             helper.make_node("DequantizeLinear", ["xq", "s", "z"], ["xd"]),
             helper.make_node("DequantizeLinear", ["wq", "s", "z"], ["wd"]),
             helper.make_node("Gemm", ["xd", "wd"], ["y"], transB=1, name="fc")]
    graph = helper.make_graph(nodes, name, [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, features_in])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, features_out])],
                              initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, tmp_path / f"{name}.onnx")
    return tmp_path / f"{name}.onnx"


def test_edgetpu_parameters_beyond_the_cache_stream_over_the_link(tmp_path):
    coral = load_target("coral-dev-board")
    coef = _prior("edgetpu")
    cache = coral.device.edgetpu.parameter_cache_bytes
    small = op_arrays_for(costs_with_shapes(_fc_graph(tmp_path, 1000, 2000, "small")), coral, "int8", "edgetpu")
    big = op_arrays_for(costs_with_shapes(_fc_graph(tmp_path, 1000, 12000, "big")), coral, "int8", "edgetpu")
    _, small_fixed, small_info = evaluate(small, coral, "edgetpu", 1, coef)
    big_seconds, big_fixed, big_info = evaluate(big, coral, "edgetpu", 1, coef)
    assert small_info["streamed_bytes"] == 0  # 2 MB of weights fit the ~8 MB cache
    assert big_info["streamed_bytes"] == pytest.approx(12_000_000 - cache)  # 12 MB: the rest streams every call
    link = 500e6 * coef["link_efficiency"]
    assert big_fixed - small_fixed == pytest.approx((12_000_000 - cache) / link)
    assert big_info["mapped_ops"] == 1 and big_info["cpu_fallback_ops"] == 0


def test_edgetpu_unsupported_op_falls_back_to_the_cpu_with_everything_after_it():
    ops = build_op_arrays([], "int8", lambda p: (16, 4, 16))
    ops.op_types, ops.int8 = ["Conv", "HardSwish", "Conv"], np.array([True, True, True])
    mapped = dm.edgetpu_mapped(ops, ["Conv2d", "Relu"])
    assert mapped.tolist() == [True, False, False]


def test_int8_gains_more_on_dense_convs_than_on_depthwise_ones(tmp_path):
    pi4 = load_target("raspberry-pi-4")
    coef = _prior("litert")

    def ratio(groups: int, cin: int, cout: int, name: str) -> float:
        seconds = {}
        for precision in ("fp32", "int8"):
            rows = costs_with_shapes(_conv_graph(tmp_path, cin=cin, cout=cout, groups=groups, hw=28,
                                                 qdq=precision == "int8", name=f"{name}{precision}"))
            ops = op_arrays_for(rows, pi4, precision, "litert")
            assert bool(ops.int8[0]) is (precision == "int8")
            seconds[precision] = dm.cpu_op_seconds(ops, dm.cpu_run(ops, pi4.device, 12.8e9, 1), coef)[0]
        return seconds["int8"] / seconds["fp32"]

    dense, depthwise = ratio(1, 128, 128, "dense"), ratio(128, 128, 128, "dw")
    assert dense < 0.7  # int8 has twice the A72's fp32 rate (at a lower kernel efficiency) and a quarter of the bytes
    assert depthwise > dense  # 9 MACs per output: the per-output requantization dominates
    # Hand-worked dense ratio: compute-bound on both, per-output work included.
    macs, outs = 28 * 28 * 128 * 128 * 9, 28 * 28 * 128
    fp32 = macs / (4 * coef["e_conv_fp32"]) + outs * coef["out_cycles_fp32"] + coef["op_cycles"]
    int8 = macs / (8 * coef["e_conv_int8"]) + outs * coef["out_cycles_int8"] + coef["op_cycles"]
    assert dense == pytest.approx(int8 / fp32, rel=1e-9)


def test_mcu_weights_in_flash_pay_wait_states(tmp_path):
    h7 = load_target("stm32h7a3")
    coef = _prior("tflite-micro")
    ops = op_arrays_for(costs_with_shapes(_conv_graph(tmp_path, cin=8, cout=16, hw=8, qdq=True)), h7, "int8",
                        "tflite-micro")
    # CMSIS-NN reloads the conv's weights for every pair of output pixels: 32 passes over them.
    assert ops.weight_reads[0] == pytest.approx(ops.weight_bytes[0] * 32)
    in_flash = dm.mcu_op_seconds(ops, dm.mcu_run(ops, h7.device, True, "tflite-micro"), coef)[0]
    in_ram = dm.mcu_op_seconds(ops, dm.mcu_run(ops, h7.device, False, "tflite-micro"), coef)[0]
    stall = ops.weight_reads[0] * coef["flash_stall"] * (6 + 1) / 16  # 6 wait states, 16-byte flash reads
    assert in_flash - in_ram == pytest.approx(stall / 280e6)
    xcube = dm.mcu_op_seconds(ops, dm.mcu_run(ops, h7.device, True, "x-cube-ai"), coef)[0]
    assert in_flash / xcube == pytest.approx(coef["xcube_speedup"])


def test_each_xcube_release_has_its_own_factor_and_unfitted_ones_take_the_nearest_older(tmp_path):
    h7 = load_target("stm32h7a3")
    coef = {**_prior("tflite-micro"), dm.xcube_release_key(7.1): 1.5, dm.xcube_release_key(9.0): 0.8}
    ops = op_arrays_for(costs_with_shapes(_conv_graph(tmp_path, cin=8, cout=16, hw=8, qdq=True)), h7, "int8",
                        "x-cube-ai")

    def seconds(version):
        return dm.mcu_op_seconds(ops, dm.mcu_run(ops, h7.device, True, "x-cube-ai", version), coef)[0]

    reference = seconds(None)  # the reference release (10.0): factor 1
    assert seconds(7.1) / reference == pytest.approx(1.5) and seconds(9.0) / reference == pytest.approx(0.8)
    # Releases the fit never saw: the nearest older fitted one, the oldest for anything before it.
    assert seconds(8.1) == seconds(7.1) and seconds(9.5) == seconds(9.0) and seconds(6.0) == seconds(7.1)
    assert seconds(10.0) == reference == seconds(11.0)  # nothing validated beyond the reference
    tflm = dm.mcu_op_seconds(ops, dm.mcu_run(ops, h7.device, True, "tflite-micro", 7.1), coef)[0]
    assert tflm / reference == pytest.approx(coef["xcube_speedup"])  # the release only moves X-CUBE-AI
    fixed = dm.mcu_fixed_seconds(280e6, True, coef, 7.3) / dm.mcu_fixed_seconds(280e6, True, coef)
    assert fixed == pytest.approx(1.5)
    # Coefficients fitted without any 10.0 row record 9.0 as their reference: 10.0 is costed as 9.0.
    coef["xcube_reference"] = 9.0
    assert seconds(10.0) == seconds(9.0) == seconds(None)


def test_predict_on_device_reports_method_threads_and_band(tmp_path):
    pi4 = load_target("raspberry-pi-4")
    rows = costs_with_shapes(_conv_graph(tmp_path))
    pred = predict_on_device(rows, pi4, "fp32", runtime="litert", threads=2)
    assert pred["method"] == "device-model:litert" and pred["threads"] == 2
    assert 0 < pred["low"] <= pred["p50"] <= pred["high"] and pred["band"]
    assert predict_on_device(rows, pi4, "fp32", runtime="litert", threads=4)["p50"] < pred["p50"]
    mcu = predict_on_device(rows, load_target("stm32h7a3"), "int8", threads=4)
    assert mcu["threads"] == 1 and mcu["method"] == "device-model:tflite-micro"
