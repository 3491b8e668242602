"""Config sections of the teachers room: one class per teacher kind, tagged by ``kind``."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from ..sections import Section


class ScratchTeacher(Section):
    """A small CNN teacher trained on the spot on the training split."""

    kind: Literal["scratch-cnn"] = "scratch-cnn"
    width: int = Field(48, ge=4, le=512, description="channels of the first conv; doubles twice")
    epochs: int = Field(12, ge=1)
    lr: float = Field(3e-3, gt=0)
    weight_decay: float = Field(5e-4, ge=0)
    batch_size: int = Field(64, ge=1)
