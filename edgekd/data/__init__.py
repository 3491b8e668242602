"""Datasets: every loader returns a :class:`DataBundle` with fixed splits."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .bundle import DataBundle, Split

if TYPE_CHECKING:
    from ..config import BuildConfig


def load_data(config: "BuildConfig") -> DataBundle:
    """Load the dataset the config names.

    Raises:
        DataError: the data cannot be read or split (one line, with a fix).
    """
    kind = config.data.kind
    if kind == "digits":
        from .digits import load_digits_bundle

        return load_digits_bundle(config.data, config.seed)
    raise AssertionError(f"unhandled data kind {kind!r}")  # the config schema admits no other


__all__ = ["DataBundle", "Split", "load_data"]
