"""Read a ``.tflite`` flatbuffer into a small table of tensors and operators.

The parser is the flatbuffer bindings LiteRT ships (``ai_edge_litert.schema_py_generated``,
the same generated code as the ``tflite`` package but for the exact schema of the pinned
runtime and converter). It reads the file without building an interpreter, so a model with
a custom op or an op the host runtime lacks can still be read, and it gives what the
interpreter's op details do not: builtin options (fused activation, strides, pool window),
which tensors are constants and the operator codes of custom ops.

Only the main subgraph (index 0) is read: it is what the interpreter runs; ops that call
other subgraphs (WHILE, IF, CALL_ONCE) are reported as unknown by the costing layers.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import ModelFileError

# Bits per element of each TensorType name (sub-byte types are packed).
_TYPE_BITS = {"FLOAT32": 32, "FLOAT16": 16, "BFLOAT16": 16, "INT32": 32, "UINT8": 8, "INT64": 64, "STRING": 8,
              "BOOL": 8, "INT16": 16, "COMPLEX64": 64, "INT8": 8, "FLOAT64": 64, "COMPLEX128": 128, "UINT64": 64,
              "RESOURCE": 8, "VARIANT": 8, "UINT32": 32, "UINT16": 16, "INT4": 4, "INT2": 2, "UINT4": 4}
_FIX = "re-export the model (tf.lite.TFLiteConverter or litert_torch); the file may be truncated or not a .tflite"


@dataclass
class TflTensor:
    """One tensor of the main subgraph.

    Attributes:
        shape: Concrete shape (batch 1); ``None`` while a dimension is dynamic (-1).
        dtype: TensorType name, e.g. ``"INT8"``.
        const: Whether the tensor has data in the file (a weight, bias or constant operand).
    """

    index: int
    name: str
    shape: tuple[int, ...] | None
    dtype: str
    const: bool
    signature: tuple[int, ...] = ()

    @property
    def elements(self) -> int | None:
        return None if self.shape is None else int(math.prod(self.shape))

    def nbytes(self) -> int | None:
        """Bytes the tensor takes (sub-byte types packed), ``None`` when its shape is unknown."""
        count = self.elements
        return None if count is None else -(-count * _TYPE_BITS.get(self.dtype, 8) // 8)


@dataclass
class TflOp:
    """One operator: its name (``CONV_2D``, ``CUSTOM:name``), tensor indices and builtin options."""

    index: int
    op_type: str
    inputs: list[int]
    outputs: list[int]
    options: object = None
    subgraphs: list[int] = field(default_factory=list)


@dataclass
class TflGraph:
    """The main subgraph of a ``.tflite`` file, in execution order."""

    path: Path
    tensors: list[TflTensor]
    ops: list[TflOp]
    inputs: list[int]
    outputs: list[int]
    file_bytes: int

    def producers(self) -> dict[int, TflOp]:
        return {t: op for op in self.ops for t in op.outputs}

    def consumers(self) -> dict[int, list[TflOp]]:
        users: dict[int, list[TflOp]] = {}
        for op in self.ops:
            for t in op.inputs:
                if t >= 0:
                    users.setdefault(t, []).append(op)
        return users

    def op_label(self, op: TflOp) -> str:
        """``"<index>:<name>"``: TFLite ops have no names, so the first name of the op's output tensor
        (converters join fused ops' names with ``;``) made unique by the op's index."""
        out = op.outputs[0] if op.outputs else -1
        name = self.tensors[out].name.split(";")[0] if out >= 0 else ""
        return f"{op.index}:{(name or op.op_type)[-120:]}"

    def dynamic(self) -> list[int]:
        """Indices of non-constant tensors whose shape is still unknown."""
        return [t.index for t in self.tensors if t.shape is None]


def _names(enum_class) -> dict[int, str]:
    return {value: key for key, value in vars(enum_class).items() if not key.startswith("_")}


def _text(value) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value or "")


def read_tflite(path: str | os.PathLike) -> TflGraph:
    """Parse a ``.tflite`` file (subgraph 0) into a :class:`TflGraph`.

    Dynamic dimensions (-1 in the stored shape) are resolved by allocating the model once in
    LiteRT with batch 1 (``edgekd.runtimes.litert_runner.tensor_shapes``); a shape that stays
    unknown is left ``None`` for the caller to report.

    Raises:
        ModelFileError: Missing, empty or not a TFLite flatbuffer.
    """
    path = Path(path)
    if not path.is_file() or path.stat().st_size < 8:
        raise ModelFileError(f"TFLite model {path} is missing or empty", fix=_FIX)
    data = path.read_bytes()
    if data[4:8] != b"TFL3":
        raise ModelFileError(f"{path} is not a TFLite flatbuffer (no TFL3 identifier)", fix=_FIX)
    from ai_edge_litert import schema_py_generated as fb

    try:
        model = fb.ModelT.InitFromPackedBuf(data, 0)
        sub = model.subgraphs[0]
    except Exception as exc:  # noqa: BLE001 - struct.error / IndexError / UnicodeError on a truncated buffer
        raise ModelFileError(f"cannot read TFLite model {path}: {exc.__class__.__name__}", fix=_FIX) from None
    builtin, types = _names(fb.BuiltinOperator), _names(fb.TensorType)
    tensors = [_tensor(i, t, model.buffers, types) for i, t in enumerate(sub.tensors or [])]
    ops = []
    for i, op in enumerate(sub.operators or []):
        code = model.operatorCodes[op.opcodeIndex]
        name = builtin.get(max(code.builtinCode, code.deprecatedBuiltinCode), "UNKNOWN")
        if name == "CUSTOM":
            name = f"CUSTOM:{_text(code.customCode)}"
        inputs = [int(x) for x in (op.inputs if op.inputs is not None else [])]
        outputs = [int(x) for x in (op.outputs if op.outputs is not None else [])]
        ops.append(TflOp(i, name, inputs, outputs, op.builtinOptions, _called_subgraphs(op.builtinOptions)))
    graph = TflGraph(path, tensors, ops, [int(x) for x in sub.inputs], [int(x) for x in sub.outputs], len(data))
    if graph.dynamic():
        _resolve_dynamic(graph)
    return graph


def _tensor(index: int, tensor, buffers, types: dict[int, str]) -> TflTensor:
    buffer = buffers[tensor.buffer] if 0 < tensor.buffer < len(buffers) else None
    # Files over 2 GB keep buffers after the flatbuffer (offset > 1) instead of inline data.
    const = buffer is not None and ((buffer.data is not None and len(buffer.data) > 0)
                                    or int(getattr(buffer, "offset", 0) or 0) > 1)
    dims = tuple(int(d) for d in (tensor.shape if tensor.shape is not None else ()))
    signature = tuple(int(d) for d in tensor.shapeSignature) if tensor.shapeSignature is not None else dims
    # The stored shape has 1 where the signature is dynamic (-1): right for the batch (costed at 1),
    # a silent wrong size anywhere else, so such a shape is unknown until resolved.
    shape = None if any(d < 0 for d in dims) or any(d < 0 for d in signature[1:]) else dims
    return TflTensor(index, _text(tensor.name), shape, types.get(tensor.type, "UNKNOWN"), const, signature)


def _called_subgraphs(options) -> list[int]:
    """Subgraph indices a control-flow op (WHILE/IF/CALL_ONCE) runs."""
    names = ("condSubgraphIndex", "bodySubgraphIndex", "thenSubgraphIndex", "elseSubgraphIndex", "initSubgraphIndex")
    return [int(getattr(options, n)) for n in names if options is not None and hasattr(options, n)]


def _resolve_dynamic(graph: TflGraph) -> None:
    """Fill unknown shapes from a LiteRT run at batch 1 (best effort: unresolved stay None).

    Only when every input is static but for its batch: a dynamic input size (H, W) has no
    value to run with, so its shapes stay unknown and costing reports them.
    """
    from ..runtimes.litert_runner import tensor_shapes

    if any(d < 0 for i in graph.inputs for d in graph.tensors[i].signature[1:]):
        return
    try:
        shapes = tensor_shapes(graph.path)
    except Exception:  # noqa: BLE001 - an interpreter that cannot allocate leaves shapes unknown
        return
    for index in graph.dynamic():
        shape = shapes.get(index)
        if shape is not None and all(d >= 0 for d in shape):
            graph.tensors[index].shape = tuple(int(d) for d in shape)
