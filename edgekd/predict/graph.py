"""Per-op cost table of an ONNX graph: MACs, element ops, bytes read and written.

The graph is made static first: every symbolic dimension of the graph inputs and outputs
(the exporter's dynamic ``batch``) is set to 1 and ``onnx.shape_inference`` fills in every
intermediate shape. Each node then gets an op class (conv / depthwise / pointwise / gemm /
elementwise / pool / other), a precision (fp32 / fp16 / int8) and its cost.

QDQ INT8 graphs: Quantize/DequantizeLinear nodes are *folded*, not costed. Runtimes fuse
``DQ -> Conv -> Q`` into one integer kernel (onnxruntime's QDQ transformer makes
QLinearConv; TFLite/TFLM store the same graph as one int8 CONV_2D), so no separate memory
pass happens: costing Q/DQ as elementwise ops would add a float round trip per tensor that
the device never does. Folding means: a compute node whose input comes through a DQ of an
int8 tensor is an int8 node reading 1-byte elements, and a tensor consumed only by
QuantizeLinear is written as 1-byte elements.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import onnx

VIEW_OPS = {"Reshape", "Flatten", "Squeeze", "Unsqueeze", "Identity", "Dropout"}
QDQ_OPS = {"QuantizeLinear", "DequantizeLinear"}
SHAPE_OPS = {"Shape", "Constant", "ConstantOfShape", "Size"}
# Arithmetic per output element (why: Sigmoid/Softmax need an exp and a divide, HardSwish a
# clip, a multiply and an add). Only the order of magnitude matters: these ops are memory-bound.
ELEMENTWISE_OPS = {"Relu": 1, "Clip": 1, "LeakyRelu": 2, "PRelu": 2, "HardSigmoid": 2, "HardSwish": 3,
                   "Sigmoid": 4, "Tanh": 4, "Mul": 1, "Add": 1, "Sub": 1, "Div": 1, "Sqrt": 1, "Pow": 2,
                   "Exp": 2, "Erf": 4, "Gelu": 6, "Neg": 1, "Abs": 1, "Max": 1, "Min": 1, "Cast": 1,
                   "BatchNormalization": 2, "Softmax": 5, "LogSoftmax": 5, "Swish": 5}
POOL_OPS = {"GlobalAveragePool", "GlobalMaxPool", "AveragePool", "MaxPool", "ReduceMean", "ReduceMax",
            "ReduceSum"}
FUSABLE_ACTIVATIONS = {"Relu", "Clip", "LeakyRelu", "HardSigmoid"}
FUSING_PRODUCERS = {"Conv", "ConvTranspose", "Gemm", "MatMul", "QLinearConv", "ConvInteger"}
INT8_TYPES = {onnx.TensorProto.INT8, onnx.TensorProto.UINT8}


@dataclass
class OpCost:
    """Cost of one node. ``macs`` counts multiply-accumulates of conv/gemm ops; ``ops`` the
    arithmetic of every other op; ``folded`` nodes (Q/DQ, views, constants) cost nothing."""

    name: str
    op_type: str
    op_class: str
    precision: str
    macs: int
    ops: int
    bytes_read: int
    bytes_written: int
    folded: bool = False
    # Geometry of a conv-like node (``layers.LayerShape``) for device cost models; None = not known.
    shape: Any = None


def load_static(onnx_path: str | os.PathLike | onnx.ModelProto, batch: int = 1) -> onnx.ModelProto:
    """Load an ONNX model, set symbolic input/output dims to ``batch`` and infer every shape."""
    model = onnx.load(str(onnx_path), load_external_data=False) if not isinstance(onnx_path, onnx.ModelProto) \
        else onnx.ModelProto.FromString(onnx_path.SerializeToString())
    for value in list(model.graph.input) + list(model.graph.output):
        for dim in value.type.tensor_type.shape.dim:
            if dim.HasField("dim_param") or not dim.HasField("dim_value"):
                dim.Clear()
                dim.dim_value = batch
    del model.graph.value_info[:]  # stale symbolic shapes would win over the static ones
    return onnx.shape_inference.infer_shapes(model, data_prop=True)


def itemsize(elem_type: int) -> int:
    """Bytes per element of an ONNX tensor type (1 for sub-byte or unknown types)."""
    try:
        return int(np.dtype(onnx.helper.tensor_dtype_to_np_dtype(elem_type)).itemsize)
    except (KeyError, TypeError, ValueError):
        return 1


class TensorTable:
    """Shapes and element types of every tensor of a static graph."""

    def __init__(self, model: onnx.ModelProto):
        self.shape: dict[str, tuple[int, ...] | None] = {}
        self.dtype: dict[str, int] = {}
        graph = model.graph
        for value in list(graph.input) + list(graph.value_info) + list(graph.output):
            ttype = value.type.tensor_type
            dims = [d.dim_value if d.HasField("dim_value") else None for d in ttype.shape.dim]
            self.shape[value.name] = None if not ttype.HasField("shape") or None in dims else tuple(dims)
            self.dtype[value.name] = ttype.elem_type
        self.initializers = {init.name: init for init in graph.initializer}
        for init in graph.initializer:
            self.shape[init.name] = tuple(init.dims)
            self.dtype[init.name] = init.data_type

    def elements(self, name: str) -> int | None:
        shape = self.shape.get(name)
        return None if shape is None else int(np.prod(shape, dtype=np.int64))

    def nbytes(self, name: str, size: int | None = None) -> int:
        count = self.elements(name)
        return 0 if count is None else count * (size or itemsize(self.dtype.get(name, 1)))


def _attr(node: onnx.NodeProto, name: str, default=None):
    for attribute in node.attribute:
        if attribute.name == name:
            return onnx.helper.get_attribute_value(attribute)
    return default


def op_costs(onnx_path: str | os.PathLike | onnx.ModelProto, batch: int = 1) -> list[OpCost]:
    """One :class:`OpCost` per node of the graph, in graph (topological) order."""
    model = load_static(onnx_path, batch)
    table = TensorTable(model)
    nodes = list(model.graph.node)
    producer = {out: n for n in nodes for out in n.output}
    consumers: dict[str, list[onnx.NodeProto]] = {}
    for n in nodes:
        for name in n.input:
            consumers.setdefault(name, []).append(n)

    def source(name: str) -> str:
        """Follow DequantizeLinear back to the integer tensor it reads (the folded storage)."""
        seen = 0
        while name in producer and producer[name].op_type == "DequantizeLinear" and seen < 8:
            name, seen = producer[name].input[0], seen + 1
        return name

    def read_size(name: str) -> int:
        return table.nbytes(source(name))

    def write_size(name: str) -> int:
        return table.nbytes(name, stored_itemsize(name, consumers, table))

    costs = []
    for i, node in enumerate(nodes):
        name = node.name or f"{node.op_type}_{i}"
        folded = node.op_type in QDQ_OPS | VIEW_OPS | SHAPE_OPS or _fused_activation(node, producer, consumers)
        op_class, macs, ops = ("other", 0, 0) if folded else _work(node, table)
        inputs = [x for x in node.input if x]
        precision = _precision(node, inputs, table, source)
        costs.append(OpCost(
            name=name, op_type=node.op_type, op_class=op_class, precision=precision, macs=int(macs), ops=int(ops),
            bytes_read=0 if folded else sum(read_size(x) for x in inputs),
            bytes_written=0 if folded else sum(write_size(x) for x in node.output if x),
            folded=folded))
    return costs


def _fused_activation(node: onnx.NodeProto, producer: dict, consumers: dict) -> bool:
    """Relu/Clip/LeakyRelu/HardSigmoid right after a conv or GEMM that feeds only it.

    Every runtime edgekd targets applies such an activation while the conv writes its
    output (onnxruntime FusedConv, TFLite's fused_activation_function, TensorRT, Core ML),
    so it costs no extra pass over memory and no extra dispatch.
    """
    if node.op_type not in FUSABLE_ACTIVATIONS or not node.input:
        return False
    src = producer.get(node.input[0])
    if src is not None and src.op_type == "DequantizeLinear":  # QDQ: look through Q -> DQ
        q = producer.get(src.input[0])
        src = producer.get(q.input[0]) if q is not None and q.op_type == "QuantizeLinear" else None
    return (src is not None and src.op_type in FUSING_PRODUCERS
            and len(consumers.get(src.output[0], [])) == 1)


def stored_itemsize(name: str, consumers: dict[str, list[onnx.NodeProto]], table: TensorTable,
                    depth: int = 0) -> int | None:
    """Element size a runtime really stores ``name`` in, when QDQ folding changes it.

    A float tensor whose every consumer is QuantizeLinear (possibly through Relu/Clip, which
    runtimes fuse into the producer) is written directly as int8 by the fused kernel.
    Returns ``None`` when the tensor keeps its own dtype.
    """
    users = consumers.get(name, [])
    if not users or depth > 4:
        return None
    sizes = []
    for user in users:
        if user.op_type == "QuantizeLinear":
            sizes.append(itemsize(table.dtype.get(user.output[0], onnx.TensorProto.INT8)))
        elif user.op_type in ("Relu", "Clip") and user.output:
            sizes.append(stored_itemsize(user.output[0], consumers, table, depth + 1))
        else:
            return None
    return None if None in sizes else max(sizes)


def _precision(node: onnx.NodeProto, inputs: list[str], table: TensorTable, source) -> str:
    if node.op_type in ("QLinearConv", "ConvInteger", "QLinearMatMul", "MatMulInteger"):
        return "int8"
    main = inputs[:2]  # data and weight; a bias stays int32/float in every int8 scheme
    if main and any(table.dtype.get(source(x)) in INT8_TYPES for x in main):
        return "int8"
    if any(table.dtype.get(x) == onnx.TensorProto.FLOAT16 for x in main):
        return "fp16"
    return "fp32"


def _work(node: onnx.NodeProto, table: TensorTable) -> tuple[str, int, int]:
    """(op class, MACs, other ops) of one node."""
    op = node.op_type
    out = node.output[0] if node.output else ""
    out_elems = table.elements(out) or 0
    if op in ("Conv", "ConvInteger", "QLinearConv", "ConvTranspose"):
        x, w = (node.input[0], node.input[3]) if op == "QLinearConv" else (node.input[0], node.input[1])
        wshape, xshape = table.shape.get(w), table.shape.get(x)
        if wshape is None or xshape is None:
            return "conv", 0, 0
        group = int(_attr(node, "group", 1))
        kernel = int(np.prod(wshape[2:], dtype=np.int64))
        cin = xshape[1]
        if op == "ConvTranspose":  # every input element scatters into Cout/group x kernel outputs
            macs = int(np.prod(xshape, dtype=np.int64)) * wshape[1] * kernel
        else:
            macs = out_elems * (cin // group) * kernel
        if group > 1 and group == cin:
            return "depthwise", macs, 0
        if kernel == 1 and group == 1:
            return "pointwise", macs, 0
        return "conv", macs, 0
    if op == "Gemm":
        a = table.shape.get(node.input[0])
        if a is None or len(a) != 2:
            return "gemm", 0, 0
        k = a[0] if _attr(node, "transA", 0) else a[1]
        return "gemm", out_elems * k, 0
    if op in ("MatMul", "MatMulInteger", "QLinearMatMul"):
        a = table.shape.get(node.input[0])
        return "gemm", (out_elems * a[-1]) if a else 0, 0
    if op in POOL_OPS:
        if op.startswith("Global") or op.startswith("Reduce"):
            return "pool", 0, table.elements(node.input[0]) or 0
        kernel = int(np.prod(_attr(node, "kernel_shape", [1]), dtype=np.int64))
        return "pool", 0, out_elems * kernel
    if op in ELEMENTWISE_OPS:
        return "elementwise", 0, out_elems * ELEMENTWISE_OPS[op]
    return "other", 0, out_elems  # Concat, Transpose, Pad, Resize...: data movement, counted as 1 op/element


def summarize(costs: list[OpCost]) -> dict:
    """Totals of a cost table: MACs, ops, bytes and node counts per op class."""
    live = [c for c in costs if not c.folded]
    by_class: dict[str, int] = {}
    for c in live:
        by_class[c.op_class] = by_class.get(c.op_class, 0) + 1
    return {"macs": sum(c.macs for c in live), "ops": sum(c.ops for c in live),
            "bytes_read": sum(c.bytes_read for c in live), "bytes_written": sum(c.bytes_written for c in live),
            "nodes": len(costs), "folded": len(costs) - len(live), "by_class": by_class}


def graph_file_bytes(onnx_path: str | os.PathLike) -> int:
    """Bytes of the ONNX file plus any external-data files it references."""
    path = Path(onnx_path)
    model = onnx.load(str(path), load_external_data=False)
    extra = set()
    for init in model.graph.initializer:
        for entry in init.external_data:
            if entry.key == "location":
                extra.add(entry.value)
    return path.stat().st_size + sum((path.parent / f).stat().st_size for f in extra if (path.parent / f).is_file())
