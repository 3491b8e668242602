"""The one interface every runtime is driven through (torch, onnxruntime, LiteRT).

Inputs are always float32 NCHW batches, as the data pipeline produces them; outputs are
always float32 logits ``[N, K]``. Whatever a runtime needs instead (NHWC layout, int8
input, a fixed batch of 1) is the runner's business, so accuracy and parity code never
branches on the format.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Protocol, runtime_checkable

import numpy as np

from ..errors import ModelFileError

# Rows per predict() call into the runtime: bounds activation memory on big test splits.
CHUNK = 256


@runtime_checkable
class Runner(Protocol):
    """One loaded model in one runtime.

    Attributes:
        name: The runtime (``"torch"``, ``"onnxruntime"``, ``"litert"``).
        threads: Intra-op threads the runtime was opened with.
    """

    name: str
    threads: int

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Float32 logits ``[N, K]`` for a float32 NCHW batch ``x`` (chunked internally)."""
        ...

    def prepare(self, x1: np.ndarray):
        """Convert one NCHW float sample ``[1, C, H, W]`` into what :meth:`run_once` takes."""
        ...

    def run_once(self, x1) -> None:
        """One inference on an input from :meth:`prepare` (the thing latency times)."""
        ...


def as_batch(x: np.ndarray) -> np.ndarray:
    """``x`` as a C-contiguous float32 array with a batch dimension."""
    x = np.ascontiguousarray(x, dtype=np.float32)
    if x.ndim < 2:
        raise ValueError(f"expected a batch [N, ...], got shape {x.shape}")
    return x


def chunked(x: np.ndarray, fn: Callable[[np.ndarray], np.ndarray], chunk: int = CHUNK) -> np.ndarray:
    """Apply ``fn`` to ``x`` in row chunks and stack the float32 results."""
    x = as_batch(x)
    if len(x) == 0:
        raise ValueError("predict() needs at least one sample")
    outs = [np.asarray(fn(x[i:i + chunk]), dtype=np.float32) for i in range(0, len(x), chunk)]
    out = np.concatenate(outs, axis=0)
    return out.reshape(len(x), -1)


def in_batches(x: np.ndarray, fn: Callable[[np.ndarray], np.ndarray], batch: int | None,
               chunk: int = CHUNK) -> np.ndarray:
    """Run ``fn`` over the rows of ``x`` (any layout) and stack its float32 outputs ``[N, ...]``.

    ``batch=None`` (a dynamic batch dimension): chunks of ``chunk`` rows. A fixed batch ``B``:
    chunks of exactly ``B`` rows, the last one zero-padded and its padding dropped from the output.
    """
    step = batch or chunk
    outs = []
    for start in range(0, len(x), step):
        rows = np.ascontiguousarray(x[start:start + step])
        real = len(rows)
        if batch and real < batch:
            rows = np.concatenate([rows, np.zeros((batch - real, *rows.shape[1:]), rows.dtype)])
        out = np.asarray(fn(rows), dtype=np.float32)
        outs.append(out.reshape(len(rows), -1)[:real])
    if not outs:
        raise ValueError("inference needs at least one sample")
    return np.concatenate(outs, axis=0)


def check_model_file(path: str | Path, fmt: str) -> None:
    """Raise :class:`ModelFileError` when ``path`` is missing or empty (before a runtime sees it)."""
    p = Path(path)
    if not p.is_file():
        raise ModelFileError(f"{fmt} model file {p} does not exist or is not a file",
                             fix="check the path or re-run `edgekd build`")
    if p.stat().st_size == 0:
        raise ModelFileError(f"{fmt} model file {p} is empty",
                             fix="re-export it (an interrupted write leaves it empty)")
