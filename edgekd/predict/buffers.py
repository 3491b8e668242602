"""Activation buffers over an ordered graph: one plan for the ONNX and the .tflite liveness analyses.

A tensor gets a buffer when it is produced (graph inputs at step 0), or shares its input's buffer
(views, in-place ops, an output written over an input that dies at that step with the same size).
A buffer lives from its first producer to the last use of any tensor in it; the bytes alive at a
step are the sum over the buffers whose lifetime covers it.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)


class BufferPlan(Generic[K]):
    """Which tensor lives in which buffer, and each buffer's size and lifetime.

    Args:
        last_use: The last step that reads each tensor (graph outputs: one past the last step).
    """

    def __init__(self, last_use: dict[K, int]):
        self.last_use = last_use
        self.buffer_of: dict[K, int] = {}
        self.size: list[int] = []
        self.start: list[int] = []
        self.stop: list[int] = []

    def __contains__(self, key: object) -> bool:
        return key in self.buffer_of

    def new(self, key: K, step: int, nbytes: int) -> None:
        """``key`` gets a buffer of its own, alive from ``step`` to its last use."""
        self.buffer_of[key] = len(self.size)
        self.size.append(nbytes)
        self.start.append(step)
        self.stop.append(self.last_use.get(key, step))

    def share(self, key: K, donor: K) -> None:
        """``key`` lives in ``donor``'s buffer, which now lasts until ``key``'s last use too (its size is kept)."""
        bid = self.buffer_of[donor]
        self.buffer_of[key] = bid
        self.stop[bid] = max(self.stop[bid], self.last_use.get(key, self.stop[bid]))

    def donor(self, inputs: Iterable[K], step: int, nbytes: int) -> K | None:
        """An input whose buffer dies at ``step`` and holds exactly ``nbytes`` (an in-place binary op's output)."""
        return next((k for k in inputs if self.stop[self.buffer_of[k]] == step
                     and self.size[self.buffer_of[k]] == nbytes), None)

    def place_outputs(self, outputs: Iterable[K], step: int, nbytes_of, donor: K | None) -> None:
        """The first output into ``donor``'s buffer when there is one, the others into new buffers."""
        for out in outputs:
            if donor is not None:
                self.share(out, donor)
                donor = None
            else:
                self.new(out, step, nbytes_of(out))

    def alive_bytes(self, step: int) -> int:
        """Bytes of the buffers alive at ``step``."""
        alive = {b for b in set(self.buffer_of.values()) if self.start[b] <= step <= self.stop[b]}
        return sum(self.size[b] for b in alive)
