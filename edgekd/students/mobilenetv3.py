"""MobileNetV3-Small and -Large (Howard et al. 2019, Tables 1 and 2) with a width multiplier.

Layer tables, SE placement (after the depthwise conv, squeeze to ``make_divisible(exp / 4)``) and
hard-swish placement follow the paper; channel rounding and the head follow torchvision's
reference implementation, so at width 1.0 the parameter counts match torchvision's
(5.48 M Large, 2.54 M Small at 1000 classes). One deviation from the paper's Small table: like
torchvision, no SE on the last 1x1 conv (576), which the paper marks with SE.
"""

from __future__ import annotations

import torch
from torch import nn

from .blocks import ConvBNAct, InvertedResidual, adapt_strides, init_weights, make_divisible
from .registry import check_option, register_student

# (kernel, expanded, out, SE, activation, stride)
V3_LARGE = (
    (3, 16, 16, False, "relu", 1),
    (3, 64, 24, False, "relu", 2),
    (3, 72, 24, False, "relu", 1),
    (5, 72, 40, True, "relu", 2),
    (5, 120, 40, True, "relu", 1),
    (5, 120, 40, True, "relu", 1),
    (3, 240, 80, False, "hswish", 2),
    (3, 200, 80, False, "hswish", 1),
    (3, 184, 80, False, "hswish", 1),
    (3, 184, 80, False, "hswish", 1),
    (3, 480, 112, True, "hswish", 1),
    (3, 672, 112, True, "hswish", 1),
    (5, 672, 160, True, "hswish", 2),
    (5, 960, 160, True, "hswish", 1),
    (5, 960, 160, True, "hswish", 1),
)
V3_SMALL = (
    (3, 16, 16, True, "relu", 2),
    (3, 72, 24, False, "relu", 2),
    (3, 88, 24, False, "relu", 1),
    (5, 96, 40, True, "hswish", 2),
    (5, 240, 40, True, "hswish", 1),
    (5, 240, 40, True, "hswish", 1),
    (5, 120, 48, True, "hswish", 1),
    (5, 144, 48, True, "hswish", 1),
    (5, 288, 96, True, "hswish", 2),
    (5, 576, 96, True, "hswish", 1),
    (5, 576, 96, True, "hswish", 1),
)
# Width of the hidden classifier layer (the paper's "conv2d 1x1, NBN" after the pool).
HEAD_HIDDEN = {"large": 1280, "small": 1024}


class MobileNetV3(nn.Module):
    """MobileNetV3 classifier: stem -> bnecks -> 1x1 conv -> pool -> linear+hswish -> linear.

    The paper's two 1x1 convs after the pool are written as ``Linear`` layers on the pooled
    vector: the same maths and MACs, and no 1x1-spatial convs for converters to trip on.

    Args:
        num_classes: Output logits.
        input_shape: ``(C, H, W)``; ``(H, W)`` sets the stride schedule (small-input rule).
        variant: ``large`` or ``small``.
        width: Channel multiplier (rounded to multiples of 8, head included, as torchvision).
        dropout: Dropout before the last linear layer.
    """

    def __init__(self, num_classes: int, input_shape: tuple[int, int, int], variant: str = "large",
                 width: float = 1.0, dropout: float = 0.2):
        super().__init__()
        table = V3_LARGE if variant == "large" else V3_SMALL
        in_ch, h, w = input_shape
        strides = adapt_strides([2] + [row[5] for row in table], (h, w))
        self.strides = tuple(strides)
        ch = make_divisible(16 * width)
        self.stem = ConvBNAct(in_ch, ch, 3, strides[0], activation="hswish")
        # A new stage starts at every block the paper gives stride 2, so stage names stay the same
        # whatever the small-input rule does to the actual strides.
        stages: list[list[nn.Module]] = []
        for (k, exp, out, se, act, paper_stride), stride in zip(table, strides[1:]):
            if paper_stride == 2 or not stages:
                stages.append([])
            out_ch = make_divisible(out * width)
            stages[-1].append(InvertedResidual(ch, make_divisible(exp * width), out_ch, k, stride, act, se))
            ch = out_ch
        self.stages = nn.Sequential(*(nn.Sequential(*s) for s in stages))
        self.head = ConvBNAct(ch, 6 * ch, 1, activation="hswish")
        hidden = make_divisible(HEAD_HIDDEN[variant] * width)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Sequential(
            nn.Linear(6 * ch, hidden),
            nn.Hardswish(inplace=True),
            nn.Dropout(dropout),
            nn.Linear(hidden, num_classes),
        )
        init_weights(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Map ``(N, C, H, W)`` inputs to ``(N, num_classes)`` logits."""
        x = self.head(self.stages(self.stem(x)))
        return self.classifier(torch.flatten(self.pool(x), 1))

    def feature_layers(self) -> dict[str, nn.Module]:
        """The last four stages (1/4, 1/8, 1/16, 1/32 at 224), for FitNets hints."""
        n = len(self.stages)
        return {f"stage{i}": self.stages[i] for i in range(n - 4, n)}


def _build(variant: str, num_classes: int, input_shape: tuple[int, int, int], width: float,
           dropout: float) -> MobileNetV3:
    name = f"mobilenetv3-{variant}"
    check_option(name, "width", width, 0 < width <= 4, "a number in (0, 4]")
    check_option(name, "dropout", dropout, 0 <= dropout < 1, "a number in [0, 1)")
    return MobileNetV3(num_classes, input_shape, variant, width, dropout)


@register_student("mobilenetv3-large", "any",
                  "MobileNetV3-Large: SE + hard-swish bnecks, width multiplier; small inputs keep resolution")
def build_mobilenetv3_large(num_classes: int, input_shape: tuple[int, int, int], *, width: float = 1.0,
                            dropout: float = 0.2) -> MobileNetV3:
    """Build a MobileNetV3-Large student (see :class:`MobileNetV3`)."""
    return _build("large", num_classes, input_shape, width, dropout)


@register_student("mobilenetv3-small", "any",
                  "MobileNetV3-Small: SE + hard-swish bnecks, width multiplier; small inputs keep resolution")
def build_mobilenetv3_small(num_classes: int, input_shape: tuple[int, int, int], *, width: float = 1.0,
                            dropout: float = 0.2) -> MobileNetV3:
    """Build a MobileNetV3-Small student (see :class:`MobileNetV3`)."""
    return _build("small", num_classes, input_shape, width, dropout)
