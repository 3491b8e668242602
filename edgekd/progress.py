"""Progress reporting: the API reports through this small interface; the CLI draws it with rich."""

from __future__ import annotations

from typing import Protocol


class Reporter(Protocol):
    """Receives progress events from long stages."""

    def stage(self, name: str, detail: str = "") -> None:
        """A pipeline stage starts."""

    def epoch(self, label: str, epoch: int, epochs: int, loss: float, val_top1: float,
              samples_per_s: float) -> None:
        """One training epoch finished."""

    def note(self, text: str) -> None:
        """Something the user should see (a warning, a skipped stage)."""


class NullReporter:
    """Reports nothing (the API default)."""

    def stage(self, name: str, detail: str = "") -> None:  # noqa: D102
        pass

    def epoch(self, label: str, epoch: int, epochs: int, loss: float, val_top1: float,
              samples_per_s: float) -> None:  # noqa: D102
        pass

    def note(self, text: str) -> None:  # noqa: D102
        pass
