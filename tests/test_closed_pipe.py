"""`edgekd ... | head`: a reader that goes away early neither fails the command nor prints a traceback."""

from __future__ import annotations

import io
import os
import subprocess
import sys

from edgekd.closed_pipe import stdout_survives_closed_pipe


def test_command_piped_into_a_reader_that_exits_early_keeps_its_exit_code():
    env = {**os.environ, "COLUMNS": "120"}
    proc = subprocess.Popen([sys.executable, "-m", "edgekd.cli", "config", "show"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=env)
    assert proc.stdout is not None and proc.stdout.readline()  # `head -1`: one line, then the pipe closes
    proc.stdout.close()
    _out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err.decode()[-1500:]
    assert b"internal error" not in err and b"Traceback" not in err and b"BrokenPipe" not in err


class _Broken(io.StringIO):
    def write(self, text):
        raise BrokenPipeError(32, "Broken pipe")

    def fileno(self):
        raise io.UnsupportedOperation("no descriptor")


def test_writes_after_the_pipe_closed_are_dropped_and_stdout_is_restored(monkeypatch):
    broken = _Broken()
    monkeypatch.setattr(sys, "stdout", broken)
    with stdout_survives_closed_pipe():
        assert print("first", flush=True) is None and print("more") is None
        assert sys.stdout.pipe_closed
    assert sys.stdout is broken
