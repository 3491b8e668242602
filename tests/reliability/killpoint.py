"""Run ``edgekd build`` and SIGKILL it from inside a stage, at the N-th Python call of that stage.

Usage (the kill tests run it as a subprocess)::

    python killpoint.py count STAGES COUNTS.json -- BUILD ARGS   # count each stage's calls, no kill
    python killpoint.py kill STAGE N -- BUILD ARGS                # die at call N of STAGE

A profile hook (``sys.setprofile``) counts every Python and C call and return while the
stage runs, so call N is a point *inside* the stage — mid-epoch, mid-conversion,
mid-quantization, mid-write — chosen by the test from a seeded draw over the counted total.
If the stage ends before call N (a resumed stage does less work), the process dies right
after it instead; ``killpoint:`` on stderr says which happened. The kill is a real SIGKILL
of this process: nothing is flushed, no ``finally`` runs.
"""

from __future__ import annotations

import json
import os
import signal
import sys

# Converters point descriptor 2 at a capture file while they run: say where we died on the real stderr.
_STDERR = os.dup(2)


def _die(where: str) -> None:
    os.write(_STDERR, f"killpoint: {where}\n".encode())
    os.kill(os.getpid(), signal.SIGKILL)


def install(mode: str, stages: set[str], target: int, counts_file: str | None) -> None:
    """Wrap the pipeline's stage runner with the counting (and killing) profile hook."""
    from edgekd import pipeline

    original = pipeline._run_one
    counts: dict[str, int] = {}

    def run_one(stage, state, ctx):
        if stage.name not in stages:
            return original(stage, state, ctx)
        seen = [0]

        def hook(_frame, _event, _arg):
            seen[0] += 1
            if mode == "kill" and seen[0] >= target:
                sys.setprofile(None)
                _die(f"inside {stage.name} at call {seen[0]}")

        sys.setprofile(hook)
        try:
            result = original(stage, state, ctx)
        finally:
            sys.setprofile(None)
        counts[stage.name] = counts.get(stage.name, 0) + seen[0]
        if mode == "kill":
            _die(f"after {stage.name} ended at call {seen[0]} (< {target})")
        if counts_file:
            with open(counts_file, "w", encoding="utf-8") as handle:
                json.dump(counts, handle)
        return result

    pipeline._run_one = run_one


def main(argv: list[str]) -> None:
    split = argv.index("--")
    mode, *spec = argv[:split]
    build_args = argv[split + 1:]
    if mode == "count":
        install("count", set(spec[0].split(",")), 0, spec[1])
    else:
        install("kill", {spec[0]}, int(spec[1]), None)
    from edgekd import cli

    cli.main(["build", *build_args])


if __name__ == "__main__":
    main(sys.argv[1:])
