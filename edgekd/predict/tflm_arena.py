"""The tensor arena a ``.tflite`` really needs in TensorFlow Lite Micro (the ``tflite-micro`` package).

How it is measured: the TFLM Python interpreter is built with its recording allocator, which
reports what it placed in the arena (``print_allocations``: total, head = the planned
activation buffers, tail = persistent data: tensor structs, node data, kernel buffers). That
recorded total is not quite the size an application must reserve: allocation also needs
temporary room while ops are prepared, and on the test models the smallest arena that works
is a few hundred bytes larger than the recorded total. So the figure returned is the smallest
``arena_size`` (to 16 bytes, TFLM's alignment) with which the interpreter allocates and runs
one inference on a zero input, found by bisection; the recorded head/tail are returned beside it.

What it is not: the package's kernels are TFLM's reference kernels. An MCU build with
optimized kernels (CMSIS-NN, ESP-NN) asks for per-op scratch buffers of its own, and the
recording allocator keeps a few hundred bytes of its own bookkeeping in the arena, so treat
the figure as accurate to about a kilobyte plus the optimized kernels' scratch.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
from contextlib import contextmanager
from pathlib import Path

ALIGN = 16
MAX_ARENA = 1 << 30  # 1 GiB: beyond any MCU; a model that needs more is reported as not fitting TFLM
_RECORDED = re.compile(r"Arena allocation (total|head|tail) (\d+) bytes")
_MISSING_OP = re.compile(r"(Didn't find op for (?:builtin|custom) opcode '?[\w.:]+'?|Failed to get registration[^\n]*|"
                         r"unsupported[^\n]*|not supported[^\n]*)", re.IGNORECASE)


@contextmanager
def _stderr_to(buffer: list[str]):
    """Collect what the C++ runtime writes to file descriptor 2 (Python's sys.stderr cannot see it)."""
    saved = os.dup(2)
    with tempfile.TemporaryFile() as tmp:
        os.dup2(tmp.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            tmp.seek(0)
            buffer.append(tmp.read().decode("utf-8", "replace"))


def _runs(model: bytes, arena: int, log: list[str], inputs: int = 1):
    """The interpreter after one inference with ``arena`` bytes, or ``None`` if it does not fit.

    ``inputs`` is the model's input count (asking the interpreter for an input it does not
    have crashes the process, so the count comes from the flatbuffer).
    """
    import numpy as np
    from tflite_micro import runtime

    with _stderr_to(log):
        try:
            interpreter = runtime.Interpreter.from_bytes(model, arena_size=int(arena))
            for i in range(inputs):
                detail = interpreter.get_input_details(i)
                interpreter.set_input(np.zeros(detail["shape"], detail["dtype"]), i)
            interpreter.invoke()
        except (RuntimeError, ValueError):
            return None
    return interpreter


class _Prober:
    """Runs the TFLM interpreter in a child process, one arena size at a time.

    The TFLM Python wrapper can crash the process (SIGSEGV) instead of raising when an
    allocation fails at some stages (seen with arenas a little too small), so no probe runs in
    the caller's process; a child that dies counts as "does not fit", and a new child is
    started for the next probe.
    """

    def __init__(self, path: Path, inputs: int):
        self.args = [sys.executable, "-m", "edgekd.predict.tflm_arena", str(path), str(inputs)]
        self.proc: subprocess.Popen | None = None

    def probe(self, arena: int, record: bool = False) -> dict:
        """``{"ok": bool, "log": str, "recorded": {...}}`` for one arena size."""
        if self.proc is None or self.proc.poll() is not None:
            self.proc = subprocess.Popen(self.args, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                         stderr=subprocess.DEVNULL, text=True)
        assert self.proc.stdin is not None and self.proc.stdout is not None  # both are PIPEs
        try:
            self.proc.stdin.write(json.dumps({"arena": int(arena), "record": record}) + "\n")
            self.proc.stdin.flush()
            answer = self.proc.stdout.readline()
        except OSError:  # BrokenPipeError: the child died
            answer = ""
        if not answer:
            self.proc.wait()
            return {"ok": False, "log": f"the TFLM interpreter crashed with a {arena}-byte arena"}
        return json.loads(answer)

    def close(self) -> None:
        if self.proc is not None and self.proc.poll() is None and self.proc.stdin is not None:
            self.proc.stdin.close()
            self.proc.wait(timeout=60)


def tflm_arena_report(path: str | os.PathLike) -> dict:
    """Measure the arena of a ``.tflite`` in TFLite Micro (see the module docstring).

    Args:
        path: The ``.tflite`` file (an int8 model, as MCUs run).

    Returns:
        ``{"arena_bytes": int | None, "recorded_total": int, "recorded_head": int,
        "recorded_tail": int, "reason": str | None}``. ``arena_bytes`` is the smallest arena
        that allocates and runs; ``None`` with a ``reason`` when TFLM cannot run the model at
        all (an op it lacks, a dynamic shape, more than 1 GiB).

    Raises:
        ModelFileError: The file is not a readable TFLite model.
    """
    from .tflite_read import read_tflite

    path = Path(path)
    graph = read_tflite(path)
    custom = sorted({op.op_type for op in graph.ops if op.op_type.startswith("CUSTOM:")})
    prober = _Prober(path, len(graph.inputs))
    try:
        fits = max(path.stat().st_size * 2, 64 * 1024)
        result = prober.probe(fits, record=True)
        while not result["ok"]:
            if fits >= MAX_ARENA or _MISSING_OP.search(result["log"]):  # a missing op: no arena will do
                return _unrunnable(result["log"], custom)
            fits = min(fits * 4, MAX_ARENA)
            result = prober.probe(fits, record=True)
        recorded = result["recorded"]
        low = 0  # bisection invariant: `low` does not fit, `fits` does
        while fits - low > ALIGN:
            mid = (low + fits) // 2 // ALIGN * ALIGN
            if mid <= low:
                break
            if prober.probe(mid)["ok"]:
                fits = mid
            else:
                low = mid
    finally:
        prober.close()
    return {"arena_bytes": int(fits), **recorded, "reason": None}


def _unrunnable(log: str, custom: list[str]) -> dict:
    text = " ".join(log.split())
    match = _MISSING_OP.search(text)
    reason = match.group(1) if match else (text[:200] or "TFLM could not allocate the model within 1 GiB")
    if match and "CUSTOM" in reason and custom:  # TFLM names only the code; the flatbuffer has the name
        reason += f" ({', '.join(custom)})"
    return {"arena_bytes": None, "recorded_total": 0, "recorded_head": 0, "recorded_tail": 0,
            "reason": f"TFLite Micro cannot run this model: {reason}"}


def measure_tflm_arena(path: str | os.PathLike) -> int | None:
    """Bytes of tensor arena the model needs in TFLite Micro, or ``None`` if TFLM cannot run it.

    The reason for ``None`` (e.g. an op TFLM lacks) is in :func:`tflm_arena_report`.
    """
    return tflm_arena_report(path)["arena_bytes"]


def _worker(path: str, inputs: int) -> None:
    """Child process of :class:`_Prober`: one JSON request per stdin line, one JSON answer per line."""
    model = Path(path).read_bytes()
    for line in sys.stdin:
        request = json.loads(line)
        log: list[str] = []
        interpreter = _runs(model, request["arena"], log, inputs)
        answer: dict = {"ok": interpreter is not None, "log": "".join(log)[-2000:]}
        if interpreter is not None and request.get("record"):
            printed: list[str] = []
            with _stderr_to(printed):
                interpreter.print_allocations()
            found = {kind: int(size) for kind, size in _RECORDED.findall("".join(printed))}
            answer["recorded"] = {f"recorded_{k}": found.get(k, 0) for k in ("total", "head", "tail")}
        sys.stdout.write(json.dumps(answer) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    _worker(sys.argv[1], int(sys.argv[2]))
