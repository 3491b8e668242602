"""Server-era CNNs and the MLPerf Tiny reference models measured in the device table.

Written from the papers: ResNet v1 (He et al. 2016, Table 1) and v2 / pre-activation (He et al.
2016b), VGG-16/19 (Simonyan & Zisserman 2015, configurations D and E), SqueezeNet 1.0 (Iandola et
al. 2016, Table 1), GoogLeNet / Inception v1 (Szegedy et al. 2015, Table 1; BatchNorm added as in
the TF-slim port), Inception v3 (Szegedy et al. 2016, Table 1 and Figures 5-7, no auxiliary head).
MLPerf Tiny closed-division models follow the layer lists of mlcommons/tiny
``benchmark/training/*`` (read, not copied): DS-CNN (KWS), ResNet-8 with 16/32/64 filters (IC,
as used for results v0.5-v1.2), MobileNetV1 0.25 at 96x96 (VWW, built by ``mobilenet_v1``) and
the dense auto-encoder (AD).
"""

from __future__ import annotations

import torch
from torch import nn

from .nets_mobile import Classifier, conv_bn


class BasicBlock(nn.Module):
    """Two 3x3 convs with an identity or 1x1 projection shortcut (post- or pre-activation)."""

    expansion = 1

    def __init__(self, cin: int, width: int, stride: int, preact: bool) -> None:
        super().__init__()
        cout = width * self.expansion
        self.preact = nn.Sequential(nn.BatchNorm2d(cin), nn.ReLU()) if preact else nn.Identity()
        self.body = self._body(cin, width, stride, preact)
        self.shortcut = (nn.Conv2d(cin, cout, 1, stride, bias=False) if stride != 1 or cin != cout else None)
        self.shortcut_bn = nn.BatchNorm2d(cout) if self.shortcut is not None and not preact else nn.Identity()
        self.out_act = nn.Identity() if preact else nn.ReLU()

    def _body(self, cin: int, width: int, stride: int, preact: bool) -> nn.Sequential:
        if preact:
            return nn.Sequential(_pre(cin, width, 3, stride, first=True), _pre(width, width, 3, 1))
        return nn.Sequential(conv_bn(cin, width, 3, stride), conv_bn(width, width, 3, act="none"))

    def forward(self, x):  # noqa: D102
        pre = self.preact(x)
        skip = x if self.shortcut is None else self.shortcut_bn(self.shortcut(pre))
        return self.out_act(self.body(pre) + skip)


class Bottleneck(BasicBlock):
    """1x1 reduce, 3x3, 1x1 expand (x4) with a projection shortcut where shapes change."""

    expansion = 4

    def _body(self, cin: int, width: int, stride: int, preact: bool) -> nn.Sequential:
        if preact:
            return nn.Sequential(_pre(cin, width, 1, 1, first=True), _pre(width, width, 3, stride),
                                 _pre(width, width * 4, 1, 1))
        return nn.Sequential(conv_bn(cin, width, 1), conv_bn(width, width, 3, stride),
                             conv_bn(width, width * 4, 1, act="none"))


def _pre(cin: int, cout: int, k: int, s: int, first: bool = False) -> nn.Sequential:
    """Pre-activation unit: (BN, ReLU unless it is the block's first conv) then conv."""
    layers: list[nn.Module] = [] if first else [nn.BatchNorm2d(cin), nn.ReLU()]
    return nn.Sequential(*layers, nn.Conv2d(cin, cout, k, s, k // 2, bias=False))


RESNET_DEPTHS = {18: (BasicBlock, (2, 2, 2, 2)), 34: (BasicBlock, (3, 4, 6, 3)), 50: (Bottleneck, (3, 4, 6, 3)),
                 101: (Bottleneck, (3, 4, 23, 3)), 152: (Bottleneck, (3, 8, 36, 3))}


def resnet(depth: int = 50, version: int = 1, classes: int = 1000, channels: int = 3) -> nn.Module:
    """ResNet-18/34/50/101/152, v1 (post-activation) or v2 (pre-activation, final BN-ReLU)."""
    block, counts = RESNET_DEPTHS[depth]
    preact = version == 2
    stem = (nn.Conv2d(channels, 64, 7, 2, 3, bias=False) if preact else conv_bn(channels, 64, 7, 2))
    layers: list[nn.Module] = [stem, nn.MaxPool2d(3, 2, 1)]
    cin = 64
    for i, (width, n) in enumerate(zip((64, 128, 256, 512), counts)):
        for j in range(n):
            layers.append(block(cin, width, 2 if (j == 0 and i > 0) else 1, preact))
            cin = width * block.expansion
    if preact:
        layers += [nn.BatchNorm2d(cin), nn.ReLU()]
    return Classifier(nn.Sequential(*layers), nn.Linear(cin, classes))


_VGG = {16: (2, 2, 3, 3, 3), 19: (2, 2, 4, 4, 4)}


def vgg(depth: int = 16, classes: int = 1000, channels: int = 3) -> nn.Module:
    """VGG-16 (configuration D) or VGG-19 (E): 3x3 conv stacks, 2x2 max pools, three FC layers."""
    layers: list[nn.Module] = []
    cin = channels
    for width, n in zip((64, 128, 256, 512, 512), _VGG[depth]):
        for _ in range(n):
            layers += [nn.Conv2d(cin, width, 3, 1, 1), nn.ReLU()]
            cin = width
        layers.append(nn.MaxPool2d(2, 2))
    head = nn.Sequential(nn.Flatten(), nn.Linear(512 * 7 * 7, 4096), nn.ReLU(), nn.Linear(4096, 4096), nn.ReLU(),
                         nn.Linear(4096, classes))
    return nn.Sequential(*layers, head)


class Fire(nn.Module):
    """SqueezeNet fire module: 1x1 squeeze, then parallel 1x1 and 3x3 expands, concatenated."""

    def __init__(self, cin: int, squeeze: int, e1: int, e3: int) -> None:
        super().__init__()
        self.squeeze = nn.Sequential(nn.Conv2d(cin, squeeze, 1), nn.ReLU())
        self.e1 = nn.Sequential(nn.Conv2d(squeeze, e1, 1), nn.ReLU())
        self.e3 = nn.Sequential(nn.Conv2d(squeeze, e3, 3, 1, 1), nn.ReLU())

    def forward(self, x):  # noqa: D102
        s = self.squeeze(x)
        return torch.cat([self.e1(s), self.e3(s)], 1)


def squeezenet(classes: int = 1000, channels: int = 3) -> nn.Module:
    """SqueezeNet 1.0 (paper Table 1): conv1 96 7x7/2, fire2-9 with max pools after 1, 4, 8, conv10."""
    pool = nn.MaxPool2d(3, 2, ceil_mode=True)
    return nn.Sequential(
        nn.Conv2d(channels, 96, 7, 2), nn.ReLU(), pool,
        Fire(96, 16, 64, 64), Fire(128, 16, 64, 64), Fire(128, 32, 128, 128), nn.MaxPool2d(3, 2, ceil_mode=True),
        Fire(256, 32, 128, 128), Fire(256, 48, 192, 192), Fire(384, 48, 192, 192), Fire(384, 64, 256, 256),
        nn.MaxPool2d(3, 2, ceil_mode=True), Fire(512, 64, 256, 256),
        nn.Conv2d(512, classes, 1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten())


class Branches(nn.Module):
    """Run parallel branches on one input and concatenate along channels."""

    def __init__(self, *branches: nn.Module) -> None:
        super().__init__()
        self.branches = nn.ModuleList(branches)

    def forward(self, x):  # noqa: D102
        return torch.cat([b(x) for b in self.branches], 1)


def _inception_v1_module(cin: int, c1: int, r3: int, c3: int, r5: int, c5: int, pp: int) -> Branches:
    return Branches(conv_bn(cin, c1, 1),
                    nn.Sequential(conv_bn(cin, r3, 1), conv_bn(r3, c3, 3)),
                    nn.Sequential(conv_bn(cin, r5, 1), conv_bn(r5, c5, 5)),
                    nn.Sequential(nn.MaxPool2d(3, 1, 1), conv_bn(cin, pp, 1)))


_V1_MODULES = [(192, 64, 96, 128, 16, 32, 32), (256, 128, 128, 192, 32, 96, 64), "pool",
               (480, 192, 96, 208, 16, 48, 64), (512, 160, 112, 224, 24, 64, 64), (512, 128, 128, 256, 24, 64, 64),
               (512, 112, 144, 288, 32, 64, 64), (528, 256, 160, 320, 32, 128, 128), "pool",
               (832, 256, 160, 320, 32, 128, 128), (832, 384, 192, 384, 48, 128, 128)]


def inception_v1(classes: int = 1000, channels: int = 3) -> nn.Module:
    """GoogLeNet (paper Table 1) with BatchNorm, without the auxiliary classifiers."""
    layers: list[nn.Module] = [conv_bn(channels, 64, 7, 2), nn.MaxPool2d(3, 2, 1), conv_bn(64, 64, 1),
                               conv_bn(64, 192, 3), nn.MaxPool2d(3, 2, 1)]
    for spec in _V1_MODULES:
        layers.append(nn.MaxPool2d(3, 2, 1) if spec == "pool" else _inception_v1_module(*spec))
    return Classifier(nn.Sequential(*layers), nn.Linear(1024, classes))


def _cbr(cin: int, cout: int, k, s: int = 1, pad=0) -> nn.Sequential:
    """Conv (any kernel shape, explicit padding) + BN + ReLU, for the factorised Inception v3 blocks."""
    return nn.Sequential(nn.Conv2d(cin, cout, k, s, pad, bias=False), nn.BatchNorm2d(cout), nn.ReLU())


def _v3_a(cin: int, pool: int) -> Branches:
    return Branches(_cbr(cin, 64, 1),
                    nn.Sequential(_cbr(cin, 48, 1), _cbr(48, 64, 5, pad=2)),
                    nn.Sequential(_cbr(cin, 64, 1), _cbr(64, 96, 3, pad=1), _cbr(96, 96, 3, pad=1)),
                    nn.Sequential(nn.AvgPool2d(3, 1, 1), _cbr(cin, pool, 1)))


def _v3_c(c7: int) -> Branches:
    return Branches(_cbr(768, 192, 1),
                    nn.Sequential(_cbr(768, c7, 1), _cbr(c7, c7, (1, 7), pad=(0, 3)),
                                  _cbr(c7, 192, (7, 1), pad=(3, 0))),
                    nn.Sequential(_cbr(768, c7, 1), _cbr(c7, c7, (7, 1), pad=(3, 0)), _cbr(c7, c7, (1, 7), pad=(0, 3)),
                                  _cbr(c7, c7, (7, 1), pad=(3, 0)), _cbr(c7, 192, (1, 7), pad=(0, 3))),
                    nn.Sequential(nn.AvgPool2d(3, 1, 1), _cbr(768, 192, 1)))


class _V3E(nn.Module):
    """Inception v3 8x8 module (Figure 7): 1x1, split 1x3/3x1, double 3x3 split, pool branch."""

    def __init__(self, cin: int) -> None:
        super().__init__()
        self.b1 = _cbr(cin, 320, 1)
        self.b3 = _cbr(cin, 384, 1)
        self.b3a, self.b3b = _cbr(384, 384, (1, 3), pad=(0, 1)), _cbr(384, 384, (3, 1), pad=(1, 0))
        self.d1, self.d2 = _cbr(cin, 448, 1), _cbr(448, 384, 3, pad=1)
        self.da, self.db = _cbr(384, 384, (1, 3), pad=(0, 1)), _cbr(384, 384, (3, 1), pad=(1, 0))
        self.pool = nn.Sequential(nn.AvgPool2d(3, 1, 1), _cbr(cin, 192, 1))

    def forward(self, x):  # noqa: D102
        b3 = self.b3(x)
        d = self.d2(self.d1(x))
        return torch.cat([self.b1(x), self.b3a(b3), self.b3b(b3), self.da(d), self.db(d), self.pool(x)], 1)


def inception_v3(classes: int = 1000, channels: int = 3) -> nn.Module:
    """Inception v3 for 299x299 input, without the auxiliary head."""
    stem = [_cbr(channels, 32, 3, 2), _cbr(32, 32, 3), _cbr(32, 64, 3, pad=1), nn.MaxPool2d(3, 2),
            _cbr(64, 80, 1), _cbr(80, 192, 3), nn.MaxPool2d(3, 2)]
    reduce_a = Branches(_cbr(288, 384, 3, 2),
                        nn.Sequential(_cbr(288, 64, 1), _cbr(64, 96, 3, pad=1), _cbr(96, 96, 3, 2)), nn.MaxPool2d(3, 2))
    reduce_b = Branches(nn.Sequential(_cbr(768, 192, 1), _cbr(192, 320, 3, 2)),
                        nn.Sequential(_cbr(768, 192, 1), _cbr(192, 192, (1, 7), pad=(0, 3)),
                                      _cbr(192, 192, (7, 1), pad=(3, 0)), _cbr(192, 192, 3, 2)), nn.MaxPool2d(3, 2))
    body = [_v3_a(192, 32), _v3_a(256, 64), _v3_a(288, 64), reduce_a, _v3_c(128), _v3_c(160), _v3_c(160), _v3_c(192),
            reduce_b, _V3E(1280), _V3E(2048)]
    return Classifier(nn.Sequential(*stem, *body), nn.Linear(2048, classes))


def ds_cnn(classes: int = 12) -> nn.Module:
    """MLPerf Tiny KWS DS-CNN: 10x4/2 conv 64, four depthwise-separable 64 blocks, pool, dense. Input 1x49x10."""
    layers: list[nn.Module] = [nn.Conv2d(1, 64, (10, 4), 2, (4, 1)), nn.BatchNorm2d(64), nn.ReLU()]
    for _ in range(4):
        layers += [conv_bn(64, 64, 3, groups=64), conv_bn(64, 64, 1)]
    return Classifier(nn.Sequential(*layers), nn.Linear(64, classes))


class _TinyResBlock(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        self.body = nn.Sequential(conv_bn(cin, cout, 3, stride), conv_bn(cout, cout, 3, act="none"))
        self.shortcut = nn.Conv2d(cin, cout, 1, stride) if stride != 1 else nn.Identity()
        self.act = nn.ReLU()

    def forward(self, x):  # noqa: D102
        return self.act(self.body(x) + self.shortcut(x))


def resnet8(classes: int = 10) -> nn.Module:
    """MLPerf Tiny IC ResNet-8 (16/32/64 filters, one residual block per stack). Input 3x32x32."""
    features = nn.Sequential(conv_bn(3, 16, 3), _TinyResBlock(16, 16, 1), _TinyResBlock(16, 32, 2),
                             _TinyResBlock(32, 64, 2))
    return Classifier(features, nn.Linear(64, classes))


def fc_autoencoder(inputs: int = 640) -> nn.Module:
    """MLPerf Tiny AD auto-encoder: 4x Dense 128, bottleneck 8, 4x Dense 128 (BN + ReLU each), Dense out."""
    widths = [128, 128, 128, 128, 8, 128, 128, 128, 128]
    layers: list[nn.Module] = []
    cin = inputs
    for w in widths:
        layers += [nn.Linear(cin, w), nn.BatchNorm1d(w), nn.ReLU()]
        cin = w
    layers.append(nn.Linear(cin, inputs))
    return nn.Sequential(*layers)
