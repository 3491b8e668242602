"""Quantities with units in profile YAMLs: bytes, durations, frequencies, fractions.

``512 KiB`` / ``2 MB`` / ``1.5 GiB`` (or a plain integer) for bytes, ``20 ms`` / ``0.02 s`` for
durations (a bare number is milliseconds), ``1.5 GHz`` for clocks, ``85%`` or ``0.85`` for
fractions (a bare ``85`` is refused). Each parser raises a ``ValueError`` naming the units it
accepts; pydantic turns it into the one-line profile error ``targets.py`` reports.
"""

from __future__ import annotations

import math
import re
from typing import Annotated, Any

from pydantic import BeforeValidator, Field

_BYTE_UNITS = {"b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12,
               "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40}
_TIME_UNITS_MS = {"ms": 1.0, "s": 1000.0, "us": 1e-3, "µs": 1e-3}
_HZ_UNITS = {"hz": 1.0, "khz": 1e3, "mhz": 1e6, "ghz": 1e9}
_QUANTITY = re.compile(r"^\s*([0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)\s*([A-Za-zµ/]*)\s*$")


def _split(value: str, what: str, allowed: str) -> tuple[float, str]:
    match = _QUANTITY.match(value)
    if not match:
        raise ValueError(f"{value!r} is not a {what}; write e.g. {allowed}")
    number = float(match.group(1))
    if not math.isfinite(number):  # '1e999 B' overflows to infinity
        raise ValueError(f"{value!r} is too large to be a {what}; write e.g. {allowed}")
    return number, match.group(2).lower()


def _parse_bytes(value: Any) -> Any:
    """``512 KiB`` -> 524288; integers pass through; anything else is an error naming the units."""
    if isinstance(value, bool):
        raise ValueError("expected a byte count such as 524288 or '512 KiB'")
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if not isinstance(value, str):
        return value
    number, unit = _split(value, "byte size", "'512 KiB', '2 MB' or '1.5 GiB'")
    if unit.endswith("/s"):
        unit = unit[:-2]
    if unit and unit not in _BYTE_UNITS:
        raise ValueError(f"unknown byte unit {unit!r} in {value!r}; use B, KB, MB, GB (x1000) or KiB, MiB, GiB (x1024)")
    return int(round(number * _BYTE_UNITS.get(unit, 1)))


def _parse_ms(value: Any) -> Any:
    """``20 ms`` / ``0.02 s`` / ``500 us`` -> milliseconds; a bare number is milliseconds."""
    if isinstance(value, bool) or not isinstance(value, str):
        return value
    number, unit = _split(value, "duration", "'20 ms' or '0.02 s'")
    if unit and unit not in _TIME_UNITS_MS:
        raise ValueError(f"unknown time unit {unit!r} in {value!r}; use ms, s or us")
    return number * _TIME_UNITS_MS.get(unit, 1.0)


def _parse_hz(value: Any) -> Any:
    if isinstance(value, bool) or not isinstance(value, str):
        return value
    number, unit = _split(value, "frequency", "'1.5 GHz' or 1.5e9")
    if unit and unit not in _HZ_UNITS:
        raise ValueError(f"unknown frequency unit {unit!r} in {value!r}; use Hz, kHz, MHz or GHz")
    return number * _HZ_UNITS.get(unit, 1.0)


def _parse_fraction(value: Any) -> Any:
    """Fractions in [0, 1]; ``85%`` -> 0.85; a bare 85 is refused (it is ambiguous)."""
    if isinstance(value, str) and value.strip().endswith("%"):
        return float(value.strip()[:-1]) / 100.0
    if isinstance(value, (int, float)) and not isinstance(value, bool) and 1 < value <= 100:
        raise ValueError(f"{value} looks like a percent; fractions are in [0, 1]: write {value / 100:g}")
    return value


Bytes = Annotated[int, BeforeValidator(_parse_bytes), Field(ge=0)]
Milliseconds = Annotated[float, BeforeValidator(_parse_ms), Field(gt=0)]
Hertz = Annotated[float, BeforeValidator(_parse_hz), Field(gt=0)]
Fraction = Annotated[float, BeforeValidator(_parse_fraction), Field(ge=0, le=1)]
BytesPerSecond = Annotated[float, BeforeValidator(_parse_bytes), Field(gt=0)]
