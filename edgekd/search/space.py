"""The search space: every student the registry can build for this data, as discrete candidates.

A candidate is a registry name plus its options. The grid is the product of the configured
widths and each student's structural option values (``student.search.space``); the remaining
options come from ``student.options`` when the configured student is searched, else from the
registry defaults. With ``space.resolutions`` (image data) every architecture is also tried at
each input size; the chosen size then holds for the rest of the build (:mod:`.resolution`).
"""

from __future__ import annotations

import hashlib
import itertools
import json
from dataclasses import dataclass, field
from typing import Any

from ..errors import ConfigError
from ..students import list_students
from .schema import DEFAULT_OPTION_GRIDS, SearchSpace


@dataclass(frozen=True)
class Candidate:
    """One student architecture the search may train.

    Attributes:
        student: Registry name.
        options: Options passed to ``build_student``.
    """

    student: str
    options: dict[str, Any] = field(default_factory=dict)
    resolution: tuple[int, int] | None = None  # input [H, W]; None: the data's size

    @property
    def key(self) -> str:
        """A stable id (the Optuna parameter value): name, sorted options, and ``@HxW`` when resized."""
        opts = ",".join(f"{k}={self.options[k]}" for k in sorted(self.options))
        size = f"@{self.resolution[0]}x{self.resolution[1]}" if self.resolution else ""
        return f"{self.student}({opts}){size}"

    def to_dict(self) -> dict[str, Any]:
        """JSON form: ``{"student", "options"}``, plus ``"resolution": [H, W]`` when resized."""
        out: dict[str, Any] = {"student": self.student, "options": dict(self.options)}
        if self.resolution:
            out["resolution"] = list(self.resolution)
        return out

    @classmethod
    def from_dict(cls, record: dict[str, Any]) -> "Candidate":
        """The candidate of a :meth:`to_dict` record (a search table row, the chosen student)."""
        size = record.get("resolution")
        return cls(record["student"], dict(record["options"]), (int(size[0]), int(size[1])) if size else None)


def students_for(task: str, space: SearchSpace) -> list[str]:
    """The registry students searched for a data task (``image`` or ``audio``)."""
    known = {info.name: info for info in list_students()}
    if space.students is not None:
        unknown = [name for name in space.students if name not in known]
        if unknown:
            raise ConfigError(f"student.search.space.students: unknown student {unknown[0]!r}",
                              fix=f"use registry names: {', '.join(sorted(known))}")
        return list(space.students)
    return [name for name, info in sorted(known.items()) if info.task in (task, "any")]


def candidates(task: str, space: SearchSpace, base_student: str, base_options: dict[str, Any]) -> list[Candidate]:
    """Every candidate of the space, in a stable order (student, then input size, then options and width).

    Args:
        task: The data's task (``image`` or ``audio``).
        space: ``student.search.space``.
        base_student: ``student.name``; its ``student.options`` are kept for options not searched.
        base_options: ``student.options``.

    Raises:
        ConfigError: An unknown student, or an option grid naming an option the student lacks.
    """
    defaults = {info.name: info.defaults for info in list_students()}
    grids = DEFAULT_OPTION_GRIDS if space.options is None else space.options
    if space.resolutions is not None and task != "image":
        raise ConfigError(f"student.search.space.resolutions applies to image data, but the data is {task}",
                          fix="remove student.search.space.resolutions (audio inputs are sized by data.features)")
    sizes: list[tuple[int, int] | None] = [tuple(r) for r in space.resolutions] if space.resolutions else [None]  # type: ignore[misc]
    out = []
    for name in students_for(task, space):
        fixed = {k: v for k, v in base_options.items() if k in defaults[name]} if name == base_student else {}
        grid = dict(grids.get(name, {}))
        bad = [opt for opt in grid if opt not in defaults[name]]
        if bad:
            raise ConfigError(f"student.search.space.options: student {name!r} has no option {bad[0]!r}",
                              fix=f"use one of: {', '.join(sorted(defaults[name]))}")
        if "width" in defaults[name]:
            grid["width"] = list(space.widths)
        keys = sorted(grid)
        for size in sizes:
            for values in itertools.product(*(grid[k] for k in keys)):
                out.append(Candidate(name, {**fixed, **dict(zip(keys, values))}, size))
    unique = {c.key: c for c in out}
    return list(unique.values())


def space_digest(items: list[Candidate]) -> str:
    """Short hash of a candidate list (part of the default study name)."""
    return hashlib.sha256(json.dumps([c.key for c in items]).encode()).hexdigest()[:12]
