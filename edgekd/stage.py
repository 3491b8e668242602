"""A build stage, declared once, and the context every stage reads.

Each stage module declares ``STAGE = Stage(...)`` next to its code: its name, what it reads,
when it is on, how it runs and how the models it creates are rebuilt on resume. The pipeline
(:mod:`edgekd.pipeline`) holds the order as one line per stage and runs, caches and restores
every stage the same way; the resume key of a stage is a hash of exactly what it declares
it reads (:mod:`edgekd.resume`).

What a stage may read, as dotted paths:

* ``config.<section>[.<key>...]``: the build config (``config`` alone: all of it);
* ``target.<field>[...]``: the device profile (``target`` alone: all of it);
* ``inputs.<name>``: what is not in the config: ``data`` (the splits' contents),
  ``teacher_files`` (the user's model files), ``threads`` (host threads used),
  ``targets`` (every profile, for the cross-target table).

A stage's key also chains the key of the stage before it, so a change upstream reruns
everything downstream. With ``EDGEKD_CHECK_READS=1`` (the test suite sets it) every stage
gets a config and a profile that record each key it touches, and reading one it did not
declare is an internal error naming the key: the declaration cannot drift from the code.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from pydantic import BaseModel

if TYPE_CHECKING:
    from .artifact import Artifact
    from .config import BuildConfig
    from .data.bundle import DataBundle
    from .progress import Reporter
    from .state import BuildState
    from .targets import TargetProfile

WORK_DIR_NAME = ".edgekd-work"
CHECK_READS_ENV = "EDGEKD_CHECK_READS"


def _always(_config: "BuildConfig") -> bool:
    return True


@dataclass(frozen=True)
class Stage:
    """One step of a build.

    Attributes:
        name: Short name (progress, cache records, the report).
        run: ``run(state, ctx) -> state``: returns the state with this stage's outputs added.
        reads: Dotted paths of everything the result depends on (see the module docstring).
        enabled: Whether the stage runs for a config (default: always).
        off_note: Said when the stage is off (None: nothing, for stages off by default).
        rebuild: ``rebuild(artifact, ctx) -> model``: the in-memory model of an artifact this
            stage created, rebuilt from its saved file on resume. A stage that creates models
            without it reruns on resume.
        cached: Whether the result is stored for ``--resume`` (cheap stages need not be).
        all_ranks: Runs on every ``torchrun`` process; the other ranks stop before the first
            stage without it (single-process work: export, measurement, the report).
        adapts: ``adapts(state, ctx) -> ctx``: the context every later stage sees, applied once
            the stage has run or been restored (the search hands on the input size it chose).
    """

    name: str
    run: Callable[["BuildState", "BuildContext"], "BuildState"]
    reads: tuple[str, ...]
    enabled: Callable[["BuildConfig"], bool] = _always
    off_note: str | None = None
    rebuild: Callable[["Artifact", "BuildContext"], Any] | None = None
    cached: bool = True
    all_ranks: bool = False
    adapts: Callable[["BuildState", "BuildContext"], "BuildContext"] | None = None


@dataclass(frozen=True)
class BuildContext:
    """Everything a stage may read besides the state. Stages write only under ``work_dir``.

    Attributes:
        config: The validated build config.
        target: The device profile the build is judged against.
        out_dir: The user's output folder (receives the finished outputs at the end).
        data: The dataset with its fixed splits.
        reporter: Progress sink.
        threads: Threads for host runtimes (config override or the profile's).
        started: ``time.perf_counter()`` when this run of the build started.
    """

    config: "BuildConfig"
    target: "TargetProfile"
    out_dir: Path
    data: "DataBundle"
    reporter: "Reporter"
    threads: int
    started: float = 0.0

    @property
    def work_dir(self) -> Path:
        """Staging folder inside ``out_dir``; promoted into place when the build finishes."""
        return self.out_dir / WORK_DIR_NAME

    def artifact_file(self, filename: str) -> tuple[Path, str]:
        """Where a stage writes an artifact: (absolute staging path, path relative to out_dir)."""
        rel = f"artifacts/{filename}"
        return self.work_dir / rel, rel

    def resolve(self, rel: str | None) -> Path:
        """Absolute path of an artifact recorded as ``rel`` (staged or already promoted)."""
        if rel is None:
            raise ValueError("this artifact has no file (an in-memory model)")
        staged = self.work_dir / rel
        return staged if staged.exists() else self.out_dir / rel

    def formats(self) -> list[str]:
        """Formats to export: the config's, else the target's."""
        return list(self.config.export.formats or self.target.formats)

    def recording(self, log: set[str]) -> "BuildContext":
        """This context with a config and profile that record each key read into ``log``."""
        return replace(self, config=_Recorder(self.config, "config", log),  # type: ignore[arg-type]
                       target=_Recorder(self.target, "target", log))  # type: ignore[arg-type]


def checking_reads() -> bool:
    """Whether undeclared reads are errors (``EDGEKD_CHECK_READS=1``, set by the test suite)."""
    return os.environ.get(CHECK_READS_ENV, "") not in ("", "0")


def undeclared(stage: Stage, log: set[str]) -> list[str]:
    """The recorded reads that no declared path of ``stage`` covers."""
    return sorted(p for p in log if not any(p == d or p.startswith(d + ".") for d in stage.reads))


@dataclass
class _Recorder:
    """A read-only view of a pydantic model that logs the dotted path of every value read.

    Sub-models come back wrapped; a method call counts as reading the whole object it is
    called on (the method may look at any field).
    """

    _obj: Any
    _path: str
    _log: set[str] = field(repr=False)

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._obj, name)
        if isinstance(value, BaseModel):
            return _Recorder(value, f"{self._path}.{name}", self._log)
        self._log.add(self._path if callable(value) else f"{self._path}.{name}")
        return value
