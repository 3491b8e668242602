"""Export stage: write the student in every requested format (FP32).

A format whose converter fails is recorded (op and format named) and the other
formats go on; the failure becomes a failed ``formats`` budget in the report.
"""

from __future__ import annotations

from ..artifact import Artifact, final_student
from ..errors import ConversionError
from ..stage import BuildContext, Stage
from ..state import BuildState

_SUFFIX = {"onnx": ".onnx", "tflite": ".tflite", "coreml": ".mlpackage"}


def run(state: BuildState, ctx: BuildContext) -> BuildState:
    """Add one FP32 artifact per requested format, exported from the final (distilled or pruned) student."""
    student = final_student(state.artifacts)
    new: list[Artifact] = []
    for fmt in ctx.formats():
        path, rel = ctx.artifact_file(f"student-fp32{_SUFFIX[fmt]}")
        try:
            _export(fmt, student, path, ctx)
        except ConversionError as exc:
            state = record_failure(state, ctx, exc)
            continue
        new.append(student.evolve(name=f"student-fp32.{fmt}", format=fmt, path=rel, parent=student.name,
                                  metrics={}, notes=()))
    failed = [f["format"] for f in state.conversion_failures]
    if failed:
        done = ", ".join(a.format for a in new) or "none"
        ctx.reporter.note(f"export: succeeded for {done} (artifacts kept); failed for {', '.join(failed)}")
    return state.add(*new)


def record_failure(state: BuildState, ctx: BuildContext, exc: ConversionError) -> BuildState:
    """The state with a failed conversion recorded for the report; the user is told now."""
    ctx.reporter.note(f"conversion failed: {exc.one_line()}")
    return state.with_failure({"format": exc.fmt, "op": exc.op, "error": exc.one_line()})


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


STAGE = Stage(name="export", run=run, reads=("config.export", "target.formats"))
