"""Fixtures for the quantizer tests: the exporter tests' tiny trained CNN and structured data."""

import importlib.util
from pathlib import Path

import pytest

# One definition of the fixtures (tests/export/conftest.py), loaded by path because the
# test folders are not packages.
_spec = importlib.util.spec_from_file_location("edgekd_tests_export_conftest",
                                               Path(__file__).parent.parent / "export" / "conftest.py")
_shared = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_shared)

tiny_model = _shared.tiny_model
data = _shared.data
lib = _shared.lib


@pytest.fixture(scope="session")
def tiny_tflite(tmp_path_factory, tiny_model):
    """The tiny model's FP32 .tflite (litert-torch, NHWC input), converted once per session."""
    from edgekd.export.tflite import export_tflite

    return export_tflite(tiny_model, _shared.tiny.SHAPE, tmp_path_factory.mktemp("tiny-tflite") / "m.tflite")


@pytest.fixture
def onnx_artifacts(tiny_model):
    """``make(ctx)``: the tiny torch student and its FP32 ONNX export in ``ctx``'s artifact folder."""
    from edgekd.artifact import Artifact
    from edgekd.export.onnx import export_onnx

    shape = _shared.tiny.SHAPE[1:]

    def make(ctx) -> tuple:
        student = Artifact(name="student", role="student", format="torch", precision="fp32", model=tiny_model,
                           input_shape=shape)
        path, rel = ctx.artifact_file("student-fp32.onnx")
        export_onnx(tiny_model, shape, path)
        return student, student.evolve(name="student-fp32.onnx", format="onnx", path=rel, parent="student")

    return make
