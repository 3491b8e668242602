"""Small wording helpers for messages and reports."""

from __future__ import annotations


def plural(count: int | float, noun: str, plural_form: str | None = None) -> str:
    """``"1 epoch"``, ``"2 epochs"``: the count and the noun, plural unless the count is 1."""
    word = noun if count == 1 else (plural_form or noun + "s")
    return f"{count:,} {word}" if isinstance(count, int) else f"{count:g} {word}"
