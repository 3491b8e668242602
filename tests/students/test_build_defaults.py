"""Per-student build defaults: mobilenetv2 is built at width 0.35, other students at their own defaults."""

from __future__ import annotations

import pytest

from edgekd.artifact import Artifact
from edgekd.distill.stage import student_vs_teacher
from edgekd.students import build_options, build_student, count_params_macs, list_students
from edgekd.students.registry import register_student


def test_build_defaults_do_not_leak_between_students():
    assert build_options("mobilenetv2", {}) == {"width": 0.35}
    assert build_options("mobilenetv2", {"width": 0.5}) == {"width": 0.5}
    assert build_options("ds-cnn", {}) == {}  # ds-cnn keeps its own width, not mobilenetv2's 0.35
    shape = (1, 49, 10)
    default = count_params_macs(build_student("ds-cnn", 12, shape, **build_options("ds-cnn", {})), shape)
    assert default == count_params_macs(build_student("ds-cnn", 12, shape), shape)
    assert {s.name: s.build_defaults for s in list_students()}["mobilenetv2"] == {"width": 0.35}


def test_build_defaults_must_name_real_options():
    with pytest.raises(ValueError, match="unknown options"):
        register_student("bad-defaults", "any", "x", build_defaults={"nope": 1})(lambda num_classes, input_shape,
                                                                                  width=1.0: None)


def test_a_student_not_smaller_than_its_teacher_is_named():
    teacher = Artifact(name="teacher", role="teacher", format="tflite", precision="fp32", macs=1_000)
    small = Artifact(name="student", role="student", format="torch", precision="fp32", macs=400)
    big = Artifact(name="student", role="student", format="torch", precision="fp32", macs=1_500)
    assert student_vs_teacher(small, teacher) is None
    note = student_vs_teacher(big, teacher)
    assert "1.50x" in note and "max_student_macs_ratio" in note
    unknown = Artifact(name="teacher", role="teacher", format="onnx", precision="fp32", macs=None)
    assert student_vs_teacher(big, unknown) is None
