"""Config sections of the data room: one class per dataset kind, tagged by ``kind``."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from ..sections import Section


class DigitsData(Section):
    """scikit-learn's bundled 8×8 handwritten digits (1,797 real samples), upsampled."""

    kind: Literal["digits"] = "digits"
    resolution: int = Field(16, ge=8, le=128, description="side of the upsampled square image")
    test_fraction: float = Field(0.2, gt=0, lt=0.5)
    val_fraction: float = Field(0.1, gt=0, lt=0.5)
    calibration_samples: int = Field(256, ge=1, description="taken from train, for INT8 calibration")
