"""Running the user's own Python (a teacher factory) without letting it end the build.

User code may call ``sys.exit()`` (a script's habit) or raise ``KeyboardInterrupt`` itself; left
alone, the first ends a build with exit 0 and no report, the second looks like Ctrl-C. Both are
bad input about that file. A real Ctrl-C (SIGINT) still interrupts: a temporary handler records
that the signal arrived, so only an exception the code raised by itself is converted.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from typing import Any

from ..errors import ModelFileError


@contextlib.contextmanager
def user_code(what: str, fix: str) -> Iterator[None]:
    """Run the block as the user's code: any exception it raises, ``SystemExit`` included, is a ModelFileError.

    Args:
        what: What runs, for the message (e.g. ``teacher factory model.py:make``).
        fix: The fix line of the error.
    """
    interrupted = _SigintSeen()
    with interrupted:
        try:
            yield
        except SystemExit as exc:
            raise ModelFileError(f"{what} called sys.exit({exc.code!r}) instead of returning",
                                 fix="return from the function; do not call sys.exit() or exit() in a teacher "
                                     "file") from None
        except KeyboardInterrupt:
            if interrupted.seen:
                raise  # Ctrl-C: the build stops (and resumes with --resume)
            raise ModelFileError(f"{what} raised KeyboardInterrupt by itself", fix=fix) from None
        except Exception as exc:  # noqa: BLE001 - the user's code: any exception is a bad-input problem
            reason = " ".join(str(exc).split())[:160]
            raise ModelFileError(f"{what} raised {exc.__class__.__name__}: {reason}", fix=fix) from None


class _SigintSeen:
    """While active (main thread only), a SIGINT is recorded before it raises KeyboardInterrupt as usual."""

    def __init__(self) -> None:
        self.seen = False
        self._previous: Any = None

    def __enter__(self) -> _SigintSeen:
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.getsignal(signal.SIGINT)
            signal.signal(signal.SIGINT, self._handle)
        return self

    def __exit__(self, *exc_info) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)

    def _handle(self, signum, frame) -> None:
        self.seen = True
        previous = self._previous
        if callable(previous):
            previous(signum, frame)
        raise KeyboardInterrupt
