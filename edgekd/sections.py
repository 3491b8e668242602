"""The base of every config section (kept apart so each room can define its own sections)."""

from __future__ import annotations

from typing import Annotated, Literal, Union

from pydantic import BaseModel, ConfigDict, Field

# A training batch size: a positive integer, or "auto" (sized to the data: edgekd.distill.sizing).
BatchSize = Union[Literal["auto"], Annotated[int, Field(ge=1)]]


class Section(BaseModel):
    """Base of every config section: unknown keys are errors, values are validated on assignment.

    NaN and ±inf are refused for every float key: none has a meaning for them, and one would
    otherwise surface later as a diverged loss or a NaN in the report.
    """

    model_config = ConfigDict(extra="forbid", validate_assignment=True, allow_inf_nan=False)
