"""Layer geometry of conv/GEMM nodes: what a device cost model needs beyond MACs and bytes.

``graph.OpCost`` says how much work and traffic a node has; how fast a kernel does that work
depends on its shape: kernel size and stride, input/output channels (padded up to the SIMD
tile), groups, the output's spatial size (how many output pixels share one weight load), and
how many of the bytes are weights (they stream from flash on a microcontroller, and from host
memory on an Edge TPU whose parameter cache is full). :class:`LayerShape` holds those facts;
``OpCost.shape`` carries one for every conv-like row.

Any graph reader can fill it: :func:`onnx_layer_shapes` does it for ONNX (NCHW, weights as
initializers, QDQ weights followed back to their int8 storage); a TFLite reader builds the same
record from a CONV_2D / DEPTHWISE_CONV_2D / FULLY_CONNECTED filter (``[Cout, kh, kw, Cin/g]``).
A row without a shape is still costed, from its class, MACs and bytes alone.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace

import numpy as np
import onnx

CONV_OPS = {"Conv", "ConvInteger", "QLinearConv", "ConvTranspose"}
GEMM_OPS = {"Gemm", "MatMul", "MatMulInteger", "QLinearMatMul"}


@dataclass(frozen=True)
class LayerShape:
    """Geometry of one conv-like node (batch 1).

    Attributes:
        cin: Input channels (the reduction's channel count; ``K`` of a GEMM).
        cout: Output channels (``N`` of a GEMM).
        groups: Convolution groups (``cin`` for a depthwise conv, 1 for dense and GEMM).
        kernel: ``(kh, kw)``; ``(1, 1)`` for a GEMM.
        stride: ``(sh, sw)``.
        out_hw: Output spatial size ``(h, w)``; a GEMM's ``(M, 1)``.
        weight_bytes: Bytes of the weights and bias as stored (int8 weights: 1 byte each).
    """

    cin: int
    cout: int
    groups: int = 1
    kernel: tuple[int, int] = (1, 1)
    stride: tuple[int, int] = (1, 1)
    out_hw: tuple[int, int] = (1, 1)
    weight_bytes: int = 0

    @property
    def reduction(self) -> int:
        """Multiply-accumulates per output element: ``kh x kw x cin / groups``."""
        return self.kernel[0] * self.kernel[1] * max(1, self.cin // max(1, self.groups))

    @property
    def outputs(self) -> int:
        """Output elements: ``h x w x cout``."""
        return self.out_hw[0] * self.out_hw[1] * self.cout

    @property
    def depthwise(self) -> bool:
        return self.groups > 1 and self.groups == self.cin

    @property
    def grouped(self) -> bool:
        """A grouped (not depthwise) convolution: 1 < groups < cin."""
        return 1 < self.groups < self.cin


def _attr(node: onnx.NodeProto, name: str, default=None):
    for attribute in node.attribute:
        if attribute.name == name:
            return onnx.helper.get_attribute_value(attribute)
    return default


def _pair(values, default: int = 1) -> tuple[int, int]:
    values = list(values or [])
    if not values:
        return default, default
    return (int(values[0]), int(values[1])) if len(values) > 1 else (int(values[0]), 1)


def onnx_layer_shapes(model: onnx.ModelProto, table) -> list[LayerShape | None]:
    """One :class:`LayerShape` (or None) per node of a static graph, in graph order.

    Args:
        model: A graph with every shape inferred (``graph.load_static``).
        table: Its ``graph.TensorTable``.
    """
    nodes = list(model.graph.node)
    producer = {out: n for n in nodes for out in n.output}

    def stored(name: str) -> str:
        """Follow DequantizeLinear (QDQ weights) back to the stored tensor."""
        for _ in range(4):
            node = producer.get(name)
            if node is None or node.op_type != "DequantizeLinear":
                break
            name = node.input[0]
        return name

    def weight_bytes(names) -> int:
        total = 0
        for name in names:
            src = stored(name)
            if src in table.initializers:
                total += table.nbytes(src)
        return total

    return [_shape_of(node, table, weight_bytes) for node in nodes]


def _shape_of(node: onnx.NodeProto, table, weight_bytes) -> LayerShape | None:
    op = node.op_type
    if op in CONV_OPS:
        if op == "QLinearConv":
            x, w, extra = node.input[0], node.input[3], node.input[8:9]
        else:
            x, w, extra = node.input[0], node.input[1], node.input[2:3]
        xs, ws, ys = table.shape.get(x), table.shape.get(w), table.shape.get(node.output[0])
        if xs is None or ws is None or ys is None or len(xs) < 3 or len(ys) < 3:
            return None
        kernel = _pair(ws[2:]) if len(ws) > 2 else (1, 1)
        out_hw = (int(ys[2]), int(ys[3]) if len(ys) > 3 else 1)
        return LayerShape(cin=int(xs[1]), cout=int(ys[1]), groups=int(_attr(node, "group", 1)), kernel=kernel,
                          stride=_pair(_attr(node, "strides")), out_hw=out_hw,
                          weight_bytes=weight_bytes([w, *extra]))
    if op in GEMM_OPS:
        a = table.shape.get(node.input[0])
        y = table.shape.get(node.output[0])
        if a is None or y is None or not a or not y:
            return None
        k = int(a[0]) if op == "Gemm" and _attr(node, "transA", 0) else int(a[-1])
        rows = int(np.prod(y[:-1], dtype=np.int64)) if len(y) > 1 else 1
        weights = [name for name in node.input[1:] if name]
        return LayerShape(cin=k, cout=int(y[-1]), out_hw=(rows, 1), weight_bytes=weight_bytes(weights))
    return None


def costs_with_shapes(onnx_path: str | os.PathLike | onnx.ModelProto, batch: int = 1) -> list:
    """``graph.op_costs`` rows of an ONNX graph, each conv-like row with its :class:`LayerShape`.

    Raises:
        Whatever ``graph.op_costs`` raises for a graph it cannot cost.
    """
    from .graph import TensorTable, load_static, op_costs

    static = load_static(onnx_path, batch)
    rows = op_costs(static, batch)
    shapes = onnx_layer_shapes(static, TensorTable(static))
    if len(shapes) != len(rows):  # op_costs is one row per node; guard against a reader change
        raise RuntimeError(f"{len(rows)} cost rows but {len(shapes)} nodes")
    return [replace(row, shape=shape) if shape is not None else row for row, shape in zip(rows, shapes)]
