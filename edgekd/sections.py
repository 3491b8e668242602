"""The base of every config section (kept apart so each room can define its own sections)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Section(BaseModel):
    """Base of every config section: unknown keys are errors, values are validated on assignment.

    NaN and ±inf are refused for every float key: none has a meaning for them, and one would
    otherwise surface later as a diverged loss or a NaN in the report.
    """

    model_config = ConfigDict(extra="forbid", validate_assignment=True, allow_inf_nan=False)
