"""Quantize stage: post-training INT8 of every exported format, calibrated on the calibration split.

- ONNX: onnxruntime static QDQ quantization of the exported FP32 graph.
- TFLite: full-integer PT2E quantization through litert-torch (int8 input/output for MCU runtimes).
- Core ML: 8-bit weight quantization (activations stay float: that is what Core ML offers).
"""

from __future__ import annotations

from ..artifact import Artifact, find
from ..errors import ConversionError
from ..export.stage import record_failure

_INT8_IO_RUNTIMES = {"tflite-micro", "edgetpu"}


def run(artifacts: list[Artifact], ctx) -> list[Artifact]:
    """Add an INT8 artifact for each FP32 export."""
    student = find(artifacts, name="student")[0]
    calibration = ctx.data.calibration.x.numpy()
    new: list[Artifact] = []
    for fp32 in [a for a in artifacts if a.parent == student.name and a.precision == "fp32"]:
        suffix = {"onnx": ".onnx", "tflite": ".tflite", "coreml": ".mlpackage"}[fp32.format]
        path, rel = ctx.artifact_file(f"student-int8{suffix}")
        try:
            note = _quantize(fp32, student, path, calibration, ctx)
        except ConversionError as exc:
            record_failure(ctx, exc)
            continue
        new.append(fp32.evolve(name=f"student-int8.{fp32.format}", precision="int8", path=rel,
                               parent=fp32.name, metrics={}, notes=(note,)))
    return [*artifacts, *new]


def _quantize(fp32: Artifact, student: Artifact, path, calibration, ctx) -> str:
    qcfg = ctx.config.quantize
    if fp32.format == "onnx":
        from .ort_static import quantize_onnx_static

        quantize_onnx_static(ctx.resolve(fp32.path), path, calibration, method=qcfg.method,
                             per_channel=qcfg.per_channel)
        return (f"onnxruntime static INT8 (QDQ, {'per-channel' if qcfg.per_channel else 'per-tensor'} weights, "
                f"{qcfg.method} calibration on {len(calibration)} samples)")
    if fp32.format == "tflite":
        from ..export.tflite import export_tflite

        int8_io = ctx.target.runtime.name in _INT8_IO_RUNTIMES
        export_tflite(student.model, student.input_shape, path, int8=True, calibration=calibration, int8_io=int8_io)
        return (f"TFLite full-integer INT8 (PT2E, {len(calibration)} calibration samples, "
                f"{'int8' if int8_io else 'float'} input/output)")
    from ..export.coreml import export_coreml

    export_coreml(student.model, student.input_shape, path, precision="fp16", weights_int8=True)
    return "Core ML 8-bit weights (linear, per-channel); activations FP16"
