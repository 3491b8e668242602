"""Run a torch module (the teacher or student before export) behind the Runner interface."""

from __future__ import annotations

import contextlib
from typing import Iterator

import numpy as np
import torch

from .base import CHUNK, chunked


@contextlib.contextmanager
def torch_threads(n: int) -> Iterator[None]:
    """Set torch's intra-op thread count for the block and restore it afterwards."""
    old, new = torch.get_num_threads(), max(1, int(n))
    if old == new:  # the common case: no pool resize on every timed call
        yield
        return
    torch.set_num_threads(new)
    try:
        yield
    finally:
        torch.set_num_threads(old)


class TorchRunner:
    """A torch ``nn.Module`` in eval mode, run under ``torch.inference_mode``.

    Args:
        module: The model; it is switched to eval mode (dropout off, BN running stats).
        threads: Intra-op threads, set for each call and restored afterwards so a
            runner never changes the process-wide setting.
    """

    name = "torch"

    def __init__(self, module: torch.nn.Module, threads: int = 1):
        self.module = module.eval()
        self.threads = int(threads)
        try:
            self._device = next(module.parameters()).device
        except StopIteration:
            self._device = torch.device("cpu")

    def _forward(self, x: np.ndarray) -> np.ndarray:
        out = self.module(torch.from_numpy(x).to(self._device))
        if isinstance(out, (tuple, list)):  # some models return (logits, extras)
            out = out[0]
        return out.detach().float().cpu().numpy()

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Float32 logits ``[N, K]`` for a float32 NCHW batch, in chunks of 256."""
        with torch_threads(self.threads), torch.inference_mode():
            return chunked(x, self._forward, CHUNK)

    def prepare(self, x1: np.ndarray) -> torch.Tensor:
        """The sample as a float32 tensor on the model's device."""
        return torch.from_numpy(np.ascontiguousarray(x1, dtype=np.float32)).to(self._device)

    def run_once(self, x1: torch.Tensor) -> None:
        """One forward pass on a prepared tensor."""
        with torch_threads(self.threads), torch.inference_mode():
            self.module(x1)
