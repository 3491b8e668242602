"""Export stage: write the student in every requested format (FP32).

A format whose converter fails is recorded (op and format named) and the other
formats go on; the failure becomes a failed ``formats`` budget in the report.
"""

from __future__ import annotations

from ..artifact import Artifact, final_student
from ..errors import ConversionError

_SUFFIX = {"onnx": ".onnx", "tflite": ".tflite", "coreml": ".mlpackage"}


def run(artifacts: list[Artifact], ctx) -> list[Artifact]:
    """Add one FP32 artifact per requested format, exported from the final (distilled or pruned) student."""
    student = final_student(artifacts)
    new: list[Artifact] = []
    for fmt in ctx.formats():
        path, rel = ctx.artifact_file(f"student-fp32{_SUFFIX[fmt]}")
        try:
            _export(fmt, student, path, ctx)
        except ConversionError as exc:
            record_failure(ctx, exc)
            continue
        new.append(student.evolve(name=f"student-fp32.{fmt}", format=fmt, path=rel, parent=student.name,
                                  metrics={}, notes=()))
    failed = [f["format"] for f in ctx.extras.get("conversion_failures", [])]
    if failed:
        done = ", ".join(a.format for a in new) or "none"
        ctx.reporter.note(f"export: succeeded for {done} (artifacts kept); failed for {', '.join(failed)}")
    return [*artifacts, *new]


def record_failure(ctx, exc: ConversionError) -> None:
    """Remember a failed conversion for the report and tell the user now."""
    ctx.extras.setdefault("conversion_failures", []).append(
        {"format": exc.fmt, "op": exc.op, "error": exc.one_line()})
    ctx.reporter.note(f"conversion failed: {exc.one_line()}")


def _export(fmt: str, student: Artifact, path, ctx) -> None:
    shape = student.input_shape
    if fmt == "onnx":
        from .onnx import export_onnx

        export_onnx(student.model, shape, path, opset=ctx.config.export.opset)
    elif fmt == "tflite":
        from .tflite import export_tflite

        export_tflite(student.model, shape, path)
    elif fmt == "coreml":
        from .coreml import export_coreml

        export_coreml(student.model, shape, path, precision="fp32")
