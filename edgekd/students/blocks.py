"""Building blocks shared by every student, plus the small-input stride rule.

Only export-friendly ops are used (Conv2d, BatchNorm2d, ReLU/ReLU6, ``nn.Hardswish``,
``nn.Hardsigmoid``, ``AdaptiveAvgPool2d(1)``, ``flatten``, ``ZeroPad2d``): these map one to one onto
ONNX (opset 17), TFLite and Core ML ops, so students convert without custom kernels.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

ACTIVATIONS = ("relu", "relu6", "hswish", "none")

# Below this input side the ImageNet stride schedule downsamples too early (a 32x32 CIFAR image
# reaches 1x1 after 5 stride-2 stages), so students switch to the CIFAR-style schedule.
SMALL_INPUT_SIDE = 64
# The smallest final feature map the stride rule aims for (2x2 keeps some spatial structure for
# the global pool and for FitNets hints).
MIN_FINAL_SIDE = 2


def make_divisible(v: float, divisor: int = 8, min_value: int | None = None) -> int:
    """Round a channel count to a multiple of ``divisor`` (the MobileNet rule).

    Accelerators and int8 kernels are fastest on multiples of 8; the rule never rounds down by
    more than 10 %, so a width multiplier cannot silently remove a large share of a layer.

    Args:
        v: The unrounded channel count (e.g. ``32 * width``).
        divisor: The multiple to round to.
        min_value: Smallest result allowed; defaults to ``divisor``.

    Returns:
        The rounded channel count.
    """
    min_value = divisor if min_value is None else min_value
    new_v = max(min_value, int(v + divisor / 2) // divisor * divisor)
    if new_v < 0.9 * v:
        new_v += divisor
    return new_v


def make_activation(name: str) -> nn.Module:
    """Return a fresh activation module by name (``relu``, ``relu6``, ``hswish`` or ``none``).

    Raises:
        ValueError: If the name is unknown (builders validate options before this point).
    """
    if name == "relu":
        return nn.ReLU(inplace=True)
    if name == "relu6":
        return nn.ReLU6(inplace=True)
    if name == "hswish":
        return nn.Hardswish(inplace=True)
    if name == "none":
        return nn.Identity()
    raise ValueError(f"unknown activation {name!r}; expected one of {ACTIVATIONS}")


class ConvBNAct(nn.Sequential):
    """Conv2d (no bias) + BatchNorm2d + activation; padding keeps 'same' size for odd kernels.

    Args:
        in_ch: Input channels.
        out_ch: Output channels.
        kernel: Kernel size (int or (kh, kw)).
        stride: Stride (int or (sh, sw)).
        groups: Conv groups (``in_ch`` for depthwise).
        activation: ``relu``, ``relu6``, ``hswish`` or ``none``.
        padding: Explicit padding; default ``(k - 1) // 2`` per axis.
    """

    def __init__(self, in_ch: int, out_ch: int, kernel: int | tuple[int, int] = 3,
                 stride: int | tuple[int, int] = 1, groups: int = 1, activation: str = "relu",
                 padding: int | tuple[int, int] | None = None):
        kh, kw = (kernel, kernel) if isinstance(kernel, int) else kernel
        if padding is None:
            padding = ((kh - 1) // 2, (kw - 1) // 2)
        # No conv bias: BatchNorm's shift makes it redundant, and BN folds into the conv at export.
        super().__init__(
            nn.Conv2d(in_ch, out_ch, (kh, kw), stride, padding, groups=groups, bias=False),
            nn.BatchNorm2d(out_ch),
            make_activation(activation),
        )
        self.out_channels = out_ch


class SqueezeExcite(nn.Module):
    """Squeeze-and-excitation with a hard-sigmoid gate (MobileNetV3 style).

    Args:
        channels: Channels of the tensor being gated.
        ratio: Squeeze ratio; squeezed channels are ``make_divisible(channels * ratio)``.
    """

    def __init__(self, channels: int, ratio: float = 0.25):
        super().__init__()
        squeezed = make_divisible(channels * ratio, 8)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc1 = nn.Conv2d(channels, squeezed, 1)
        self.act = nn.ReLU(inplace=True)
        self.fc2 = nn.Conv2d(squeezed, channels, 1)
        # Hard-sigmoid instead of sigmoid: cheap, and quantizes well on int8 runtimes.
        self.gate = nn.Hardsigmoid(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Scale each channel of ``x`` by a gate computed from its global average."""
        s = self.gate(self.fc2(self.act(self.fc1(self.pool(x)))))
        return x * s


class InvertedResidual(nn.Module):
    """MobileNetV2/V3 block: expand 1x1 -> depthwise kxk -> optional SE -> project 1x1.

    The expansion conv is skipped when ``expanded == in_ch`` (the first V2/V3 block). The residual
    is added when the block keeps the shape (stride 1 and ``in_ch == out_ch``).

    Args:
        in_ch: Input channels.
        expanded: Channels after the expansion conv.
        out_ch: Output channels (the projection is linear: no activation).
        kernel: Depthwise kernel size.
        stride: Depthwise stride (1 or 2).
        activation: Activation after the expansion and depthwise convs.
        se: Whether to insert a squeeze-excite gate after the depthwise conv.
    """

    def __init__(self, in_ch: int, expanded: int, out_ch: int, kernel: int = 3, stride: int = 1,
                 activation: str = "relu6", se: bool = False):
        super().__init__()
        self.use_residual = stride == 1 and in_ch == out_ch
        layers: list[nn.Module] = []
        if expanded != in_ch:
            layers.append(ConvBNAct(in_ch, expanded, 1, activation=activation))
        layers.append(ConvBNAct(expanded, expanded, kernel, stride, groups=expanded, activation=activation))
        if se:
            layers.append(SqueezeExcite(expanded))
        layers.append(ConvBNAct(expanded, out_ch, 1, activation="none"))
        self.block = nn.Sequential(*layers)
        self.out_channels = out_ch

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Apply the block (plus the identity shortcut when shapes match)."""
        y = self.block(x)
        return x + y if self.use_residual else y


class DepthwiseSeparable(nn.Sequential):
    """DS-CNN block (Zhang et al. 2017): depthwise kxk + BN + act, then pointwise 1x1 + BN + act.

    Args:
        in_ch: Input channels.
        out_ch: Output channels.
        kernel: Depthwise kernel size.
        stride: Depthwise stride (int or (sh, sw)).
        activation: Activation after both convs.
    """

    def __init__(self, in_ch: int, out_ch: int, kernel: int | tuple[int, int] = 3,
                 stride: int | tuple[int, int] = 1, activation: str = "relu"):
        super().__init__(
            ConvBNAct(in_ch, in_ch, kernel, stride, groups=in_ch, activation=activation),
            ConvBNAct(in_ch, out_ch, 1, activation=activation),
        )
        self.out_channels = out_ch


def adapt_strides(strides: Sequence[int], hw: tuple[int, int]) -> list[int]:
    """Apply the small-input stride rule to a network's stride schedule.

    ``strides`` lists the stride of every spatial downsampling point in order: the stem conv
    first, then each block. The rule:

    1. If ``min(H, W) >= 64`` the schedule is kept (ImageNet-style; 224 -> 7x7).
    2. Otherwise the stem and the first stride-2 block get stride 1 (the common CIFAR variant:
       32x32 -> 4x4 instead of 1x1).
    3. If the final feature map would still be smaller than 2x2 on its short side, the earliest
       remaining stride-2 points are set to 1, one at a time, until it is 2x2 or no stride is left
       (8x8 digits -> 2x2; a 1x1 input stays 1x1).

    Output sizes follow 'same'-padded convs: each stride-2 point maps a side ``n`` to ``ceil(n/2)``.

    Args:
        strides: Stride (1 or 2) at each downsampling point, stem first.
        hw: Input height and width.

    Returns:
        The adapted strides, same length as ``strides``.
    """
    out = list(strides)
    side = min(hw)
    if side >= SMALL_INPUT_SIDE:
        return out

    def first_stride2() -> int | None:
        return next((i for i, s in enumerate(out) if s > 1), None)

    for _ in range(2):  # stem, then the first stride-2 stage
        i = first_stride2()
        if i is not None:
            out[i] = 1
    while _final_side(side, out) < MIN_FINAL_SIDE and (i := first_stride2()) is not None:
        out[i] = 1
    return out


def _final_side(side: int, strides: Sequence[int]) -> int:
    for s in strides:
        side = math.ceil(side / s)
    return side


def init_weights(model: nn.Module) -> None:
    """Initialise like the reference MobileNets (He fan-out convs, unit BN, small linear)."""
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out")
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, 0, 0.01)
            nn.init.zeros_(m.bias)
