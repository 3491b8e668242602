"""Helpers shared by the exporters: shapes, quiet converters, one-line error text."""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
import warnings
from typing import Iterator


def with_batch(input_shape) -> tuple[int, ...]:
    """``(C, H, W)`` or ``(N, C, H, W)`` -> a 4-D shape with batch 1 when it was missing."""
    shape = tuple(int(d) for d in input_shape)
    if len(shape) == 4:
        return (1, *shape[1:])
    return (1, *shape)


def first_line(exc: BaseException, limit: int = 200) -> str:
    """The first non-empty line of an exception's message, shortened."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    text = lines[0] if lines else type(exc).__name__
    return text[:limit]


class Captured:
    """Text a converter printed to stdout/stderr while it ran (filled on exit)."""

    text: str = ""


@contextlib.contextmanager
def quiet(capture: Captured | None = None) -> Iterator[Captured]:
    """Silence a converter's prints, C++ logs and Python warnings; keep the text.

    Converters (torch.onnx, litert-torch, coremltools) print progress bars, IR dumps and
    C++ log lines straight to file descriptors 1 and 2, so ``contextlib.redirect_stdout``
    is not enough: both descriptors are pointed at a temporary file for the duration.
    The captured text is used to find the unsupported op when a conversion fails.
    """
    capture = capture or Captured()
    sys.stdout.flush()
    sys.stderr.flush()
    saved = []
    with tempfile.TemporaryFile(mode="w+b") as sink, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            for fd in (1, 2):
                saved.append((fd, os.dup(fd)))
                os.dup2(sink.fileno(), fd)
        except OSError:  # no real descriptors (e.g. an embedded interpreter): just run
            pass
        try:
            yield capture
        finally:
            with contextlib.suppress(Exception):
                sys.stdout.flush()
                sys.stderr.flush()
            for fd, copy in saved:
                os.dup2(copy, fd)
                os.close(copy)
            sink.seek(0)
            capture.text = sink.read().decode("utf-8", "replace")
