"""Per-op cost table of a ``.tflite`` graph: the same :class:`OpCost` rows as ``graph.py`` for ONNX.

The artifact that ships is costed directly (read by ``tflite_read.py``), not an ONNX stand-in.
What differs from ONNX and how it is handled:

* Layout is NHWC: a CONV_2D filter is ``[Cout, kh, kw, Cin/groups]``, a DEPTHWISE_CONV_2D
  filter ``[1, kh, kw, Cout]``. A CONV_2D whose filter has fewer input channels than its input
  is a grouped conv (groups = Cin / filter Cin): class ``grouped``, or ``depthwise`` when
  groups == Cin, as in ``graph.py``.
* Fused activations are in the op's builtin options (``fused_activation_function``), so there
  is no separate RELU to fold; the row's ``fused`` field names it. A standalone RELU/RELU6
  (the converter could not fuse it) is a real pass and is costed as elementwise.
* Folded (cost nothing): QUANTIZE, DEQUANTIZE and the view ops (RESHAPE, SQUEEZE, EXPAND_DIMS)
  for the reason given in ``graph.py`` (a DEQUANTIZE of a constant is a weight stored in a
  smaller type; a compute op reading it is costed at the stored type).
* Precision from tensor types: an int16 activation is ``int16`` (16x8 quantization), an int8
  or uint8 activation or weight is ``int8`` (hybrid kernels included), a float16 tensor (a
  float16-quantized weight) ``fp16``, else ``fp32``.
* Op types outside the tables below (custom ops, control flow, LSTMs) are costed as data
  movement (``other``, one op per output element) as ``graph.py`` does; ``model_facts``
  lists them as unknown for the MAC count. A costed op whose shapes stay unknown raises
  :class:`~edgekd.predict.graph.UncostableGraphError`.
"""

from __future__ import annotations

import math
import os

from .graph import OpCost, UncostableGraphError
from .tflite_memory import analyze_tflite
from .tflite_read import TflGraph, TflOp, read_tflite

__all__ = ["KNOWN_OPS", "MAC_OPS", "analyze_tflite", "op_costs_tflite", "op_work"]

MAC_OPS = {"CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "BATCH_MATMUL", "TRANSPOSE_CONV", "CONV_3D",
           "CONV_3D_TRANSPOSE"}
VIEW_OPS = {"RESHAPE", "SQUEEZE", "EXPAND_DIMS"}
FOLDED_OPS = {"QUANTIZE", "DEQUANTIZE"} | VIEW_OPS
# Arithmetic per output element, as graph.ELEMENTWISE_OPS (only the order of magnitude matters).
ELEMENTWISE_OPS = {"ADD": 1, "SUB": 1, "MUL": 1, "DIV": 1, "SQUARED_DIFFERENCE": 2, "MAXIMUM": 1, "MINIMUM": 1,
                   "HARD_SWISH": 3, "LOGISTIC": 4, "TANH": 4, "RELU": 1, "RELU6": 1, "RELU_N1_TO_1": 1,
                   "RELU_0_TO_1": 1, "LEAKY_RELU": 2, "PRELU": 2, "ELU": 4, "GELU": 6, "SOFTMAX": 5,
                   "LOG_SOFTMAX": 5, "EXP": 2, "LOG": 2, "SQRT": 1, "RSQRT": 2, "SQUARE": 1, "POW": 2, "ABS": 1,
                   "NEG": 1, "CAST": 1, "FLOOR": 1, "CEIL": 1, "ROUND": 1, "SIN": 4, "COS": 4, "ADD_N": 1,
                   "FLOOR_DIV": 1, "FLOOR_MOD": 1, "SELECT": 1, "SELECT_V2": 1, "LESS": 1, "GREATER": 1,
                   "EQUAL": 1, "NOT_EQUAL": 1, "LESS_EQUAL": 1, "GREATER_EQUAL": 1, "LOGICAL_AND": 1,
                   "LOGICAL_OR": 1, "LOGICAL_NOT": 1, "L2_NORMALIZATION": 3, "LOCAL_RESPONSE_NORMALIZATION": 5,
                   "SIGN": 1}
WINDOW_POOLS = {"AVERAGE_POOL_2D", "MAX_POOL_2D", "L2_POOL_2D"}
REDUCE_OPS = {"MEAN", "SUM", "REDUCE_MAX", "REDUCE_MIN", "REDUCE_PROD", "REDUCE_ANY", "REDUCE_ALL"}
# Data movement: one op per output element (as graph.py's fallback); no MACs by construction.
MOVE_OPS = {"PAD", "PADV2", "MIRROR_PAD", "CONCATENATION", "TRANSPOSE", "RESIZE_BILINEAR",
            "RESIZE_NEAREST_NEIGHBOR", "SPACE_TO_DEPTH", "DEPTH_TO_SPACE", "SPACE_TO_BATCH_ND",
            "BATCH_TO_SPACE_ND", "STRIDED_SLICE", "SLICE", "SPLIT", "SPLIT_V", "GATHER", "GATHER_ND", "PACK",
            "UNPACK", "TILE", "BROADCAST_TO", "ARG_MAX", "ARG_MIN", "SHAPE", "FILL", "ZEROS_LIKE", "ONES_LIKE",
            "REVERSE_V2", "TOP_K_V2", "CUMSUM", "RANGE", "EMBEDDING_LOOKUP", "BROADCAST_ARGS", "SCATTER_ND",
            "NON_MAX_SUPPRESSION_V4", "NON_MAX_SUPPRESSION_V5", "WHERE", "ONE_HOT",
            "CUSTOM:TFLite_Detection_PostProcess"}
KNOWN_OPS = MAC_OPS | FOLDED_OPS | set(ELEMENTWISE_OPS) | WINDOW_POOLS | REDUCE_OPS | MOVE_OPS
_ACTIVATIONS = {0: "", 1: "relu", 2: "relu_n1_to_1", 3: "relu6", 4: "tanh", 5: "sign_bit"}
_INT8 = {"INT8", "UINT8", "INT4", "INT2", "UINT4"}


def op_costs_tflite(path: str | os.PathLike | TflGraph) -> list[OpCost]:
    """One :class:`OpCost` per operator of the main subgraph, in execution order (batch 1).

    Args:
        path: A ``.tflite`` file (or an already read :class:`TflGraph`).

    Returns:
        Rows with the fields of ``graph.OpCost``; ``fused`` names a fused activation.

    Raises:
        ModelFileError: The file is not a readable TFLite model.
        UncostableGraphError: A costed op's shapes are unknown even after a LiteRT run.
    """
    graph = path if isinstance(path, TflGraph) else read_tflite(path)
    producer, users = graph.producers(), graph.consumers()

    def source(index: int) -> int:
        """Follow DEQUANTIZE back to the tensor it reads (the folded storage type)."""
        for _ in range(8):
            op = producer.get(index)
            if op is None or op.op_type != "DEQUANTIZE":
                break
            index = op.inputs[0]
        return index

    def read_bytes(index: int) -> int:
        return graph.tensors[source(index)].nbytes() or 0

    def write_bytes(index: int) -> int:
        readers = users.get(index, [])
        if readers and all(r.op_type == "QUANTIZE" for r in readers):  # the kernel writes int8 directly
            return max(graph.tensors[r.outputs[0]].nbytes() or 0 for r in readers)
        return graph.tensors[index].nbytes() or 0

    costs = []
    for op in graph.ops:
        name = graph.op_label(op)
        folded = op.op_type in FOLDED_OPS
        op_class, macs, ops = ("other", 0, 0) if folded else op_work(graph, op, name)
        inputs = [i for i in op.inputs if i >= 0]
        costs.append(OpCost(
            name=name, op_type=op.op_type, op_class=op_class, precision=_precision(graph, op, source),
            macs=int(macs), ops=int(ops),
            bytes_read=0 if folded else sum(read_bytes(i) for i in inputs),
            bytes_written=0 if folded else sum(write_bytes(o) for o in op.outputs if o >= 0),
            folded=folded, fused=_ACTIVATIONS.get(getattr(op.options, "fusedActivationFunction", 0), "")))
    return costs


def _shape(graph: TflGraph, index: int, op: TflOp, name: str) -> tuple[int, ...]:
    shape = graph.tensors[index].shape if index >= 0 else None
    if shape is None:
        raise UncostableGraphError(f"cannot cost {op.op_type} node {name!r}: the shape of tensor "
                                   f"{graph.tensors[index].name!r} is unknown even after running the model",
                                   fix="convert the model with a fixed input shape (batch 1)")
    return shape


def op_work(graph: TflGraph, op: TflOp, name: str) -> tuple[str, int, int]:
    """(op class, MACs, other ops) of one operator (see the module docstring)."""
    kind = op.op_type
    if kind in MAC_OPS:
        return _mac_work(graph, op, name)
    out_elems = math.prod(_shape(graph, op.outputs[0], op, name)) if op.outputs else 0
    if kind in ELEMENTWISE_OPS:
        return "elementwise", 0, out_elems * ELEMENTWISE_OPS[kind]
    if kind in WINDOW_POOLS:
        window = int(getattr(op.options, "filterHeight", 1)) * int(getattr(op.options, "filterWidth", 1))
        return "pool", 0, out_elems * window
    if kind in REDUCE_OPS:
        return "pool", 0, math.prod(_shape(graph, op.inputs[0], op, name))
    return "other", 0, out_elems


def _mac_work(graph: TflGraph, op: TflOp, name: str) -> tuple[str, int, int]:
    kind = op.op_type
    if kind == "TRANSPOSE_CONV":  # inputs: output_shape, filter [Cout, kh, kw, Cin], input [N, H, W, Cin]
        weight, x = _shape(graph, op.inputs[1], op, name), _shape(graph, op.inputs[2], op, name)
        return "conv", math.prod(x) * weight[0] * weight[1] * weight[2], 0
    if kind == "CONV_3D_TRANSPOSE":  # inputs: output_shape, filter [kd, kh, kw, Cout, Cin], input
        weight, x = _shape(graph, op.inputs[1], op, name), _shape(graph, op.inputs[2], op, name)
        return "conv", math.prod(x) * math.prod(weight[:4]), 0
    x, weight = _shape(graph, op.inputs[0], op, name), _shape(graph, op.inputs[1], op, name)
    out_elems = math.prod(_shape(graph, op.outputs[0], op, name))
    if kind == "DEPTHWISE_CONV_2D":  # filter [1, kh, kw, Cin * multiplier]: one input channel per output
        return "depthwise", out_elems * weight[1] * weight[2], 0
    if kind == "CONV_2D":  # filter [Cout, kh, kw, Cin / groups]
        cin_group, kernel = weight[3], weight[1] * weight[2]
        groups = max(1, x[-1] // max(cin_group, 1))
        macs = out_elems * cin_group * kernel
        if groups > 1:
            return ("depthwise" if groups == x[-1] else "grouped"), macs, 0
        return ("pointwise" if kernel == 1 else "conv"), macs, 0
    if kind == "CONV_3D":  # filter [kd, kh, kw, Cin / groups, Cout]
        return "conv", out_elems * math.prod(weight[:4]), 0
    if kind == "FULLY_CONNECTED":  # filter [units, K]
        return "gemm", out_elems * weight[-1], 0
    # BATCH_MATMUL: [..., M, K] x [..., K, N]; adj_x transposes the first operand
    k = x[-2] if getattr(op.options, "adjX", False) else x[-1]
    return "gemm", out_elems * k, 0


def _precision(graph: TflGraph, op: TflOp, source) -> str:
    main = [op.inputs[2], op.inputs[1]] if op.op_type == "TRANSPOSE_CONV" and len(op.inputs) > 2 else op.inputs[:2]
    if op.op_type in ("QUANTIZE", "DEQUANTIZE"):
        main = op.inputs[:1]
    types = [graph.tensors[source(i)].dtype for i in main if i >= 0]
    if types and types[0] == "INT16":
        return "int16"
    if any(t in _INT8 for t in types):
        return "int8"
    if "FLOAT16" in types:
        return "fp16"
    return "fp32"
