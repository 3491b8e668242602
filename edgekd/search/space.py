"""The search space: every student the registry can build for this data, as discrete candidates.

A candidate is a registry name plus its options. The grid is the product of the configured
widths and each student's structural option values (``student.search.space``); the remaining
options come from ``student.options`` when the configured student is searched, else from the
registry defaults. Resolution is not searched: the data's input shape is fixed for the whole
pipeline (export, quantization, measurement all use it).
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

    @property
    def key(self) -> str:
        """A stable id (the Optuna parameter value): name and sorted options."""
        opts = ",".join(f"{k}={self.options[k]}" for k in sorted(self.options))
        return f"{self.student}({opts})"

    def to_dict(self) -> dict[str, Any]:
        """JSON form: ``{"student", "options"}``."""
        return {"student": self.student, "options": dict(self.options)}


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
    """Every candidate of the space, in a stable order (student, then options, then width).

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
        for values in itertools.product(*(grid[k] for k in keys)):
            out.append(Candidate(name, {**fixed, **dict(zip(keys, values))}))
    unique = {c.key: c for c in out}
    return list(unique.values())


def space_digest(items: list[Candidate]) -> str:
    """Short hash of a candidate list (part of the default study name)."""
    return hashlib.sha256(json.dumps([c.key for c in items]).encode()).hexdigest()[:12]
