"""Standard output that survives its reader going away (``edgekd build | head``).

Python ignores SIGPIPE, so the first write after ``head`` exits raises BrokenPipeError, which
ended a build as an internal error halfway through. A build should finish (its outputs are the
point; the console is a view of them), so once the pipe is closed the rest of the output is
discarded and the command exits with its own code.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from typing import Any, TextIO


class _DiscardAfterClosedPipe:
    """Wraps a text stream: after a BrokenPipeError every write and flush is dropped."""

    def __init__(self, stream: TextIO):
        self._stream = stream
        self.pipe_closed = False

    def write(self, text: str) -> int:
        if not self.pipe_closed:
            try:
                return self._stream.write(text)
            except BrokenPipeError:
                self._closed()
        return len(text)

    def flush(self) -> None:
        if not self.pipe_closed:
            try:
                self._stream.flush()
            except BrokenPipeError:
                self._closed()

    def _closed(self) -> None:
        self.pipe_closed = True
        # The interpreter flushes the real stdout at exit: point its descriptor at /dev/null so
        # that final flush cannot raise again.
        with contextlib.suppress(OSError, ValueError, AttributeError):
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, self._stream.fileno())
            os.close(devnull)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


@contextlib.contextmanager
def stdout_survives_closed_pipe() -> Iterator[None]:
    """Within the block, ``sys.stdout`` drops output once its reader has gone; restored afterwards."""
    original = sys.stdout
    sys.stdout = _DiscardAfterClosedPipe(original)
    try:
        yield
    finally:
        sys.stdout = original
