"""Run a ``.tflite`` model in the LiteRT interpreter (``ai-edge-litert``) behind the Runner interface.

What the runner hides from callers, who always pass float32 NCHW and get float32 logits:

* Layout: a model whose input is ``[1, H, W, C]`` (litert-torch with ``to_channel_last_io``,
  or a TF-style model) gets the batch transposed NCHW -> NHWC. The layout is decided from
  shapes: if the model's per-sample shape equals ours it is used as is (this also covers
  ``C == H == W``), else if it equals ours moved channel-last the input is transposed.
* Quantized I/O: int8/uint8 inputs are quantized with the tensor's scale and zero point
  (``q = round(x / scale) + zero_point``, clipped to the dtype's range); int8/uint8
  outputs are dequantized with ``(q - zero_point) * scale``.
* Batch: a model with a dynamic batch (``shape_signature[0] == -1``) is resized to the
  chunk; a fixed batch is fed in chunks of exactly that size, the last one padded
  (resizing a fixed-shape graph is not safe: its reshape ops carry the batch as a constant).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import DataError, ModelFileError
from .base import CHUNK, as_batch, check_model_file, in_batches


def quantize(x: np.ndarray, scale: float, zero_point: int, dtype) -> np.ndarray:
    """Affine-quantize float ``x`` to an integer ``dtype`` (round half to even, clipped)."""
    info = np.iinfo(dtype)
    q = np.round(np.asarray(x, dtype=np.float32) / np.float32(scale)) + zero_point
    return np.clip(q, info.min, info.max).astype(dtype)


def dequantize(q: np.ndarray, scale: float, zero_point: int) -> np.ndarray:
    """Float32 values of affine-quantized ``q``."""
    return ((np.asarray(q, dtype=np.int32) - int(zero_point)) * np.float32(scale)).astype(np.float32)


def _qparams(detail: dict) -> tuple[float, int] | None:
    """(scale, zero_point) of an integer tensor, or None for a float tensor."""
    if np.dtype(detail["dtype"]).kind not in "iu":
        return None
    scale, zero_point = detail.get("quantization", (0.0, 0))
    if not scale:
        qp = detail.get("quantization_parameters") or {}
        scales, zps = qp.get("scales", []), qp.get("zero_points", [])
        if len(scales) != 1:
            raise ModelFileError(f"integer I/O tensor {detail.get('name')!r} has no single scale",
                                 fix="export with per-tensor quantized input/output or float I/O")
        scale, zero_point = float(scales[0]), int(zps[0])
    return float(scale), int(zero_point)


class LiteRTRunner:
    """A ``.tflite`` model in ``ai_edge_litert.interpreter.Interpreter``.

    Args:
        path: The ``.tflite`` file.
        threads: Interpreter threads (``num_threads``).

    Raises:
        ModelFileError: The file is missing, empty, truncated or not a TFLite model.
    """

    name = "litert"

    def __init__(self, path: str | Path, threads: int = 1):
        self.path = Path(path)
        self.threads = int(threads)
        check_model_file(self.path, "TFLite")
        # Imported here: `import edgekd` must never load LiteRT.
        from ai_edge_litert.interpreter import Interpreter

        try:
            self.interpreter = Interpreter(model_path=str(self.path), num_threads=max(1, self.threads))
            self.interpreter.allocate_tensors()
        except Exception as exc:  # LiteRT raises ValueError/RuntimeError with a multi-line log
            reason = " ".join(str(exc).split())[:200]
            raise ModelFileError(f"cannot load TFLite model {self.path}: {reason}",
                                 fix="re-export the model (the file may be truncated or not a .tflite)") from exc
        self._in = self.interpreter.get_input_details()[0]
        self._out = self.interpreter.get_output_details()[0]
        self.input_q = _qparams(self._in)
        self.output_q = _qparams(self._out)
        sig = self._in.get("shape_signature")
        self.dynamic_batch = sig is not None and len(sig) > 0 and int(sig[0]) == -1
        self.model_shape = tuple(int(d) for d in self._in["shape"])
        self._batch = self.model_shape[0] if self.model_shape else 1
        signature = [int(d) for d in (sig if sig is not None and len(sig) else self.model_shape)]
        # Per-sample input shape in the model's own layout; None where the signature is dynamic.
        self.declared = tuple(d if s > 0 else None for d, s in zip(self.model_shape[1:], signature[1:]))
        self.fixed_batch = None if self.dynamic_batch else (self._batch or 1)

    # -- layout and dtype -------------------------------------------------------------------------

    def channels_last(self, sample_shape: tuple[int, ...]) -> bool:
        """Whether an NCHW per-sample shape ``(C, H, W)`` must be moved channel-last for this model."""
        model = self.model_shape[1:]
        sample = tuple(int(d) for d in sample_shape)
        if _matches(model, sample):
            return False
        nhwc = sample[1:] + sample[:1]
        if _matches(model, nhwc):
            return True
        raise DataError(f"TFLite model {self.path} expects input {list(self.model_shape)}, "
                        f"data samples are {list(sample)} (NCHW)",
                        fix="export the model for the dataset's input shape")

    def _quantize_input(self, x: np.ndarray) -> np.ndarray:
        """A float batch in the model's layout -> the dtype the interpreter takes."""
        if self.input_q is not None:
            return np.ascontiguousarray(quantize(x, *self.input_q, self._in["dtype"]))
        return np.ascontiguousarray(x, dtype=self._in["dtype"])

    def _to_model(self, x: np.ndarray) -> np.ndarray:
        """Float32 NCHW batch -> the array the interpreter takes (layout, dtype)."""
        if x.ndim == 4 and self.channels_last(x.shape[1:]):
            x = x.transpose(0, 2, 3, 1)
        return self._quantize_input(x)

    def _from_model(self, y: np.ndarray) -> np.ndarray:
        if self.output_q is not None:
            return dequantize(y, *self.output_q)
        return np.asarray(y, dtype=np.float32)

    # -- running ----------------------------------------------------------------------------------

    def _invoke(self, xm: np.ndarray) -> np.ndarray:
        self.interpreter.set_tensor(self._in["index"], xm)
        self.interpreter.invoke()
        return self.interpreter.get_tensor(self._out["index"])

    def _run(self, xm: np.ndarray) -> np.ndarray:
        """One interpreter call on a batch in the model's layout and dtype."""
        if self.dynamic_batch and len(xm) != self._batch:
            self.interpreter.resize_tensor_input(self._in["index"], list(xm.shape), strict=True)
            self.interpreter.allocate_tensors()
            self._batch = len(xm)
        return self._from_model(self._invoke(xm))

    def infer(self, x: np.ndarray) -> np.ndarray:
        """Float32 outputs ``[N, K]`` for a float batch already in the model's own layout."""
        return in_batches(self._quantize_input(x), self._run, self.fixed_batch, CHUNK)

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Float32 logits ``[N, K]`` for a float32 NCHW batch."""
        x = as_batch(x)
        if x.ndim == 4 and self.channels_last(x.shape[1:]):
            x = x.transpose(0, 2, 3, 1)
        return self.infer(x)

    def prepare(self, x1: np.ndarray) -> np.ndarray:
        """One sample already in the model's layout and dtype (and the interpreter at batch 1)."""
        xm = self._to_model(as_batch(x1)[:1])
        if self.dynamic_batch and self._batch != 1:
            self.interpreter.resize_tensor_input(self._in["index"], list(xm.shape), strict=True)
            self.interpreter.allocate_tensors()
            self._batch = 1
        return xm

    def run_once(self, x1: np.ndarray) -> None:
        """One ``set_tensor`` + ``invoke`` on a prepared sample."""
        self.interpreter.set_tensor(self._in["index"], x1)
        self.interpreter.invoke()


def _matches(model: tuple[int, ...], sample: tuple[int, ...]) -> bool:
    """Equal shapes where the model's -1/0 dims are wildcards."""
    return len(model) == len(sample) and all(m in (-1, 0) or m == s for m, s in zip(model, sample))
