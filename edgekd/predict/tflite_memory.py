"""Memory of a ``.tflite`` model: weights, the activation arena from tensor liveness, file size.

The rules of ``memory.py`` (ONNX), adapted to what a TFLite graph is:

* Schedule: the operators in the order they are stored, which is the order the interpreter
  (and TFLite Micro) runs them. Batch 1: the stored shapes.
* A tensor is alive from the step that produces it (graph inputs: from step 0) to its last
  consumer (graph outputs: to the end); a node's inputs and outputs are alive together.
* No new buffer for RESHAPE / SQUEEZE / EXPAND_DIMS (the output is a view of the input: the
  interpreter runs them in place), for a standalone RELU-family op (in place), or for an
  ADD/SUB/MUL whose input dies at that step and has the output's size (computed in place).
  Fused activations need nothing: they are part of the producing op.
* Unlike ONNX Q/DQ stand-ins, a QUANTIZE/DEQUANTIZE left in a TFLite graph is a real kernel
  writing a new buffer (the float input and its int8 copy are alive together), so it gets one.
  A DEQUANTIZE of a constant (a float16 or int8 stored weight) is a weight, not arena.
* Constant tensors are weights (``weights_bytes``): flash on an MCU, not arena.

The peak is exact for a planner that gives each buffer its own region while alive; TFLM also
needs room for its own bookkeeping (tensor structs, op data, scratch buffers), which is why
``edgekd.predict.tflm_arena`` measures the arena in the real interpreter.
"""

from __future__ import annotations

import os

from .buffers import BufferPlan
from .tflite_read import TflGraph, read_tflite

ALIAS_OPS = {"RESHAPE", "SQUEEZE", "EXPAND_DIMS"}
INPLACE_UNARY = {"RELU", "RELU6", "RELU_N1_TO_1", "RELU_0_TO_1"}
INPLACE_BINARY = {"ADD", "SUB", "MUL"}


def tflite_weights_bytes(graph: TflGraph) -> int:
    """Bytes of every constant tensor of the main subgraph (each counted once)."""
    return int(sum(t.nbytes() or 0 for t in graph.tensors if t.const))


def tflite_schedule(graph: TflGraph) -> list[int]:
    """Bytes of activation buffers alive at each operator (see the module docstring)."""
    end = len(graph.ops)
    weights = {t.index for t in graph.tensors if t.const}
    last_use: dict[int, int] = {}
    for step, op in enumerate(graph.ops):
        for index in op.inputs:
            if index >= 0:
                last_use[index] = step
    for index in graph.outputs:
        last_use[index] = end
    plan: BufferPlan[int] = BufferPlan(last_use)

    def nbytes(index: int) -> int:
        return graph.tensors[index].nbytes() or 0

    for index in graph.inputs:
        if index not in weights:
            plan.new(index, 0, nbytes(index))
    alive_at = []
    for step, op in enumerate(graph.ops):
        acts = [i for i in op.inputs if i >= 0 and i in plan]
        outputs = [o for o in op.outputs if o >= 0]
        if op.inputs and not acts and all(i in weights or i < 0 for i in op.inputs):
            weights.update(outputs)  # e.g. DEQUANTIZE of a float16 weight: still a weight
        elif op.op_type in ALIAS_OPS | INPLACE_UNARY and acts and op.inputs[0] in plan and len(outputs) == 1:
            plan.share(outputs[0], op.inputs[0])
        else:
            donor = (plan.donor(acts, step, nbytes(outputs[0]))
                     if op.op_type in INPLACE_BINARY and len(outputs) == 1 else None)
            plan.place_outputs(outputs, step, nbytes, donor)
        alive_at.append(plan.alive_bytes(step))
    return alive_at


def analyze_tflite(path: str | os.PathLike | TflGraph) -> dict:
    """Weights, peak activation arena and file size of a ``.tflite`` model (batch 1).

    Args:
        path: The ``.tflite`` file (or a :class:`TflGraph` read from it).

    Returns:
        ``weights_bytes`` (constant tensors), ``peak_activation_bytes`` (liveness arena, see
        the module docstring), ``file_bytes`` and ``peak_node`` (the op at the peak, named
        ``"<index>:<output tensor>"`` as in ``op_costs_tflite``).

    Raises:
        ModelFileError: The file is not a readable TFLite model.
    """
    graph = path if isinstance(path, TflGraph) else read_tflite(path)
    schedule = tflite_schedule(graph)
    peak = max(schedule) if schedule else 0
    peak_node = None
    if schedule:
        peak_node = graph.op_label(graph.ops[schedule.index(peak)])
    return {"weights_bytes": tflite_weights_bytes(graph), "peak_activation_bytes": int(peak),
            "file_bytes": graph.file_bytes, "peak_node": peak_node}
