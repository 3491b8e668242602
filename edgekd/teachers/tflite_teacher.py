"""A TFLite teacher: a black box in the LiteRT interpreter (``ai_edge_litert``).

Integer I/O is handled with the tensors' own scale and zero point (the affine
quantize/dequantize of ``edgekd.runtimes.litert_runner``); NHWC models get our NCHW batches
transposed (decided from the declared input shape, see ``resolve_layout``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import ModelFileError
from .blackbox import BlackBoxTeacher, check_file, load_failed
from .schema import TFLiteTeacher

_FIX = "re-export the model (litert_torch.convert(...).export(path) or tf.lite.TFLiteConverter); the file may be " \
       "truncated or not a .tflite"


def _qparams(detail: dict) -> tuple[float, int] | None:
    """(scale, zero_point) of an integer tensor, ``None`` for a float tensor."""
    if np.dtype(detail["dtype"]).kind not in "iu":
        return None
    scale, zero_point = detail.get("quantization", (0.0, 0))
    if not scale:
        qp = detail.get("quantization_parameters") or {}
        scales, zps = list(qp.get("scales", [])), list(qp.get("zero_points", []))
        if len(scales) != 1:
            raise ModelFileError(f"integer I/O tensor {detail.get('name')!r} has no single scale",
                                 fix="export the teacher with float or per-tensor quantized input/output")
        scale, zero_point = float(scales[0]), int(zps[0])
    return float(scale), int(zero_point)


class TFLiteTeacherModel(BlackBoxTeacher):
    """The first input and output of a ``.tflite`` model in ``ai_edge_litert.interpreter.Interpreter``.

    Raises:
        ModelFileError: Missing, empty, truncated or not a TFLite file; integer I/O without
            a single scale.
    """

    kind = "tflite"
    prefer_layout = "nhwc"  # TF's convention, when the shape alone cannot tell

    def __init__(self, path: Path, threads: int = 2):
        check_file(path, "tflite")
        from ai_edge_litert.interpreter import Interpreter

        try:
            interpreter = Interpreter(model_path=str(path), num_threads=max(1, int(threads)))
            interpreter.allocate_tensors()
        except Exception as exc:  # ValueError / RuntimeError with a multi-line log
            raise load_failed(path, "tflite", exc, _FIX) from None
        inp, out = interpreter.get_input_details()[0], interpreter.get_output_details()[0]
        sig = [int(d) for d in inp.get("shape_signature", inp["shape"])]
        dims = [int(d) if s > 0 else None for d, s in zip(inp["shape"], sig)]
        dynamic_batch = bool(sig) and sig[0] == -1
        super().__init__(path, dims[1:], None if dynamic_batch else (dims[0] or 1))
        self.interpreter = interpreter
        self._in, self._out = inp, out
        self.input_q, self.output_q = _qparams(inp), _qparams(out)
        self._batch = int(inp["shape"][0]) if len(inp["shape"]) else 1

    def run(self, x: np.ndarray) -> np.ndarray:  # noqa: D102
        from ..runtimes.litert_runner import dequantize, quantize

        if self.input_q is not None:
            x = quantize(x, *self.input_q, self._in["dtype"])
        xm = np.ascontiguousarray(x, dtype=self._in["dtype"])
        if self.fixed_batch is None and len(xm) != self._batch:
            self.interpreter.resize_tensor_input(self._in["index"], list(xm.shape), strict=True)
            self.interpreter.allocate_tensors()
            self._batch = len(xm)
        self.interpreter.set_tensor(self._in["index"], xm)
        self.interpreter.invoke()
        y = self.interpreter.get_tensor(self._out["index"])
        return dequantize(y, *self.output_q) if self.output_q is not None else np.asarray(y, np.float32)

    def size(self, input_shape) -> tuple[int, int | None]:
        """Parameters and per-sample MACs counted from the flatbuffer (``edgekd.predict.model_facts``)."""
        from ..predict.model_facts import facts_or_unknown

        params, macs = facts_or_unknown(self.path, "tflite")
        return params or 0, macs


def load_tflite_teacher(cfg: TFLiteTeacher) -> tuple[TFLiteTeacherModel, str]:
    """Open a TFLite teacher (see :class:`TFLiteTeacherModel`)."""
    model = TFLiteTeacherModel(cfg.path)
    io = "int8 I/O" if model.input_q or model.output_q else "float I/O"
    return model, f"TFLite teacher {cfg.path.name} (LiteRT, black box, {io})"
