"""An ONNX teacher: a black box in onnxruntime (CPU), plus its size read from the graph."""

from __future__ import annotations

import math
from pathlib import Path

from ..errors import ModelFileError
from .blackbox import RunnerTeacher, check_file
from .schema import OnnxTeacher

_FIX = "re-export the model (torch.onnx.export); the file may be truncated or not an ONNX model"


class OnnxTeacherModel(RunnerTeacher):
    """The first input and first output of an ONNX model, run in onnxruntime (:class:`OrtRunner`).

    Args:
        path: The ``.onnx`` file.
        threads: onnxruntime intra-op threads.

    Raises:
        ModelFileError: Missing, empty, truncated or invalid file; a non-float input; more
            than one input.
    """

    kind = "onnx"
    prefer_layout = "nchw"

    def __init__(self, path: Path, threads: int = 2):
        from ..runtimes.onnx_runner import OrtRunner

        check_file(path, "onnx")
        try:
            runner = OrtRunner(path, threads)
        except ModelFileError as exc:
            raise ModelFileError(f"teacher {path.name} (onnx): {exc.message}", fix=exc.fix or _FIX) from None
        super().__init__(path, runner)

    def size(self, input_shape) -> tuple[int, int | None]:
        """Parameters (initializer elements) and MACs of Conv/Gemm/MatMul for one sample."""
        try:
            return onnx_params_macs(self.path, [1, *self.model_input(input_shape)])
        except Exception:  # shape inference is best effort: a size is not worth failing a build
            return 0, None


def onnx_params_macs(path: Path, input_shape: list[int | None]) -> tuple[int, int | None]:
    """Count parameters and per-sample MACs of an ONNX graph.

    Same convention as ``edgekd.students.count_params_macs``: Conv (grouped included), Gemm
    and MatMul multiply-accumulates; everything else is free. Shapes come from ONNX shape
    inference with the input fixed to ``input_shape``.

    Args:
        path: The ``.onnx`` file.
        input_shape: The first input's full shape (batch 1); ``None`` dims are left as they are.

    Returns:
        ``(params, macs)``; ``macs`` is ``None`` when a counted node's shape cannot be inferred.
    """
    import onnx

    model = onnx.load(str(path))
    graph = model.graph
    inits = {t.name: list(t.dims) for t in graph.initializer}
    params = sum(math.prod(d) for d in inits.values())
    first = next(i for i in graph.input if i.name not in inits)
    for dim, value in zip(first.type.tensor_type.shape.dim, input_shape):
        if value is not None:
            dim.Clear()
            dim.dim_value = int(value)
    inferred = onnx.shape_inference.infer_shapes(model)
    shapes: dict[str, list[int | None]] = dict(inits)
    for vi in [*inferred.graph.value_info, *inferred.graph.input, *inferred.graph.output]:
        shapes[vi.name] = [d.dim_value if d.HasField("dim_value") else None for d in vi.type.tensor_type.shape.dim]
    macs = 0
    for node in inferred.graph.node:
        if node.op_type not in ("Conv", "Gemm", "MatMul"):
            continue
        if node.op_type == "MatMul" and node.input[1] not in inits:
            continue  # activation x activation (attention): not a Linear, not counted (as in the counter)
        out = shapes.get(node.output[0])
        weight = shapes.get(node.input[1])
        if not out or not weight or None in out or None in weight:
            return int(params), None
        per_sample = math.prod(out) // max(out[0], 1) if node.op_type == "Conv" or len(out) > 2 else out[-1]
        if node.op_type == "Conv":  # weight [Cout, Cin/groups, k...]
            macs += per_sample * math.prod(weight[1:])
        elif node.op_type == "Gemm":  # [M, K] x [K, N] (either transposed): K = |B| / N
            macs += per_sample * (math.prod(weight) // max(out[-1], 1))
        else:
            a = shapes.get(node.input[0])
            if not a or a[-1] is None:
                return int(params), None
            macs += (math.prod(out) // max(out[0], 1)) * a[-1]
    return int(params), int(macs)


def load_onnx_teacher(cfg: OnnxTeacher) -> tuple[OnnxTeacherModel, str]:
    """Open an ONNX teacher (see :class:`OnnxTeacherModel`)."""
    model = OnnxTeacherModel(cfg.path)
    return model, f"ONNX teacher {cfg.path.name} (onnxruntime, black box)"
