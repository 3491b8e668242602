"""SpecAugment's time and frequency masking (Park et al. 2019) on a batch of feature maps.

Each mask covers a random band of ``0..max_width`` consecutive frames (or feature bins) at a
random position, drawn per sample from the trainer's generator. Masked cells take the
sample's mean feature value: Park et al. mask normalised features to 0, their mean; these
log-mel features are not normalised, and 0 here would be a loud band rather than an absent one.
Time warping, the paper's third part, is left out (the authors found it the least useful).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class SpecAugment:
    """Mask counts and maximum widths; zero counts or widths turn that axis off.

    Attributes:
        time_masks: Masks along the frame axis (dim 2 of ``(N, 1, frames, features)``).
        time_width: Maximum frames per time mask.
        freq_masks: Masks along the feature axis (dim 3).
        freq_width: Maximum feature bins per frequency mask.
    """

    time_masks: int = 0
    time_width: int = 0
    freq_masks: int = 0
    freq_width: int = 0

    @property
    def active(self) -> bool:
        return (self.time_masks > 0 and self.time_width > 0) or (self.freq_masks > 0 and self.freq_width > 0)

    def describe(self) -> dict:
        """For the report's preprocessing section."""
        if not self.active:
            return {}
        return {"spec_augment": {"time_masks": self.time_masks, "time_width_max": self.time_width,
                                 "freq_masks": self.freq_masks, "freq_width_max": self.freq_width,
                                 "fill": "the sample's mean feature value"}}

    def __call__(self, feats: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """Mask a ``(N, 1, frames, features)`` batch (a new tensor; the input is left alone)."""
        n, _c, frames, bins = feats.shape
        masked = torch.zeros(n, frames, bins, dtype=torch.bool)
        for count, width, size, axis in ((self.time_masks, self.time_width, frames, 1),
                                         (self.freq_masks, self.freq_width, bins, 2)):
            if width <= 0:
                continue
            for _ in range(count):
                band = _band(n, min(width, size), size, generator)  # (N, size)
                masked |= band[:, :, None] if axis == 1 else band[:, None, :]
        fill = feats.mean(dim=(1, 2, 3), keepdim=True)
        return torch.where(masked[:, None], fill, feats)


def _band(n: int, max_width: int, size: int, generator: torch.Generator) -> torch.Tensor:
    """Per sample, a boolean run of ``U{0..max_width}`` positions starting at ``U{0..size-width}``."""
    width = torch.randint(0, max_width + 1, (n,), generator=generator)
    start = (torch.rand(n, generator=generator) * (size - width + 1)).floor().long()
    position = torch.arange(size)[None, :]
    return (position >= start[:, None]) & (position < (start + width)[:, None])
