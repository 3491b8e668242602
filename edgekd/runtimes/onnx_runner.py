"""Run an ONNX model in onnxruntime behind the Runner interface."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import ModelFileError
from .base import CHUNK, as_batch, check_model_file, chunked


def ort_session(path: str | Path, threads: int = 1, model_bytes: bytes | None = None):
    """An onnxruntime CPU session: ``threads`` intra-op, 1 inter-op, sequential execution.

    Sequential execution with one inter-op thread makes latency depend on the intra-op
    setting alone, which is what a device profile's thread count means.

    Raises:
        ModelFileError: The file is missing, empty, truncated or not a valid ONNX model.
    """
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = max(1, int(threads))
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.log_severity_level = 3  # warnings about unused initializers are not the user's problem
    source = model_bytes if model_bytes is not None else str(path)
    if model_bytes is None:
        check_model_file(path, "ONNX")
    try:
        return ort.InferenceSession(source, sess_options=opts, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own Fail/InvalidProtobuf types
        reason = " ".join(str(exc).split())[:200]
        raise ModelFileError(f"cannot load ONNX model {path}: {reason}",
                             fix="re-export the model (the file may be truncated or not an ONNX model)") from exc


class OrtRunner:
    """An ONNX model in onnxruntime (CPU).

    Works with a dynamic batch dimension (chunks of 256) or a fixed batch of 1 (one
    sample at a time). The first input and first output are used.

    Args:
        path: The ``.onnx`` file.
        threads: Intra-op threads.

    Raises:
        ModelFileError: The file cannot be loaded.
    """

    name = "onnxruntime"

    def __init__(self, path: str | Path, threads: int = 1):
        self.path = Path(path)
        self.threads = int(threads)
        self.session = ort_session(self.path, self.threads)
        inp = self.session.get_inputs()[0]
        self.input_name = inp.name
        self.output_name = self.session.get_outputs()[0].name
        batch = inp.shape[0] if inp.shape else None
        # A symbolic ("batch") or missing dim is dynamic; an int is fixed.
        self.fixed_batch = batch if isinstance(batch, int) and batch > 0 else None
        if inp.type not in ("tensor(float)",):
            raise ModelFileError(f"ONNX model {self.path} takes {inp.type} input, edgekd feeds float32",
                                 fix="export with float32 input (QDQ INT8 models keep a float input)")

    def _run(self, x: np.ndarray) -> np.ndarray:
        if self.fixed_batch is None:
            return self.session.run([self.output_name], {self.input_name: x})[0]
        if self.fixed_batch != 1:
            raise ModelFileError(f"ONNX model {self.path} has a fixed batch of {self.fixed_batch}",
                                 fix="export with batch 1 or a dynamic batch dimension")
        return np.concatenate([self.session.run([self.output_name], {self.input_name: x[i:i + 1]})[0]
                               for i in range(len(x))], axis=0)

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Float32 logits ``[N, K]`` for a float32 NCHW batch."""
        return chunked(x, self._run, CHUNK)

    def prepare(self, x1: np.ndarray) -> dict:
        """The feed dict for one sample."""
        return {self.input_name: as_batch(x1)[:1]}

    def run_once(self, x1: dict) -> None:
        """One inference on a prepared feed."""
        self.session.run([self.output_name], x1)


def intermediate_shapes(model, feeds: dict[str, np.ndarray], names: list[str]) -> dict[str, tuple[tuple, np.dtype]]:
    """Run an ONNX model once and return the real shape and dtype of tensors ``names``.

    Used to make a graph's shapes concrete where ONNX shape inference cannot (shapes computed
    at run time). Every requested tensor is added as a graph output of a copy of the model.

    Args:
        model: An ``onnx.ModelProto`` with its weights loaded, or its serialized bytes.
        feeds: One array per graph input (e.g. zeros of the fixed input shape).
        names: Intermediate tensor names.

    Returns:
        ``{name: (shape, dtype)}`` for every name the runtime produced.

    Raises:
        ModelFileError: onnxruntime cannot load or run the model.
    """
    import onnx

    proto = onnx.ModelProto.FromString(model) if isinstance(model, bytes) else onnx.ModelProto.FromString(
        model.SerializeToString())
    present = {out.name for out in proto.graph.output}
    wanted = [n for n in dict.fromkeys(names) if n]
    for name in wanted:
        if name not in present:
            proto.graph.output.add().name = name  # untyped output: the runtime fills in its type
    session = ort_session("<in-memory graph>", model_bytes=proto.SerializeToString())
    try:
        values = session.run(wanted, feeds)
    except Exception as exc:  # onnxruntime's RuntimeException / InvalidArgument
        reason = " ".join(str(exc).split())[:200]
        raise ModelFileError(f"cannot run the ONNX graph to read its shapes: {reason}",
                             fix="export the model with a fixed input shape") from exc
    return {name: (tuple(int(d) for d in np.shape(v)), np.asarray(v).dtype) for name, v in zip(wanted, values)}
