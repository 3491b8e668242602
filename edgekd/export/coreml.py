"""Export a torch module to a Core ML ``.mlpackage`` (ML Program) and inspect one on any OS.

Conversion, saving, FP16 and 8-bit weight quantization all work on Linux, but **Core ML
prediction needs macOS** ("Model prediction is only supported on macOS"), so numeric parity
of a Core ML artifact can only be checked on a Mac. On Linux, :func:`inspect_coreml` reads the
saved spec instead (I/O names and shapes, op counts, precision), which is what the tests check.
"""

from __future__ import annotations

import copy
import re
from collections import Counter
from pathlib import Path

from ..atomic import atomic_path
from ..errors import ConfigError, ConversionError
from ._common import first_line, quiet, with_batch

INPUT_NAME = "input"
OUTPUT_NAME = "logits"
PRECISIONS = ("fp32", "fp16")
# Ops that hold compressed weights and expand them at load time (iOS16 / iOS18 opsets).
_INT8_WEIGHT_OPS = ("constexpr_affine_dequantize", "constexpr_blockwise_shift_scale")
# "PyTorch convert function for op 'linalg_svd' not implemented."
_OP_PATTERNS = (
    re.compile(r"for op '([\w:.]+)' not implemented", re.I),
    re.compile(r"op '([\w:.]+)'[^\n]*not (?:implemented|supported)", re.I),
    re.compile(r"Unsupported (?:fx )?node[^\n]*?'?(aten[.:]{1,2}[\w.]+)", re.I),
)


def export_coreml(module, input_shape, path, *, precision: str = "fp32", weights_int8: bool = False) -> Path:
    """Convert ``module`` to a Core ML ML Program package (iOS 16 / macOS 13 or newer).

    The module is deep-copied, put in eval mode and traced with TorchScript; coremltools
    converts the trace. The package has one input ``input`` (NCHW float tensor, batch 1) and
    one output ``logits``. Prediction needs macOS; on Linux use :func:`inspect_coreml`.

    Args:
        module: The ``torch.nn.Module``.
        input_shape: Sample shape ``(C, H, W)`` or ``(1, C, H, W)``.
        path: Destination ``.mlpackage`` folder; written atomically.
        precision: ``"fp32"`` or ``"fp16"`` compute precision.
        weights_int8: Also compress weights to 8 bits (linear symmetric, per output channel,
            with ``coremltools.optimize.coreml.linear_quantize_weights``); activations stay
            in ``precision``.

    Returns:
        The final path.

    Raises:
        ConfigError: Unknown ``precision``.
        ConversionError: coremltools cannot convert the model; names the op when it can.
    """
    if precision not in PRECISIONS:
        raise ConfigError(f"unknown Core ML precision {precision!r}", fix=f"use one of {', '.join(PRECISIONS)}")
    import torch

    model = copy.deepcopy(module).eval()
    sample = torch.randn(*with_batch(input_shape), dtype=torch.float32)
    final = Path(path)
    with atomic_path(final) as tmp:
        with quiet() as log:
            try:
                mlmodel = _convert(model, sample, precision, weights_int8)
                mlmodel.save(str(tmp))
            except Exception as exc:  # coremltools raises many types; the user needs one line
                error: Exception | None = exc
            else:
                error = None
        if error is not None:
            raise _conversion_error(error, log.text) from error
    return final


def _convert(model, sample, precision: str, weights_int8: bool):
    import coremltools as ct
    import numpy as np
    import torch

    with torch.no_grad():
        traced = torch.jit.trace(model, sample)
    mlmodel = ct.convert(
        traced,
        # float32 I/O even at fp16 compute: callers pass float32 arrays; the casts are in-graph.
        inputs=[ct.TensorType(name=INPUT_NAME, shape=tuple(sample.shape), dtype=np.float32)],
        outputs=[ct.TensorType(name=OUTPUT_NAME, dtype=np.float32)],
        convert_to="mlprogram",
        minimum_deployment_target=ct.target.iOS16,
        compute_precision=ct.precision.FLOAT16 if precision == "fp16" else ct.precision.FLOAT32,
    )
    if weights_int8:
        import coremltools.optimize.coreml as cto

        # weight_threshold=0: a distilled student's layers are small; the default (2048
        # elements) would leave most of them in float and the artifact would lie about int8.
        op_config = cto.OpLinearQuantizerConfig(mode="linear_symmetric", dtype="int8",
                                                granularity="per_channel", weight_threshold=0)
        mlmodel = cto.linear_quantize_weights(mlmodel, config=cto.OptimizationConfig(global_config=op_config))
    return mlmodel


def inspect_coreml(path) -> dict:
    """Describe a saved ``.mlpackage`` without running it (works on Linux).

    Args:
        path: A ``.mlpackage`` folder (or ``.mlmodel`` file).

    Returns:
        ``dict(inputs, outputs, ops, spec_version, precision)``: ``inputs``/``outputs`` are lists
        of ``{"name", "shape", "dtype"}``; ``ops`` maps each ML Program op type to its count;
        ``precision`` is ``"fp32"``, ``"fp16"`` or ``"int8-weights"`` (weights stored as int8).

    Raises:
        ConversionError: The package cannot be read.
    """
    import coremltools as ct

    try:
        spec = ct.models.utils.load_spec(str(path))
    except Exception as exc:
        raise ConversionError(f"coreml: cannot read {path}: {first_line(exc)}", fmt="coreml",
                              fix="re-export the model (the package may be incomplete)") from exc
    ops: Counter[str] = Counter()
    dtypes: set[str] = set()
    if spec.WhichOneof("Type") == "mlProgram":
        for function in spec.mlProgram.functions.values():
            for block in function.block_specializations.values():
                _count_ops(block, ops, dtypes)
    if any(ops.get(op) for op in _INT8_WEIGHT_OPS):
        precision = "int8-weights"
    elif "FLOAT16" in dtypes:
        precision = "fp16"
    else:
        precision = "fp32"
    return {
        "inputs": [_feature(f) for f in spec.description.input],
        "outputs": [_feature(f) for f in spec.description.output],
        "ops": dict(sorted(ops.items())),
        "spec_version": int(spec.specificationVersion),
        "precision": precision,
    }


def _count_ops(block, ops: Counter, dtypes: set) -> None:
    from coremltools.proto import MIL_pb2

    for op in block.operations:
        ops[op.type] += 1
        for out in op.outputs:
            if out.type.WhichOneof("type") == "tensorType":
                dtypes.add(MIL_pb2.DataType.Name(out.type.tensorType.dataType))
        for nested in op.blocks:
            _count_ops(nested, ops, dtypes)


def _feature(feature) -> dict:
    kind = feature.type.WhichOneof("Type")
    shape: list[int] = []
    dtype = kind or "unknown"
    if kind == "multiArrayType":
        array = feature.type.multiArrayType
        shape = [int(d) for d in array.shape]
        dtype = type(array).ArrayDataType.Name(array.dataType)
    return {"name": feature.name, "shape": shape, "dtype": dtype}


def _conversion_error(exc: BaseException, log: str) -> ConversionError:
    op = None
    for text in (str(exc), log):
        for pattern in _OP_PATTERNS:
            match = pattern.search(text)
            if match:
                op = match.group(1)
                break
        if op:
            break
    if op:
        return ConversionError(f"coreml: op {op} is not supported by coremltools", fmt="coreml", op=op,
                               fix=f"replace {op} in the model, or drop coreml from the formats")
    return ConversionError(f"coreml: conversion failed: {first_line(exc)}", fmt="coreml")
