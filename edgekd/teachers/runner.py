"""The teacher as the measure stage runs it: scored as the build sees it, timed in its own runtime.

The teacher artifact's ``model`` is what distillation used: the user's model behind edgekd's
wrappers (its own input, :class:`~edgekd.teachers.adapters.PixelInput`; log-probabilities for a
softmax teacher, :class:`~edgekd.teachers.blackbox.LogProbabilities`). Its accuracy, ECE, NLL,
Brier and agreement must come from those logits — opening the raw ``.tflite``/``.onnx`` again
would score probabilities as logits and skip the teacher's input scaling. Host latency is
timed in the teacher's own runtime (onnxruntime, LiteRT) on one input in its own units.
"""

from __future__ import annotations

import numpy as np
import torch

from ..runtimes.base import CHUNK
from ..runtimes.torch_runner import torch_threads
from .adapters import to_runtime_input


class TeacherRunner:
    """A :class:`~edgekd.runtimes.base.Runner` for the teacher artifact.

    Args:
        model: The teacher artifact's model (wrappers included).
        timing: A runner of the teacher's file in its own runtime, or ``None`` (torch and Keras
            teachers: the wrapped model itself is timed).
        threads: Intra-op threads.
    """

    def __init__(self, model: torch.nn.Module, timing, threads: int):
        from ..runtimes import TorchRunner

        self.model = model.eval()
        self.threads = int(threads)
        self.timing = timing
        self._torch = TorchRunner(model, threads)
        self.name = timing.name if timing is not None else self._torch.name

    @torch.inference_mode()
    def predict(self, x: np.ndarray) -> np.ndarray:
        """Float32 logits ``[N, K]`` for the batches the build feeds the teacher (any dtype, chunked)."""
        if len(x) == 0:
            raise ValueError("predict() needs at least one sample")
        with torch_threads(self.threads):
            parts = [self.model(torch.from_numpy(np.ascontiguousarray(x[i:i + CHUNK]))).float().numpy()
                     for i in range(0, len(x), CHUNK)]
        return np.concatenate(parts).reshape(len(x), -1)

    def prepare(self, x1: np.ndarray):
        """One sample ready for :meth:`run_once` (in the teacher's own units for its runtime)."""
        if self.timing is None:
            return self._torch.prepare(x1)
        own = to_runtime_input(self.model, torch.from_numpy(np.ascontiguousarray(x1))).numpy()
        return self.timing.prepare(own.astype(np.float32, copy=False))

    def run_once(self, prepared) -> None:
        """One inference in the timed runtime."""
        (self.timing or self._torch).run_once(prepared)
