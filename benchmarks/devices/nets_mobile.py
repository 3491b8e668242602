"""Mobile CNN families measured in the device table, written from their papers.

MobileNetV1 (Howard et al. 2017, Table 1), MobileNetV2 (Sandler et al. 2018, Table 2),
MobileNetV3 Large/Small and the "minimalistic" variants (Howard et al. 2019, Tables 1-2; the
TF-slim README describes minimalistic as the same layer sizes without SE, hard-swish or 5x5
kernels), EfficientNet-Lite0..4 (EfficientNet-B0 stages from Tan & Le 2019 Table 1, with the
tensorflow/tpu lite README changes: no SE, ReLU6, stem and head fixed while scaling) and
MnasNet-A1 / MnasNet (paper v1, later called B1: no SE) from Tan et al. 2019, Figure 7.

Only the layer shapes matter here (latency is costed from the graph): weights are random.
"""

from __future__ import annotations

import math

from torch import nn

from edgekd.students.blocks import make_divisible


def conv_bn(cin: int, cout: int, k: int = 3, s: int = 1, groups: int = 1, act: str = "relu") -> nn.Sequential:
    """Conv (same padding, no bias) + BatchNorm + activation."""
    layers: list[nn.Module] = [nn.Conv2d(cin, cout, k, s, k // 2, groups=groups, bias=False), nn.BatchNorm2d(cout)]
    if act != "none":
        layers.append(activation(act))
    return nn.Sequential(*layers)


def activation(name: str) -> nn.Module:
    """``relu``, ``relu6`` or ``hswish`` as a fresh module."""
    return {"relu": nn.ReLU, "relu6": nn.ReLU6, "hswish": nn.Hardswish}[name]()


class SqueezeExcite(nn.Module):
    """Squeeze-and-excitation: global pool, reduce, ReLU, expand, gate (sigmoid or hard-sigmoid)."""

    def __init__(self, channels: int, reduced: int, gate: str = "sigmoid") -> None:
        super().__init__()
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.reduce = nn.Conv2d(channels, reduced, 1)
        self.act = nn.ReLU()
        self.expand = nn.Conv2d(reduced, channels, 1)
        self.gate = nn.Hardsigmoid() if gate == "hsigmoid" else nn.Sigmoid()

    def forward(self, x):  # noqa: D102
        return x * self.gate(self.expand(self.act(self.reduce(self.pool(x)))))


class InvertedResidual(nn.Module):
    """MBConv: optional 1x1 expansion, kxk depthwise, optional SE, linear 1x1 projection."""

    def __init__(self, cin: int, cexp: int, cout: int, k: int, s: int, act: str, se_reduced: int = 0,
                 se_gate: str = "sigmoid") -> None:
        super().__init__()
        layers: list[nn.Module] = []
        if cexp != cin:
            layers.append(conv_bn(cin, cexp, 1, 1, act=act))
        layers.append(conv_bn(cexp, cexp, k, s, groups=cexp, act=act))
        if se_reduced:
            layers.append(SqueezeExcite(cexp, se_reduced, se_gate))
        layers.append(conv_bn(cexp, cout, 1, 1, act="none"))
        self.body = nn.Sequential(*layers)
        self.residual = s == 1 and cin == cout

    def forward(self, x):  # noqa: D102
        y = self.body(x)
        return x + y if self.residual else y


class Classifier(nn.Module):
    """Feature extractor, global average pool, then a head applied to the pooled vector."""

    def __init__(self, features: nn.Module, head: nn.Module) -> None:
        super().__init__()
        self.features = features
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.head = head

    def forward(self, x):  # noqa: D102
        return self.head(self.pool(self.features(x)).flatten(1))


def mobilenet_v1(alpha: float = 1.0, classes: int = 1000, channels: int = 3) -> nn.Module:
    """MobileNetV1: 3x3 stem then 13 depthwise-separable layers (paper Table 1), ReLU6 as TF-slim."""
    def width(c: int) -> int:
        return max(int(c * alpha), 8)  # TF-slim: depth * multiplier, min_depth 8
    plan = [(64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2)] + [(512, 1)] * 5 + [(1024, 2), (1024, 1)]
    layers: list[nn.Module] = [conv_bn(channels, width(32), 3, 2, act="relu6")]
    cin = width(32)
    for cout, s in plan:
        layers += [conv_bn(cin, cin, 3, s, groups=cin, act="relu6"), conv_bn(cin, width(cout), 1, act="relu6")]
        cin = width(cout)
    return Classifier(nn.Sequential(*layers), nn.Linear(cin, classes))


def mobilenet_v2(alpha: float = 1.0, classes: int = 1000, channels: int = 3) -> nn.Module:
    """MobileNetV2 (paper Table 2): t, c, n, s rows; head 1280 widened only for alpha > 1."""
    rows = [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2),
            (6, 320, 1, 1)]
    cin = make_divisible(32 * alpha)
    layers: list[nn.Module] = [conv_bn(channels, cin, 3, 2, act="relu6")]
    for t, c, n, s in rows:
        cout = make_divisible(c * alpha)
        for i in range(n):
            layers.append(InvertedResidual(cin, cin * t, cout, 3, s if i == 0 else 1, "relu6"))
            cin = cout
    last = make_divisible(1280 * max(alpha, 1.0))
    layers.append(conv_bn(cin, last, 1, act="relu6"))
    return Classifier(nn.Sequential(*layers), nn.Linear(last, classes))


# MobileNetV3 rows: kernel, expansion size, output, SE, activation, stride (paper Tables 1 and 2).
_V3_LARGE = [(3, 16, 16, 0, "relu", 1), (3, 64, 24, 0, "relu", 2), (3, 72, 24, 0, "relu", 1),
             (5, 72, 40, 1, "relu", 2), (5, 120, 40, 1, "relu", 1), (5, 120, 40, 1, "relu", 1),
             (3, 240, 80, 0, "hswish", 2), (3, 200, 80, 0, "hswish", 1), (3, 184, 80, 0, "hswish", 1),
             (3, 184, 80, 0, "hswish", 1), (3, 480, 112, 1, "hswish", 1), (3, 672, 112, 1, "hswish", 1),
             (5, 672, 160, 1, "hswish", 2), (5, 960, 160, 1, "hswish", 1), (5, 960, 160, 1, "hswish", 1)]
_V3_SMALL = [(3, 16, 16, 1, "relu", 2), (3, 72, 24, 0, "relu", 2), (3, 88, 24, 0, "relu", 1),
             (5, 96, 40, 1, "hswish", 2), (5, 240, 40, 1, "hswish", 1), (5, 240, 40, 1, "hswish", 1),
             (5, 120, 48, 1, "hswish", 1), (5, 144, 48, 1, "hswish", 1), (5, 288, 96, 1, "hswish", 2),
             (5, 576, 96, 1, "hswish", 1), (5, 576, 96, 1, "hswish", 1)]


def mobilenet_v3(size: str = "large", alpha: float = 1.0, minimalistic: bool = False, classes: int = 1000,
                 channels: int = 3) -> nn.Module:
    """MobileNetV3 Large/Small; ``minimalistic`` drops SE, hard-swish and 5x5 kernels."""
    rows, last_conv, head = (_V3_LARGE, 960, 1280) if size == "large" else (_V3_SMALL, 576, 1024)
    stem_act = "relu" if minimalistic else "hswish"
    cin = make_divisible(16 * alpha)
    layers: list[nn.Module] = [conv_bn(channels, cin, 3, 2, act=stem_act)]
    for k, exp, out, se, act, s in rows:
        if minimalistic:
            k, se, act = 3, 0, "relu"
        cexp, cout = make_divisible(exp * alpha), make_divisible(out * alpha)
        reduced = make_divisible(cexp / 4) if se else 0
        layers.append(InvertedResidual(cin, cexp, cout, k, s, act, reduced, "hsigmoid"))
        cin = cout
    cl = make_divisible(last_conv * alpha)
    layers.append(conv_bn(cin, cl, 1, act=stem_act))
    head_width = make_divisible(head * alpha) if alpha > 1.0 else head  # paper: head not thinned for alpha < 1
    top = nn.Sequential(nn.Linear(cl, head_width), activation(stem_act), nn.Linear(head_width, classes))
    return Classifier(nn.Sequential(*layers), top)


# EfficientNet-B0 stages: kernel, stride, expansion, output channels, repeats (Tan & Le 2019, Table 1).
_B0_STAGES = [(3, 1, 1, 16, 1), (3, 2, 6, 24, 2), (5, 2, 6, 40, 2), (3, 2, 6, 80, 3), (5, 1, 6, 112, 3),
              (5, 2, 6, 192, 4), (3, 1, 6, 320, 1)]
# (width, depth, resolution) per EfficientNet-Lite variant (tensorflow/tpu efficientnet_lite_builder).
LITE_SCALING = {0: (1.0, 1.0, 224), 1: (1.0, 1.1, 240), 2: (1.1, 1.2, 260), 3: (1.2, 1.4, 280),
                4: (1.4, 1.8, 300)}


def efficientnet_lite(variant: int = 0, classes: int = 1000, channels: int = 3) -> nn.Module:
    """EfficientNet-Lite: B0 stages scaled in width/depth, no SE, ReLU6, fixed 32 stem and 1280 head."""
    width, depth, _ = LITE_SCALING[variant]
    cin = 32
    layers: list[nn.Module] = [conv_bn(channels, cin, 3, 2, act="relu6")]
    for i, (k, s, e, c, n) in enumerate(_B0_STAGES):
        cout = make_divisible(c * width)
        # The lite builder keeps the first and last stage's repeats fixed along with stem and head.
        repeats = n if i in (0, len(_B0_STAGES) - 1) else int(math.ceil(depth * n))
        for j in range(repeats):
            layers.append(InvertedResidual(cin, cin * e, cout, k, s if j == 0 else 1, "relu6"))
            cin = cout
    layers.append(conv_bn(cin, 1280, 1, act="relu6"))
    return Classifier(nn.Sequential(*layers), nn.Linear(1280, classes))


# MnasNet stages: expansion, kernel, output, repeats, stride, SE (Tan et al. 2019, Figure 7).
_MNAS_A1 = [(6, 3, 24, 2, 2, 0), (3, 5, 40, 3, 2, 1), (6, 3, 80, 4, 2, 0), (6, 3, 112, 2, 1, 1),
            (6, 5, 160, 3, 2, 1), (6, 3, 320, 1, 1, 0)]
_MNAS_B1 = [(3, 3, 24, 3, 2, 0), (3, 5, 40, 3, 2, 0), (6, 5, 80, 3, 2, 0), (6, 3, 96, 2, 1, 0),
            (6, 5, 192, 4, 2, 0), (6, 3, 320, 1, 1, 0)]


def mnasnet(version: str = "a1", alpha: float = 1.0, classes: int = 1000, channels: int = 3) -> nn.Module:
    """MnasNet-A1 (with SE) or the paper-v1 MnasNet / B1 (no SE): stem, SepConv 16, six MBConv stages."""
    stages = _MNAS_A1 if version == "a1" else _MNAS_B1
    stem = make_divisible(32 * alpha)
    sep = make_divisible(16 * alpha)
    layers: list[nn.Module] = [conv_bn(channels, stem, 3, 2), conv_bn(stem, stem, 3, 1, groups=stem),
                               conv_bn(stem, sep, 1, act="none")]
    cin = sep
    for e, k, c, n, s, se in stages:
        cout = make_divisible(c * alpha)
        for j in range(n):
            reduced = max(1, int(cin * 0.25)) if se else 0  # SE ratio 0.25 of the block input
            layers.append(InvertedResidual(cin, cin * e, cout, k, s if j == 0 else 1, "relu", reduced))
            cin = cout
    layers.append(conv_bn(cin, 1280, 1))
    return Classifier(nn.Sequential(*layers), nn.Linear(1280, classes))
