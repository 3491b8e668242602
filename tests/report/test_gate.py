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
    assert (got["ece_increase_vs_teacher"]["value"] == pytest.approx(0.04)
            and not got["ece_increase_vs_teacher"]["passed"])
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


def test_noisy_host_latency_is_not_judged_and_does_not_fail_the_build():
    profile = _profile("host", max_latency_p90_ms=20.0)
    noisy = _model("student-int8.onnx", "onnx", "int8", host_p90=21.64)
    noisy.metrics["latency_ms"]["host"].update(noisy=True, noise=["CV 0.61 > 0.25"], runs=200)
    entry = _by_metric(judge([ARTIFACTS[0], noisy], profile, [])[1])["latency_p90_ms (measured on host)"]
    assert entry["passed"] is True and entry["judged"] is False
    assert entry["note"] == "not judged: noisy (CV 0.61 > 0.25)" and entry["value"] == 21.64


def test_host_latency_from_fewer_than_10_runs_is_not_judged():
    profile = _profile("host", max_latency_p90_ms=20.0)
    one_run = _model("student-int8.onnx", "onnx", "int8", host_p90=25.0)
    one_run.metrics["latency_ms"]["host"].update(noisy=False, runs=1)  # a report from before the runs rule
    entry = _by_metric(judge([ARTIFACTS[0], one_run], profile, [])[1])["latency_p90_ms (measured on host)"]
    assert entry["judged"] is False and "1 timed run < 10" in entry["note"]
    quiet = _model("student-int8.onnx", "onnx", "int8", host_p90=25.0)
    quiet.metrics["latency_ms"]["host"].update(noisy=False, runs=300)
    entry = _by_metric(judge([ARTIFACTS[0], quiet], profile, [])[1])["latency_p90_ms (measured on host)"]
    assert entry["judged"] is True and entry["passed"] is False  # a clean miss still fails


DIGITS = {"classes": [str(i) for i in range(10)], "samples": {"test": 360}}


def test_a_model_at_chance_fails_the_gate_whatever_its_budgets():
    profile = _profile(min_top1=None, max_top1_drop=None)
    at_chance = [_model("teacher", "torch", "fp32", role="teacher", top1=0.95),
                 _model("student-int8.onnx", "onnx", "int8", top1=0.12)]
    entries = _by_metric(judge(at_chance, profile, [], DIGITS)[1])
    line = entries["top1_above_chance"]
    # 10 balanced classes on 360 test samples: better than chance needs 47 correct (13.06%)
    assert line["limit"] == pytest.approx(47 / 360) and line["value"] == 0.12 and not line["passed"]
    assert line["source"] == "chance" and line["unit"] == "fraction"
    assert entries["teacher_top1_above_chance"]["passed"]
    fine = [at_chance[0], _model("student-int8.onnx", "onnx", "int8", top1=0.90)]
    assert _by_metric(judge(fine, profile, [], DIGITS)[1])["top1_above_chance"]["passed"]
    assert "top1_above_chance" not in _by_metric(judge(fine, profile, [])[1])  # no data summary: no line


def test_chance_is_the_most_frequent_test_class_from_the_confusion_matrix():
    # 3 classes, 60 test samples, 40 of them class 0: guessing "0" scores 66.7%.
    matrix = {"labels": ["a", "b", "c"], "counts": [[40, 0, 0], [10, 0, 0], [10, 0, 0]]}
    student = _model("student-int8.onnx", "onnx", "int8", top1=40 / 60, confusion_matrix=matrix)
    data = {"classes": ["a", "b", "c"], "samples": {"test": 60}}
    line = _by_metric(judge([ARTIFACTS[0], student], _profile(), [], data)[1])["top1_above_chance"]
    assert not line["passed"] and line["limit"] > 2 / 3


def test_every_entry_has_a_unit():
    _, entries = judge(ARTIFACTS, _profile(min_top1=0.5, max_ece=0.1), [], DIGITS)
    units = {e["metric"]: e["unit"] for e in entries}
    assert units["top1"] == units["top1_drop_vs_teacher"] == "fraction" and units["ece"] == "ece"
    assert units["model_bytes"] == "bytes" and units["failed_conversions"] == "count"
    assert units["latency_p90_ms (predicted upper bound)"] == "ms"
