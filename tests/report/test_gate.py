"""The budget gate (what CI gates on), worked by hand on artifacts built in the test."""

from __future__ import annotations

import pytest

from edgekd.artifact import Artifact, choose_deployable
from edgekd.report.gate import judge, peak_ram_bytes
from edgekd.targets import load_target


def _model(name, fmt, precision, role="student", top1=0.90, ece=0.05, arena=1000, weights=4000, size=5000,
           host_p90=3.0, predicted_high=7.0, **extra) -> Artifact:
    metrics = {"size_bytes": size,
               "latency_ms": {"host": {"p90": host_p90}, "predicted": {"p50": 5.0, "low": 4.0, "high": predicted_high}},
               "memory": {"weights_bytes": weights, "peak_activation_bytes": arena}, **extra}
    if top1 is not None:
        metrics["accuracy"] = {"top1": top1}
        metrics["calibration"] = {"ece": ece}
    return Artifact(name=name, role=role, format=fmt, precision=precision, metrics=metrics)


def _profile(name="raspberry-pi-4", **budgets):
    profile = load_target(name)
    return profile.model_copy(update={"budgets": profile.budgets.model_copy(update=budgets)})


def _by_metric(entries):
    return {e["metric"]: e for e in entries}


ARTIFACTS = [
    _model("teacher", "torch", "fp32", role="teacher", top1=0.95, ece=0.02),
    _model("student", "torch", "fp32", top1=0.91),
    _model("student-fp32.onnx", "onnx", "fp32", top1=0.91),
    _model("student-int8.onnx", "onnx", "int8", top1=0.90, ece=0.06),
    _model("student-int8.tflite", "tflite", "int8", top1=0.89),
]


def test_deployable_is_the_targets_first_format_at_its_lowest_precision():
    pi4 = load_target("raspberry-pi-4")  # formats [onnx, tflite], int8 first
    assert choose_deployable(ARTIFACTS, pi4).name == f"student-int8.{pi4.formats[0]}"
    fp32_only = pi4.model_copy(update={"precisions": ["fp32"]})
    assert choose_deployable(ARTIFACTS, fp32_only).name == f"student-fp32.{pi4.formats[0]}"
    nothing_exported = [a for a in ARTIFACTS if a.format == "torch"]
    assert choose_deployable(nothing_exported, pi4).name == "student"  # the last torch student
    assert choose_deployable([ARTIFACTS[0]], pi4) is None  # teacher only


def test_each_budget_is_judged_on_the_chosen_model():
    profile = _profile(min_top1=0.90, max_top1_drop=0.04, max_ece=0.05, max_ece_increase_vs_teacher=0.03,
                       max_latency_p90_ms=7.0, max_model_bytes=5000, max_peak_ram_bytes=4999)
    chosen, entries = judge(ARTIFACTS, profile, [])
    assert chosen.name == "student-int8.onnx"
    got = _by_metric(entries)
    assert got["top1"]["value"] == 0.90 and got["top1"]["passed"]  # >= is a pass
    assert got["top1_drop_vs_teacher"]["value"] == pytest.approx(0.05) and not got["top1_drop_vs_teacher"]["passed"]
    assert got["ece"]["value"] == 0.06 and not got["ece"]["passed"]
    assert got["ece_increase_vs_teacher"]["value"] == pytest.approx(0.04) and not got["ece_increase_vs_teacher"]["passed"]
    # Not a host target: the predicted upper bound stands in for p90.
    latency = got["latency_p90_ms (predicted upper bound)"]
    assert latency["value"] == 7.0 and latency["passed"]
    assert got["model_bytes"]["passed"] and got["model_bytes"]["value"] == 5000
    # weights in RAM on a Pi: arena 1000 + weights 4000 = 5000 > 4999
    assert got["peak_ram_bytes"]["value"] == 5000 and not got["peak_ram_bytes"]["passed"]
    assert got["model_bytes_vs_device_storage"]["source"] == "device capacity"
    assert got["failed_conversions"]["passed"] and got["fp32_parity_failures"]["passed"]
    assert {e["model"] for e in entries} == {"student-int8.onnx"}


def test_host_targets_gate_on_measured_p90():
    _, entries = judge(ARTIFACTS, _profile("host", max_latency_p90_ms=2.5), [])
    latency = _by_metric(entries)["latency_p90_ms (measured on host)"]
    assert latency["value"] == 3.0 and not latency["passed"]


def test_mcu_weights_in_flash_are_not_ram():
    mcu = load_target("stm32h743")
    assert mcu.memory.weights_in == "flash"
    art = _model("student-int8.tflite", "tflite", "int8", arena=1000, weights=4000)
    assert peak_ram_bytes(art, mcu) == 1000
    assert peak_ram_bytes(art, load_target("raspberry-pi-4")) == 5000
    assert peak_ram_bytes(_model("x", "onnx", "int8", arena=None), mcu) is None


def test_unmeasured_values_fail_and_failures_are_counted():
    profile = _profile(min_top1=0.5)
    no_accuracy = [ARTIFACTS[0], _model("student-int8.onnx", "onnx", "int8", top1=None)]
    _, entries = judge(no_accuracy, profile, [{"format": "tflite", "op": "Cumprod", "error": "x"}])
    got = _by_metric(entries)
    assert got["top1"]["value"] is None and not got["top1"]["passed"]  # not measured is never a pass
    assert got["failed_conversions"]["value"] == 1 and not got["failed_conversions"]["passed"]
    parity_miss = [*ARTIFACTS, _model("student-fp32.tflite", "tflite", "fp32", parity={"passed": False})]
    assert not _by_metric(judge(parity_miss, profile, [])[1])["fp32_parity_failures"]["passed"]


def test_core_ml_accuracy_comes_from_a_measured_twin():
    """Core ML cannot run on Linux: its accuracy budget uses the same role and precision measured elsewhere."""
    apple = load_target("iphone-15-pro")
    coreml = _model(f"student-int8.{apple.formats[0]}", apple.formats[0], "int8", top1=None)
    arts = [ARTIFACTS[0], _model("student-int8.onnx", "onnx", "int8", top1=0.88), coreml]
    chosen, entries = judge(arts, _profile("iphone-15-pro", min_top1=0.8), [])
    assert chosen is coreml
    top1 = _by_metric(entries)["top1"]
    assert top1["value"] == 0.88 and top1["model"] == "student-int8.onnx"
