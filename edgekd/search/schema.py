"""The ``student.search`` config section (kept in the search room; :mod:`edgekd.config` embeds it)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator

from ..sections import Section

DEFAULT_WIDTHS = (0.25, 0.35, 0.5, 0.75, 1.0)
# Per student, the structural options searched besides width (the registry's own option names).
DEFAULT_OPTION_GRIDS: dict[str, dict[str, list[Any]]] = {
    "mobilenetv2": {"depth": [0.5, 1.0]},
    "ds-cnn": {"size": ["s", "m"]},
}


class SearchSpace(Section):
    """Which students the search may build: every combination of the listed values."""

    students: list[str] | None = Field(
        None, description="registry names to search (default: every student for the data's task: image or audio)")
    widths: list[float] = Field(default_factory=lambda: list(DEFAULT_WIDTHS), min_length=1,
                                description="width multipliers tried for every student")
    options: dict[str, dict[str, list[Any]]] | None = Field(
        None, description="per student, option -> values to try, e.g. {mobilenetv2: {depth: [0.5, 1.0]}} "
                          "(default: mobilenetv2 depth 0.5/1.0, ds-cnn size s/m); other options keep "
                          "student.options or the registry default")
    resolutions: list[tuple[int, int]] | None = Field(
        None, description="input sizes [H, W] to try, e.g. [[32, 32], [24, 24]] (image data only): the student "
                          "trains, quantizes, exports and is measured at the chosen size, its inputs resized from "
                          "the data's (bilinear, antialiased); the teacher keeps the data's size or its own "
                          "teacher.input; null: the data's size only")

    @field_validator("resolutions")
    @classmethod
    def _sizes(cls, value: list[tuple[int, int]] | None) -> list[tuple[int, int]] | None:
        if value is not None and (not value or any(min(size) < 4 for size in value)):
            raise ValueError("give at least one [H, W], each side >= 4 pixels")
        return value


class SearchConfig(Section):
    """Search the student that meets the target's budgets (``edgekd build --fit``; off by default).

    Every candidate is built untrained, exported as the target runs it and judged by the
    latency predictor and memory analysis; only the feasible ones train, in short KD runs
    that a pruner stops early; the winner is then distilled with the full ``distill`` budget.
    """

    enabled: bool = Field(False, description="search the student instead of using student.name/options")
    max_trials: int = Field(8, ge=1, description="most short KD runs (trials) over all workers of the study")
    budget_minutes: float | None = Field(None, gt=0, description="stop starting trials after this many minutes "
                                         "of this run (the running trial finishes)")
    trial_epochs: int = Field(3, ge=1, description="epochs of one short KD run (the highest fidelity of a trial)")
    max_teacher_macs_ratio: float | None = Field(
        1.0, gt=0, description="candidates with more MACs than this times the teacher's are infeasible "
                               "(a student larger than its teacher is rarely worth it); null: no limit")
    target_check: bool = Field(
        True, description="on a TFLite Micro target, also convert each candidate that passes the ONNX screen "
                          "to the INT8 .tflite it would ship and run it in TFLite Micro (real arena, file size, "
                          "supported ops; ~10-20 s per candidate)")
    pruner: Literal["hyperband", "successive-halving", "none"] = Field(
        "hyperband", description="stops trials whose val top-1 trails the others at the same epoch")
    space: SearchSpace = Field(default_factory=SearchSpace, description="the candidates (see SearchSpace)")
    storage: str | None = Field(
        None, description="SQLAlchemy URL of the Optuna study, e.g. sqlite:////shared/study.db or "
                          "postgresql://host/db, so several machines run trials of one study "
                          "(default: a sqlite file in the build's work folder)")
    study_name: str | None = Field(None, description="name of the study in the storage (default: derived from "
                                                     "the search config, the data and the target)")
