"""Exponential moving average of a model's weights (and batch-norm statistics).

After every optimiser step ``shadow ← decay · shadow + (1 − decay) · current`` for each
floating-point entry of the state dict; integer entries (batch-norm's step counter) are
copied. The shadow starts as the initial weights. It is a plain dict of tensors rather than
a second module (``torch.optim.swa_utils.AveragedModel`` deep-copies the module, and with
it any forward hooks the KD objective placed on the student); :meth:`applied` swaps it into
the model for evaluation and swaps the training weights back.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

import torch
from torch import nn


class WeightEMA:
    """EMA of ``model``'s state dict.

    Args:
        model: The model being trained (read, never modified except inside :meth:`applied`).
        decay: Weight of the old average at each update, in (0, 1).
    """

    def __init__(self, model: nn.Module, decay: float):
        if not 0.0 < decay < 1.0:
            raise ValueError(f"EMA decay must be in (0, 1), got {decay}")
        self.decay = float(decay)
        self.shadow = {k: v.detach().clone() for k, v in model.state_dict().items()}

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        """Fold the model's current weights into the average."""
        current = model.state_dict()
        for key, value in self.shadow.items():
            if value.is_floating_point():
                value.lerp_(current[key].detach(), 1.0 - self.decay)  # value + w·(current − value)
            else:
                value.copy_(current[key])

    def state_dict(self) -> dict:
        """The averaged weights (for checkpoints and export)."""
        return {k: v.clone() for k, v in self.shadow.items()}

    def load_state_dict(self, state: dict) -> None:
        """Restore the average from a checkpoint."""
        for key, value in state.items():
            self.shadow[key].copy_(value)

    @contextmanager
    def applied(self, model: nn.Module) -> Iterator[nn.Module]:
        """Temporarily load the averaged weights into ``model`` (the training weights come back after)."""
        saved = {k: v.detach().clone() for k, v in model.state_dict().items()}
        model.load_state_dict(self.shadow)
        try:
            yield model
        finally:
            model.load_state_dict(saved)
