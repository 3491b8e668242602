"""Per-op cost table of an ONNX graph: MACs, element ops, bytes read and written.

The graph is made static first: every symbolic dimension of the graph inputs and outputs
(the exporter's dynamic ``batch``) is set to 1 and ``onnx.shape_inference`` fills in every
intermediate shape. Each node then gets an op class (conv / depthwise / pointwise / gemm /
elementwise / pool / other), a precision (fp32 / fp16 / int8) and its cost.

Shapes are always concrete. When ``onnx.shape_inference`` leaves a tensor's shape unknown
(TF-"same" padding computed at run time from ``Shape`` ops, as in EfficientNet-EdgeTPU ports;
a torch export with dynamic H/W whose pads depend on the input size), the graph is run once
in onnxruntime on a zero input of the fixed shape with every intermediate tensor as an output
(``edgekd.runtimes.onnx_runner.intermediate_shapes``) and the real shapes are used. A node
whose cost still cannot be derived raises :class:`UncostableGraphError` naming the op and
the node: a cost table that silently counts 0 MACs for a conv predicts latencies 50x too low.

Grouped convolutions (1 < group < Cin) are their own class, ``grouped``: their kernels
run far from both the dense and the depthwise rates.

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

from ..errors import BadInputError

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


class UncostableGraphError(BadInputError):
    """A node's cost cannot be derived (its shapes stay unknown), so no honest total exists."""


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
    fused: str = ""  # an activation applied while this node writes its output ("relu", "relu6", ...)
    # Geometry of a conv-like node (``layers.LayerShape``) for device cost models; None = not known.
    shape: Any = None


def load_static(onnx_path: str | os.PathLike | onnx.ModelProto, batch: int = 1,
                input_shape: tuple[int, ...] | list[int] | None = None) -> onnx.ModelProto:
    """Load an ONNX model with every tensor shape concrete (see the module docstring).

    Args:
        onnx_path: The ``.onnx`` file or a loaded model (not modified).
        batch: Value of a symbolic first (batch) dimension of the inputs.
        input_shape: Full shape of the first input (batch included), for graphs whose other
            input dimensions are symbolic too (e.g. dynamic H/W). Ignored dims must match.

    Raises:
        UncostableGraphError: An input has a symbolic dimension besides the batch and no
            ``input_shape`` fixes it.
    """
    model = onnx.load(str(onnx_path), load_external_data=False) if not isinstance(onnx_path, onnx.ModelProto) \
        else onnx.ModelProto.FromString(onnx_path.SerializeToString())
    weights = {init.name for init in model.graph.initializer}
    data_inputs = [v for v in model.graph.input if v.name not in weights]
    for position, value in enumerate(data_inputs):
        _fix_input_dims(value, batch, input_shape if position == 0 else None)
    for value in model.graph.output:  # symbolic output dims: left for inference to fill
        for dim in value.type.tensor_type.shape.dim:
            if not dim.HasField("dim_value"):
                dim.Clear()
    del model.graph.value_info[:]  # stale symbolic shapes would win over the static ones
    inferred = onnx.shape_inference.infer_shapes(model, data_prop=True)
    missing = _unknown_shapes(inferred)
    if missing:
        _run_for_shapes(inferred, onnx_path, missing)
    return inferred


def _fix_input_dims(value: onnx.ValueInfoProto, batch: int, shape) -> None:
    dims = value.type.tensor_type.shape.dim
    if shape is not None and len(shape) != len(dims):
        raise UncostableGraphError(f"input {value.name!r} has rank {len(dims)}, the given input shape "
                                   f"{list(shape)} has rank {len(shape)}", fix="give the model's full input shape")
    for i, dim in enumerate(dims):
        if dim.HasField("dim_value") and dim.dim_value > 0:
            continue
        if shape is not None:
            size = int(shape[i])
        elif i == 0:
            size = batch
        else:
            text = ",".join(d.dim_param or "?" if not d.HasField("dim_value") else str(d.dim_value) for d in dims)
            raise UncostableGraphError(f"input {value.name!r} has dynamic dimensions [{text}]: its cost depends on "
                                       "the input size", fix="give the input shape, or export with a fixed shape")
        dim.Clear()
        dim.dim_value = size


def _unknown_shapes(model: onnx.ModelProto) -> list[str]:
    """Node outputs whose shape inference left a dimension (or the whole shape) unknown."""
    known = {}
    for value in list(model.graph.input) + list(model.graph.value_info) + list(model.graph.output):
        ttype = value.type.tensor_type
        known[value.name] = ttype.HasField("shape") and all(d.HasField("dim_value") for d in ttype.shape.dim)
    return [out for node in model.graph.node for out in node.output
            if out and not known.get(out, False) and node.op_type not in SHAPE_OPS | {"Constant"}]


def _run_for_shapes(model: onnx.ModelProto, onnx_path, missing: list[str]) -> None:
    """Write the shapes onnxruntime really produces for ``missing`` tensors into ``model``."""
    from ..runtimes.onnx_runner import intermediate_shapes

    full = onnx_path if isinstance(onnx_path, onnx.ModelProto) else onnx.load(str(onnx_path))
    weights = {init.name for init in full.graph.initializer}
    feeds = {}
    for value in model.graph.input:
        if value.name in weights:
            continue
        ttype = value.type.tensor_type
        dtype = onnx.helper.tensor_dtype_to_np_dtype(ttype.elem_type)
        feeds[value.name] = np.zeros([d.dim_value for d in ttype.shape.dim], dtype)
    try:
        shapes = intermediate_shapes(full, feeds, missing)
    except BadInputError:  # the runtime cannot run it either: the costing names the node that stays unknown
        return
    by_name = {v.name: v for v in list(model.graph.value_info) + list(model.graph.output)}
    for name, (shape, dtype) in shapes.items():
        value = by_name.get(name)
        if value is None:
            value = model.graph.value_info.add()
            value.name = name
        ttype = value.type.tensor_type
        if not ttype.elem_type:
            ttype.elem_type = onnx.helper.np_dtype_to_tensor_dtype(np.dtype(dtype))
        ttype.shape.Clear()
        for size in shape:
            ttype.shape.dim.add().dim_value = int(size)


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
            self.shape[value.name] = None if not ttype.HasField("shape") or None in dims \
                else tuple(int(d) for d in dims if d is not None)
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


def op_costs(onnx_path: str | os.PathLike | onnx.ModelProto, batch: int = 1,
             input_shape: tuple[int, ...] | list[int] | None = None) -> list[OpCost]:
    """One :class:`OpCost` per node of the graph, in graph (topological) order.

    Args:
        onnx_path: The ``.onnx`` file or a loaded model.
        batch: Value of the symbolic batch dimension.
        input_shape: Full shape of the first input when it has other symbolic dims (see
            :func:`load_static`).

    Raises:
        UncostableGraphError: A node's shapes stay unknown, or an input is dynamic beyond the batch.
    """
    model = load_static(onnx_path, batch, input_shape)
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

    costs: list[OpCost] = []
    row_of: dict[int, int] = {}
    for i, node in enumerate(nodes):
        name = node.name or f"{node.op_type}_{i}"
        row_of[id(node)] = i
        fuser = _fusing_producer(node, producer, consumers)
        if fuser is not None:
            costs[row_of[id(fuser)]].fused = node.op_type.lower()
        folded = node.op_type in QDQ_OPS | VIEW_OPS | SHAPE_OPS or fuser is not None
        op_class, macs, ops = ("other", 0, 0) if folded else node_work(node, table, name)
        inputs = [x for x in node.input if x]
        precision = _precision(node, inputs, table, source)
        costs.append(OpCost(
            name=name, op_type=node.op_type, op_class=op_class, precision=precision, macs=int(macs), ops=int(ops),
            bytes_read=0 if folded else sum(read_size(x) for x in inputs),
            bytes_written=0 if folded else sum(write_size(x) for x in node.output if x),
            folded=folded))
    return costs


def _fusing_producer(node: onnx.NodeProto, producer: dict, consumers: dict) -> onnx.NodeProto | None:
    """The conv/GEMM a Relu/Clip/LeakyRelu/HardSigmoid right after it (its only consumer) fuses into.

    Every runtime edgekd targets applies such an activation while the conv writes its
    output (onnxruntime FusedConv, TFLite's fused_activation_function, TensorRT, Core ML),
    so it costs no extra pass over memory and no extra dispatch.
    """
    if node.op_type not in FUSABLE_ACTIVATIONS or not node.input:
        return None
    src = producer.get(node.input[0])
    if src is not None and src.op_type == "DequantizeLinear":  # QDQ: look through Q -> DQ
        q = producer.get(src.input[0])
        src = producer.get(q.input[0]) if q is not None and q.op_type == "QuantizeLinear" else None
    fuses = src is not None and src.op_type in FUSING_PRODUCERS and len(consumers.get(src.output[0], [])) == 1
    return src if fuses else None


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
    sizes: list[int | None] = []
    for user in users:
        if user.op_type == "QuantizeLinear":
            sizes.append(itemsize(table.dtype.get(user.output[0], onnx.TensorProto.INT8)))
        elif user.op_type in ("Relu", "Clip") and user.output:
            sizes.append(stored_itemsize(user.output[0], consumers, table, depth + 1))
        else:
            return None
    known = [size for size in sizes if size is not None]
    return max(known) if len(known) == len(sizes) else None


def _precision(node: onnx.NodeProto, inputs: list[str], table: TensorTable, source) -> str:
    if node.op_type in ("QLinearConv", "ConvInteger", "QLinearMatMul", "MatMulInteger"):
        return "int8"
    main = inputs[:2]  # data and weight; a bias stays int32/float in every int8 scheme
    if main and any(table.dtype.get(source(x)) in INT8_TYPES for x in main):
        return "int8"
    if any(table.dtype.get(x) == onnx.TensorProto.FLOAT16 for x in main):
        return "fp16"
    return "fp32"


def _known(table: TensorTable, name: str, node: onnx.NodeProto, label: str) -> tuple[int, ...]:
    """The shape of ``name``, or :class:`UncostableGraphError` naming the node (never a silent 0)."""
    shape = table.shape.get(name)
    if shape is None:
        raise UncostableGraphError(f"cannot cost {node.op_type} node {label!r}: the shape of {name!r} is unknown "
                                   "after shape inference and an onnxruntime run",
                                   fix="export the model with a fixed input shape (or run onnxslim on it)")
    return shape


def node_work(node: onnx.NodeProto, table: TensorTable, label: str = "") -> tuple[str, int, int]:
    """(op class, MACs, other ops) of one node; raises :class:`UncostableGraphError` on unknown shapes."""
    op = node.op_type
    out_elems = int(np.prod(_known(table, node.output[0], node, label), dtype=np.int64)) if node.output else 0
    if op in ("Conv", "ConvInteger", "QLinearConv", "ConvTranspose"):
        x, w = (node.input[0], node.input[3]) if op == "QLinearConv" else (node.input[0], node.input[1])
        wshape, xshape = _known(table, w, node, label), _known(table, x, node, label)
        group = int(_attr(node, "group", 1))
        kernel = int(np.prod(wshape[2:], dtype=np.int64))
        cin = xshape[1]
        if op == "ConvTranspose":  # every input element scatters into Cout/group x kernel outputs
            macs = int(np.prod(xshape, dtype=np.int64)) * wshape[1] * kernel
        else:
            macs = out_elems * (cin // group) * kernel
        if group > 1:
            return ("depthwise" if group == cin else "grouped"), macs, 0
        return ("pointwise" if kernel == 1 else "conv"), macs, 0
    if op == "Gemm":
        a = _known(table, node.input[0], node, label)
        k = a[0] if _attr(node, "transA", 0) else a[-1]
        return "gemm", out_elems * k, 0
    if op in ("MatMul", "MatMulInteger", "QLinearMatMul"):
        return "gemm", out_elems * _known(table, node.input[0], node, label)[-1], 0
    if op in POOL_OPS:
        if op.startswith(("Global", "Reduce")):
            return "pool", 0, int(np.prod(_known(table, node.input[0], node, label), dtype=np.int64))
        kernel = int(np.prod(_attr(node, "kernel_shape", [1]), dtype=np.int64))
        return "pool", 0, out_elems * kernel
    if op in ELEMENTWISE_OPS:
        return "elementwise", 0, out_elems * ELEMENTWISE_OPS[op]
    return "other", 0, out_elems  # Concat, Transpose, Pad, Resize...: data movement, counted as 1 op/element


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
