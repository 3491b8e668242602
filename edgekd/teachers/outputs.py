"""Logits or probabilities? What a loaded teacher outputs (``teacher.outputs``).

Many third-party models end in a softmax. Treated as logits, their probabilities would be
softmaxed a second time: KD would learn from a flattened distribution and the teacher's ECE,
NLL and Brier would be wrong (issue 11 saw an ECE of 0.650 for a teacher whose true ECE is
0.043). With ``auto`` (the default) a teacher outputs probabilities when its graph ends in a
softmax (ONNX ``Softmax``, TFLite ``SOFTMAX``, a Keras softmax layer or activation; reshapes,
casts and (de)quantisation after it are looked through), or when every output row on the val
split is non-negative and sums to 1 within the output's rounding (an int8 softmax output
rounds each probability to its scale, 1/256). Probabilities are then used through their
logarithm (:class:`~edgekd.teachers.blackbox.LogProbabilities`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ..errors import ModelFileError
from .blackbox import BlackBoxTeacher

# Rows summing to 1 within this (float outputs; quantised ones add their rounding) = probabilities.
_FLOAT_TOL = 2e-3
_PASS_THROUGH_ONNX = {"Identity", "Reshape", "Flatten", "Squeeze", "Unsqueeze", "Cast", "QuantizeLinear",
                      "DequantizeLinear"}
_PASS_THROUGH_TFLITE = {"RESHAPE", "SQUEEZE", "QUANTIZE", "DEQUANTIZE", "CAST"}


def graph_ends_in_softmax(model: torch.nn.Module) -> bool | None:
    """Whether a black-box teacher's graph ends in a softmax; ``None`` when the graph cannot tell.

    Torch teachers return ``None`` (a softmax in ``forward`` leaves no module to look at).
    """
    if not isinstance(model, BlackBoxTeacher):
        return None
    try:
        if model.kind == "onnx":
            return _onnx_softmax(model.path)
        if model.kind == "tflite":
            return _tflite_softmax(model.path)
        if model.kind == "keras":
            return getattr(model, "ends_in_softmax", None)
    except (OSError, ValueError, ModelFileError, ImportError):  # unreadable graph: the rows decide
        return None
    return None


def _onnx_softmax(path: Path) -> bool:
    import onnx

    graph = onnx.load(str(path), load_external_data=False).graph
    producer = {out: node for node in graph.node for out in node.output}
    name = graph.output[0].name
    while name in producer:
        node = producer[name]
        if node.op_type == "Softmax":
            return True
        if node.op_type not in _PASS_THROUGH_ONNX or not node.input:
            return False
        name = node.input[0]
    return False


def _tflite_softmax(path: Path) -> bool:
    from ..predict.tflite_read import read_tflite

    graph = read_tflite(path)
    producers = graph.producers()
    tensor = graph.outputs[0]
    while tensor in producers:
        op = producers[tensor]
        if op.op_type == "SOFTMAX":
            return True
        if op.op_type not in _PASS_THROUGH_TFLITE or not op.inputs:
            return False
        tensor = op.inputs[0]
    return False


def rows_tolerance(model: torch.nn.Module, num_classes: int) -> float:
    """How far from 1 a row of probabilities may sum: float rounding, plus half a step per class when quantised."""
    output_q = getattr(model, "output_q", None)
    if output_q:
        scale = float(output_q[0])
        return _FLOAT_TOL + num_classes * scale / 2
    return _FLOAT_TOL


def rows_are_probabilities(outputs: np.ndarray, tolerance: float) -> bool:
    """Every row non-negative and summing to 1 within ``tolerance``."""
    rows = np.asarray(outputs, dtype=np.float64)
    if rows.size == 0:
        return False
    return bool((rows >= -1e-6).all() and (np.abs(rows.sum(axis=1) - 1.0) <= tolerance).all())


def decide_outputs(requested: str, inner: torch.nn.Module, outputs: np.ndarray, num_classes: int,
                   name: str) -> tuple[str, str]:
    """``("logits" | "probabilities", why)`` for a teacher's ``outputs`` on real samples.

    Args:
        requested: ``teacher.outputs``: ``auto``, ``logits`` or ``probabilities``.
        inner: The user's model (unwrapped), for the graph check and its output quantisation.
        outputs: Its raw outputs on the val split (or probes).
        num_classes: Classes of the data.
        name: The teacher's file name, for messages.

    Raises:
        ModelFileError: ``probabilities`` was asked for but the rows are not probabilities.
    """
    tolerance = rows_tolerance(inner, num_classes)
    looks = rows_are_probabilities(outputs, tolerance)
    if requested == "logits":
        return "logits", "teacher.outputs: logits"
    if requested == "probabilities":
        if not looks:
            sums = np.asarray(outputs, dtype=np.float64).sum(axis=1)
            raise ModelFileError(f"teacher.outputs is probabilities but {name}'s val outputs are not (row sums "
                                 f"{sums.min():.3g}..{sums.max():.3g}, smallest value {np.min(outputs):.3g})",
                                 fix="set teacher.outputs: logits (or auto)")
        return "probabilities", "teacher.outputs: probabilities"
    if graph_ends_in_softmax(inner):
        return "probabilities", "its graph ends in a softmax"
    if looks:
        return "probabilities", f"every val output row sums to 1 (within {tolerance:.3g})"
    return "logits", "no final softmax and its rows do not sum to 1"
