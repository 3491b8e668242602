"""Student architectures (MobileNetV2, MobileNetV3-Small/Large, DS-CNN) and the size counter.

Importing this package registers every student; build them by name with :func:`build_student`.
"""

from __future__ import annotations

from . import dscnn, mobilenetv2, mobilenetv3  # noqa: F401  (imported to register the students)
from .counter import count_params_macs
from .registry import StudentInfo, build_options, build_student, list_students, register_student

__all__ = ["StudentInfo", "build_options", "build_student", "count_params_macs", "list_students", "register_student"]
