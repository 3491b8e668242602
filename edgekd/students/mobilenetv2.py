"""MobileNetV2 (Sandler et al. 2018) with width/depth multipliers and the small-input stride rule."""

from __future__ import annotations

import math

import torch
from torch import nn

from .blocks import ConvBNAct, InvertedResidual, adapt_strides, init_weights, make_divisible
from .registry import check_option, register_student

# (t, c, n, s): expansion ratio, output channels, repeats, stride of the first repeat (paper Table 2).
V2_SETTINGS = (
    (1, 16, 1, 1),
    (6, 24, 2, 2),
    (6, 32, 3, 2),
    (6, 64, 4, 2),
    (6, 96, 3, 1),
    (6, 160, 3, 2),
    (6, 320, 1, 1),
)
V2_ACTIVATIONS = ("relu6", "hswish", "relu")


class MobileNetV2(nn.Module):
    """MobileNetV2 classifier: stem -> 7 inverted-residual stages -> 1x1 head -> pool -> linear.

    Args:
        num_classes: Output logits.
        input_shape: ``(C, H, W)``; ``C`` sets the stem's input channels and ``(H, W)`` the
            stride schedule (see :func:`edgekd.students.blocks.adapt_strides`).
        width: Channel multiplier; channels are rounded to multiples of 8. As in the paper, the
            1280-channel head is not shrunk for ``width < 1``.
        depth: Multiplier on each stage's repeats (``ceil(n * depth)``, at least 1).
        se: Add a squeeze-excite gate to every block (not in the paper; MobileNetV3-style).
        activation: ``relu6`` (paper), ``hswish`` or ``relu``.
        dropout: Dropout before the classifier.
    """

    def __init__(self, num_classes: int, input_shape: tuple[int, int, int], width: float = 1.0,
                 depth: float = 1.0, se: bool = False, activation: str = "relu6", dropout: float = 0.2):
        super().__init__()
        in_ch, h, w = input_shape
        # Downsampling points: the stem, then the first block of every stage.
        strides = adapt_strides([2] + [s for _t, _c, _n, s in V2_SETTINGS], (h, w))
        self.strides = tuple(strides)
        ch = make_divisible(32 * width)
        self.stem = ConvBNAct(in_ch, ch, 3, strides[0], activation=activation)
        stages = []
        for (t, c, n, _s), stride in zip(V2_SETTINGS, strides[1:]):
            out = make_divisible(c * width)
            blocks = []
            for i in range(max(1, math.ceil(n * depth))):
                blocks.append(InvertedResidual(ch, int(round(ch * t)), out, 3, stride if i == 0 else 1,
                                               activation, se))
                ch = out
            stages.append(nn.Sequential(*blocks))
        self.stages = nn.Sequential(*stages)
        last = make_divisible(1280 * max(1.0, width))
        self.head = ConvBNAct(ch, last, 1, activation=activation)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(last, num_classes)
        init_weights(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Map ``(N, C, H, W)`` inputs to ``(N, num_classes)`` logits."""
        x = self.head(self.stages(self.stem(x)))
        return self.classifier(self.dropout(torch.flatten(self.pool(x), 1)))

    def feature_layers(self) -> dict[str, nn.Module]:
        """The last stage at each resolution (1/4, 1/8, 1/16, 1/32 at 224), for FitNets hints.

        Hook a module's forward output to read its feature map.
        """
        return {"stage2": self.stages[1], "stage3": self.stages[2], "stage5": self.stages[4],
                "stage7": self.stages[6]}


@register_student("mobilenetv2", "any",
                  "MobileNetV2 inverted residuals; width/depth multipliers, optional SE; small inputs keep resolution",
                  build_defaults={"width": 0.35})
def build_mobilenetv2(num_classes: int, input_shape: tuple[int, int, int], *, width: float = 1.0,
                      depth: float = 1.0, se: bool = False, activation: str = "relu6",
                      dropout: float = 0.2) -> MobileNetV2:
    """Build a MobileNetV2 student (see :class:`MobileNetV2` for the options)."""
    name = "mobilenetv2"
    check_option(name, "width", width, 0 < width <= 4, "a number in (0, 4]")
    check_option(name, "depth", depth, 0 < depth <= 4, "a number in (0, 4]")
    check_option(name, "activation", activation, activation in V2_ACTIVATIONS, " or ".join(V2_ACTIVATIONS))
    check_option(name, "dropout", dropout, 0 <= dropout < 1, "a number in [0, 1)")
    return MobileNetV2(num_classes, input_shape, width, depth, se, activation, dropout)
