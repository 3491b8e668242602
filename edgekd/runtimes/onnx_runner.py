"""Run an ONNX model in onnxruntime behind the Runner interface."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import ModelFileError
from .base import CHUNK, as_batch, check_model_file, in_batches


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


_FLOAT_INPUTS = {"tensor(float)": np.float32, "tensor(float16)": np.float16, "tensor(double)": np.float64}


class OrtRunner:
    """An ONNX model in onnxruntime (CPU): its first input and first output.

    Works with a dynamic batch dimension (chunks of :data:`CHUNK` rows) or a fixed batch
    (chunks of exactly that size, the last one padded). Float32 batches are cast to the
    model's float input type.

    Args:
        path: The ``.onnx`` file.
        threads: Intra-op threads.

    Attributes:
        declared: The input's per-sample shape (``None`` for a dynamic dimension).
        fixed_batch: The input's batch size, or ``None`` when it is dynamic.

    Raises:
        ModelFileError: The file cannot be loaded, has more than one input, or a non-float input.
    """

    name = "onnxruntime"

    def __init__(self, path: str | Path, threads: int = 1):
        self.path = Path(path)
        self.threads = int(threads)
        self.session = ort_session(self.path, self.threads)
        inputs = self.session.get_inputs()
        if len(inputs) != 1:
            raise ModelFileError(f"ONNX model {self.path.name} has {len(inputs)} inputs "
                                 f"({', '.join(i.name for i in inputs)}); edgekd feeds one tensor",
                                 fix="export the model with a single input")
        inp = inputs[0]
        if inp.type not in _FLOAT_INPUTS:
            raise ModelFileError(f"ONNX model {self.path.name} takes {inp.type} input; edgekd feeds float data",
                                 fix="export with a float input (QDQ INT8 models keep a float input)")
        self.input_name = inp.name
        self.input_dtype = _FLOAT_INPUTS[inp.type]
        self.output_name = self.session.get_outputs()[0].name
        # A symbolic ("batch") or missing dim is dynamic; a positive int is fixed.
        dims = [d if isinstance(d, int) and d > 0 else None for d in inp.shape]
        self.fixed_batch = dims[0] if dims else None
        self.declared = tuple(dims[1:])

    def _run(self, x: np.ndarray) -> np.ndarray:
        return self.session.run([self.output_name], {self.input_name: x.astype(self.input_dtype, copy=False)})[0]

    def infer(self, x: np.ndarray) -> np.ndarray:
        """Float32 outputs ``[N, K]`` for a batch already in the model's own layout."""
        return in_batches(x, self._run, self.fixed_batch, CHUNK)

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Float32 logits ``[N, K]`` for a float32 NCHW batch."""
        return self.infer(as_batch(x))

    def prepare(self, x1: np.ndarray) -> dict:
        """The feed dict for one sample."""
        return {self.input_name: as_batch(x1)[:1].astype(self.input_dtype, copy=False)}

    def run_once(self, x1: dict) -> None:
        """One inference on a prepared feed."""
        self.session.run([self.output_name], x1)
