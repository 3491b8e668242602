"""Memory a model needs: weights, the activation arena (from tensor liveness), host RSS.

The arena is what an MCU runtime such as TFLite Micro must be given up front, and what users
otherwise find by trial and error. It is computed offline from the ONNX graph:

* Schedule: the graph's node order (ONNX requires it to be topological), batch 1.
* A tensor is alive from the step that produces it (graph inputs: from step 0) to its last
  consumer (graph outputs: to the end). At each step the inputs and the outputs of the node
  are alive together, because a kernel reads the one while writing the other.
* Buffers, not tensors, take memory. No new buffer is allocated for views (Reshape, Flatten,
  Squeeze, Unsqueeze, Identity, Dropout), for Relu/Clip (runtimes fuse them into the producing
  conv or run them in place), for an Add/Mul/Sub whose input buffer dies at that step and has
  the output's size (computed in place), or for folded Q/DQ nodes (see ``graph.py``: an int8
  kernel writes int8 directly, so a tensor consumed only by QuantizeLinear is 1 byte/element).
* Weights (initializers and Constant nodes) are not in the arena: they are read from flash on
  an MCU and counted separately as ``weights_bytes``.

The peak is the maximum over the steps of the bytes of the buffers alive at that step. It is
exact for a runtime that gives each buffer its own region; a planner that packs regions
(TFLM's greedy planner) needs at least this much, and usually exactly this for chains.
"""

from __future__ import annotations

import os

import onnx

from .buffers import BufferPlan
from .graph import TensorTable, graph_file_bytes, itemsize, load_static, stored_itemsize

ALIAS_OPS = {"Reshape", "Flatten", "Squeeze", "Unsqueeze", "Identity", "Dropout", "DequantizeLinear",
             "QuantizeLinear"}
INPLACE_UNARY = {"Relu", "Clip"}
INPLACE_BINARY = {"Add", "Mul", "Sub"}


def weights_bytes(model: onnx.ModelProto) -> int:
    """Bytes of every initializer and Constant-node tensor (from dims, no data loaded)."""
    total = sum(_tensor_bytes(init) for init in model.graph.initializer)
    for node in model.graph.node:
        if node.op_type == "Constant":
            for attribute in node.attribute:
                if attribute.name == "value":
                    total += _tensor_bytes(attribute.t)
    return int(total)


def _tensor_bytes(tensor: onnx.TensorProto) -> int:
    count = 1
    for dim in tensor.dims:
        count *= dim
    return count * itemsize(tensor.data_type)


def activation_schedule(model: onnx.ModelProto) -> list[int]:
    """Bytes alive at each step of the (static, shape-inferred) graph; see the module docstring."""
    table = TensorTable(model)
    graph = model.graph
    nodes = list(graph.node)
    weights = set(table.initializers) | {o for n in nodes if n.op_type == "Constant" for o in n.output}
    end = len(nodes)
    last_use: dict[str, int] = {}
    consumers: dict[str, list[onnx.NodeProto]] = {}
    for step, node in enumerate(nodes):
        for name in node.input:
            if name:
                last_use[name] = step
                consumers.setdefault(name, []).append(node)
    for out in graph.output:
        last_use[out.name] = end

    def size(name: str) -> int:
        if name in graph_inputs:  # the caller hands the input over in its own dtype
            return table.nbytes(name)
        return table.nbytes(name, stored_itemsize(name, consumers, table))

    graph_inputs = {v.name for v in graph.input if v.name not in weights}
    plan: BufferPlan[str] = BufferPlan(last_use)
    # A shared buffer keeps its size: a view or in-place op writes no more than it holds, and a
    # DequantizeLinear output is the int8 buffer it reads (folded, see graph.py).
    for name in graph_inputs:
        plan.new(name, 0, size(name))
    alive_at: list[int] = []
    for step, node in enumerate(nodes):
        acts = [x for x in node.input if x and x in plan]
        outputs = [o for o in node.output if o]
        if node.op_type == "Constant" or (node.input and not acts and node.input[0] in weights):
            # a weight transformed (e.g. DequantizeLinear of an int8 weight): still a weight
            weights.update(outputs)
        elif (node.op_type in ALIAS_OPS and acts and node.input[0] in plan and len(outputs) == 1
              and not (node.op_type == "QuantizeLinear" and node.input[0] in graph_inputs)):
            plan.share(outputs[0], node.input[0])
        elif node.op_type in INPLACE_UNARY and acts and node.input[0] in plan:
            plan.share(outputs[0], node.input[0])
        else:
            donor = (plan.donor(acts, step, size(outputs[0]))
                     if node.op_type in INPLACE_BINARY and len(outputs) == 1 else None)
            plan.place_outputs(outputs, step, size, donor)
        alive_at.append(plan.alive_bytes(step))
    return alive_at


def analyze_onnx(onnx_path: str | os.PathLike) -> dict:
    """Weights, peak activation arena and file size of an ONNX model (batch 1).

    Returns:
        ``weights_bytes`` (sum of initializer bytes), ``peak_activation_bytes`` (the arena, see
        the module docstring), ``file_bytes`` (the .onnx plus external data) and
        ``peak_node`` (the node at which the peak occurs).
    """
    model = load_static(onnx_path)
    schedule = activation_schedule(model)
    peak = max(schedule) if schedule else 0
    nodes = model.graph.node
    peak_step = schedule.index(peak) if schedule else None
    return {"weights_bytes": weights_bytes(model), "peak_activation_bytes": int(peak),
            "file_bytes": graph_file_bytes(onnx_path),
            "peak_node": (nodes[peak_step].name or nodes[peak_step].op_type) if peak_step is not None else None}
