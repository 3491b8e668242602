"""Parameters and MACs of a model file (ONNX, TFLite, Keras), counted from its graph.

The convention is the students' (``edgekd.students.counter``), so teacher and student counts
compare:

* MACs: multiply-accumulates of convolutions (dense, grouped, depthwise, 1-D/2-D/3-D; a
  conv's output element costs ``(Cin / groups) x kernel`` MACs, so a layer costs
  ``out_h x out_w x Cout x (Cin / groups) x kh x kw``) and of dense layers (``in x out``,
  matmuls with a weight operand included), for ONE sample. Not counted: biases,
  BatchNorm, activations, pooling, element-wise adds/multiplies, and matmuls between two
  activations (attention), as for students. Transposed convs are counted (each input
  element scatters into ``Cout x kh x kw`` outputs); the student counter has no
  transposed convs to count.
* params: learned tensors: conv/dense weights and biases, normalisation scales and shifts,
  PReLU slopes, constant non-scalar operands of element-wise ops; not BatchNorm running
  statistics (buffers, as in torch), quantisation scales, shapes or axes. A graph exported
  for inference (ONNX from torch in eval mode, any TFLite) has BatchNorm folded into the conv
  before it, so its count lacks the BN scale/shift (and may gain a conv bias): expect it to be
  a little lower than the framework's count of the same network.

``macs`` is ``None`` (with ``unknown_ops`` naming why) when the graph has an op whose MACs the
graph alone cannot give: custom ops, control flow, recurrent or attention layers, a shape that
stays unknown. It is never 0 for a network that has convolutions.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

from ..errors import BadInputError, ConfigError
from .graph import UncostableGraphError

FORMATS = ("onnx", "tflite", "keras")
ONNX_MAC_OPS = {"Conv", "ConvInteger", "QLinearConv", "ConvTranspose", "Gemm", "MatMul", "MatMulInteger",
                "QLinearMatMul"}
ONNX_UNKNOWN = {"LSTM", "GRU", "RNN", "Einsum", "Loop", "Scan", "If", "DeformConv", "Attention",
                "MultiHeadAttention"}
# Inputs holding learned tensors, per ONNX op (other inputs are shapes, axes, scales, statistics).
ONNX_PARAM_SLOTS = {"Conv": (1, 2), "ConvTranspose": (1, 2), "ConvInteger": (1,), "QLinearConv": (3, 8),
                    "Gemm": (0, 1, 2), "MatMul": (0, 1), "MatMulInteger": (0, 1), "QLinearMatMul": (0, 3),
                    "BatchNormalization": (1, 2), "InstanceNormalization": (1, 2), "LayerNormalization": (1, 2),
                    "GroupNormalization": (1, 2), "PRelu": (1,), "Add": (0, 1), "Sub": (0, 1), "Mul": (0, 1),
                    "Div": (0, 1), "Gather": (0,), "LSTM": (1, 2, 3), "GRU": (1, 2, 3), "RNN": (1, 2, 3)}
TFLITE_PARAM_SLOTS = {"CONV_2D": (1, 2), "DEPTHWISE_CONV_2D": (1, 2), "FULLY_CONNECTED": (1, 2),
                      "TRANSPOSE_CONV": (1, 3), "CONV_3D": (1, 2), "CONV_3D_TRANSPOSE": (1, 3),
                      "BATCH_MATMUL": (0, 1), "ADD": (0, 1), "SUB": (0, 1), "MUL": (0, 1), "DIV": (0, 1),
                      "PRELU": (1,), "GATHER": (0,), "EMBEDDING_LOOKUP": (1,)}
_ELEMENTWISE = {"Add", "Sub", "Mul", "Div", "ADD", "SUB", "MUL", "DIV"}


def count_model(path: str | os.PathLike, fmt: str, input_shape: tuple[int, ...] | list[int] | None = None) -> dict:
    """Count parameters and per-sample MACs of a model file (see the module docstring).

    Args:
        path: ``.onnx``, ``.tflite``, ``.keras``/``.h5`` or a SavedModel folder.
        fmt: ``"onnx"``, ``"tflite"`` or ``"keras"`` (Keras files and SavedModel folders).
        input_shape: Full input shape with batch 1 (in the model's own layout), needed only
            when the model's input has dynamic dimensions besides the batch.

    Returns:
        ``{"params": int, "macs": int | None, "unknown_ops": [str, ...]}``; ``macs`` is
        ``None`` exactly when ``unknown_ops`` is not empty.

    Raises:
        ModelFileError: The file cannot be read as ``fmt``.
        ConfigError: Unknown ``fmt``.
    """
    fmt = str(fmt).lower()
    if fmt == "onnx":
        params, macs, unknown = _count_onnx(Path(path), input_shape)
    elif fmt == "tflite":
        params, macs, unknown = _count_tflite(Path(path))
    elif fmt == "keras":
        from .keras_facts import count_keras

        params, macs, unknown = count_keras(Path(path), input_shape)
    else:
        raise ConfigError(f"cannot count model format {fmt!r}", fix=f"use one of {', '.join(FORMATS)}")
    return {"params": int(params), "macs": None if unknown else int(macs), "unknown_ops": unknown}


def _const_elements(sizes: dict[str, int], name: str, elementwise: bool) -> int:
    count = sizes.get(name, 0)
    return 0 if elementwise and count <= 1 else count  # a scalar constant (hard-swish's 3) is not learned


def _count_onnx(path: Path, input_shape) -> tuple[int, int, list[str]]:
    import onnx

    from .graph import TensorTable, load_static, node_work

    try:
        model = load_static(path, 1, input_shape)
    except UncostableGraphError as exc:
        return _onnx_params(onnx.load(str(path), load_external_data=False)), 0, [exc.message]
    except Exception as exc:  # noqa: BLE001 - protobuf DecodeError / onnx ValidationError
        from ..errors import ModelFileError

        raise ModelFileError(f"cannot read ONNX model {path}: {' '.join(str(exc).split())[:160]}",
                             fix="re-export the model; the file may be truncated or not ONNX") from None
    table = TensorTable(model)
    producer = {out: n for n in model.graph.node for out in n.output}
    consts = set(table.initializers) | {n.output[0] for n in model.graph.node if n.op_type == "Constant"}
    macs, unknown = 0, []
    for i, node in enumerate(model.graph.node):
        label = node.name or f"{node.op_type}_{i}"
        if node.op_type in ONNX_UNKNOWN or node.domain not in ("", "ai.onnx"):
            unknown.append(f"{node.op_type} ({label})")
            continue
        if node.op_type not in ONNX_MAC_OPS:
            continue
        operands = [node.input[0], node.input[3]] if node.op_type == "QLinearMatMul" else node.input[:2]
        if "MatMul" in node.op_type and not any(_onnx_source(x, producer) in consts for x in operands):
            continue  # activation x activation (attention): not a dense layer, not counted (as for students)
        try:
            macs += node_work(node, table, label)[1]
        except UncostableGraphError as exc:
            unknown.append(exc.message)
    first = next((v for v in model.graph.input if v.name not in table.initializers), None)
    batch = table.shape.get(first.name, (1,)) if first is not None else (1,)
    return _onnx_params(model), macs // max(int(batch[0]) if batch else 1, 1), unknown  # per sample


def _onnx_source(name: str, producer: dict) -> str:
    """Follow DequantizeLinear (a QDQ int8 weight) back to the stored tensor."""
    for _ in range(4):
        node = producer.get(name)
        if node is None or node.op_type != "DequantizeLinear":
            break
        name = node.input[0]
    return name


def _onnx_params(model) -> int:
    sizes = {init.name: math.prod(init.dims) for init in model.graph.initializer}
    for node in model.graph.node:
        if node.op_type == "Constant" and node.output:
            value = next((a.t for a in node.attribute if a.name == "value"), None)
            sizes[node.output[0]] = math.prod(value.dims) if value is not None else 1
    producer = {out: n for n in model.graph.node for out in n.output}
    counted: set[str] = set()
    total = 0
    for node in model.graph.node:
        for slot in ONNX_PARAM_SLOTS.get(node.op_type, ()):
            if slot >= len(node.input) or not node.input[slot]:
                continue
            name = _onnx_source(node.input[slot], producer)
            if name in sizes and name not in counted:
                counted.add(name)
                total += _const_elements(sizes, name, node.op_type in _ELEMENTWISE)
    return total


def _count_tflite(path: Path) -> tuple[int, int, list[str]]:
    from .tflite_graph import KNOWN_OPS, MAC_OPS, op_work
    from .tflite_read import read_tflite

    graph = read_tflite(path)
    producer = graph.producers()

    def source(index: int) -> int:
        for _ in range(4):
            op = producer.get(index)
            if op is None or op.op_type != "DEQUANTIZE":
                break
            index = op.inputs[0]
        return index

    macs, unknown = 0, []
    for op in graph.ops:
        name = graph.op_label(op)
        if op.op_type not in KNOWN_OPS:
            unknown.append(f"{op.op_type} ({name})")
            continue
        if op.op_type not in MAC_OPS:
            continue
        if op.op_type in ("FULLY_CONNECTED", "BATCH_MATMUL") and not any(
                i >= 0 and graph.tensors[source(i)].const for i in op.inputs[:2]):
            continue  # activation x activation: not counted (as for students)
        try:
            macs += op_work(graph, op, name)[1]
        except UncostableGraphError as exc:
            unknown.append(exc.message)
    first = graph.tensors[graph.inputs[0]].shape if graph.inputs else None
    macs //= max(int(first[0]) if first else 1, 1)  # a fixed batch of N: per sample
    counted: set[int] = set()
    params = 0
    for op in graph.ops:
        for slot in TFLITE_PARAM_SLOTS.get(op.op_type, ()):
            if slot >= len(op.inputs) or op.inputs[slot] < 0:
                continue
            tensor = graph.tensors[source(op.inputs[slot])]
            if tensor.const and tensor.index not in counted:
                counted.add(tensor.index)
                count = tensor.elements or 0
                params += 0 if op.op_type in _ELEMENTWISE and count <= 1 else count
    return params, macs, unknown


def facts_or_unknown(path: str | os.PathLike, fmt: str, input_shape=None) -> tuple[int | None, int | None]:
    """``(params, macs)`` for a report: ``None`` where unknown; never raises for a readable model.

    A file that cannot be read or counted gives ``(None, None)`` (unknown, never 0): the caller
    has already loaded the model in its runtime, and a size is not worth failing a build for.
    """
    try:
        facts = count_model(path, fmt, input_shape)
    except (BadInputError, Exception):  # noqa: BLE001 - any counting failure means "unknown"
        return None, None
    return facts["params"], facts["macs"]
