"""Gate entries added for bring-your-own teachers: the student/teacher MACs ratio, unmeasured host latency."""

from __future__ import annotations

from dataclasses import replace

from edgekd.artifact import Artifact
from edgekd.report.gate import judge
from edgekd.report.units import budget_status
from edgekd.targets import load_target


def _art(name, role, fmt, precision, macs, host=True):
    latency = {"host": {"p90": 2.0}} if host else {}
    return Artifact(name=name, role=role, format=fmt, precision=precision, macs=macs,
                    metrics={"accuracy": {"top1": 0.9}, "size_bytes": 1000, "latency_ms": latency,
                             "memory": {"weights_bytes": 100, "peak_activation_bytes": 100}})


def _profile(name, **budgets):
    profile = load_target(name)
    return profile.model_copy(update={"budgets": profile.budgets.model_copy(update=budgets)})


def _entry(entries, metric):
    return next(e for e in entries if e["metric"] == metric)


def test_student_macs_ratio_is_judged_against_the_teacher():
    arts = [_art("teacher", "teacher", "tflite", "fp32", 1000), _art("student", "student", "torch", "fp32", 600),
            _art("student-int8.onnx", "student", "onnx", "int8", 600)]
    arts[2] = replace(arts[2], parent="student")
    _, entries = judge(arts, _profile("raspberry-pi-4", max_student_macs_ratio=0.5), [])
    ratio = _entry(entries, "student_macs_ratio")
    assert ratio["value"] == 0.6 and not ratio["passed"]
    _, entries = judge(arts, _profile("raspberry-pi-4", max_student_macs_ratio=0.75), [])
    assert _entry(entries, "student_macs_ratio")["passed"]
    unknown = [_art("teacher", "teacher", "onnx", "fp32", None), *arts[1:]]
    entry = _entry(judge(unknown, _profile("raspberry-pi-4", max_student_macs_ratio=0.5), [])[1], "student_macs_ratio")
    assert entry["judged"] is False and entry["passed"] and "unknown" in budget_status(entry)


def test_host_latency_not_measured_is_not_a_miss():
    arts = [_art("teacher", "teacher", "torch", "fp32", 1000), _art("student", "student", "torch", "fp32", 100,
                                                                    host=False)]
    _, entries = judge(arts, _profile("host", max_latency_p90_ms=5.0), [])
    [latency] = [e for e in entries if "latency" in e["metric"]]
    assert latency["judged"] is False and latency["passed"] and "latency_mode=off" in latency["note"]
    measured = [arts[0], _art("student", "student", "torch", "fp32", 100)]
    entries = judge(measured, _profile("host", max_latency_p90_ms=1.0), [])[1]
    [latency] = [e for e in entries if "latency" in e["metric"]]
    assert latency["value"] == 2.0 and not latency["passed"] and latency["judged"] is True
