"""Random fitting networks for the runtime latency models (``edgekd.predict.runtime_model``).

Each network is a random sequence of the kernels edgekd's students are made of: a dense 3x3
stem, inverted-residual blocks (pointwise expand -> depthwise 3x3 -> pointwise project, with a
residual add when shapes allow), depthwise-separable blocks, plain 3x3 convolutions, and a
pointwise head, global average pooling and a linear classifier. Input size, depth, strides,
expansion ratios and channel counts are all drawn at random (channel counts are any integer in
a range: four in five are multiples of 8, as width multipliers with ``make_divisible`` give in
real edge networks, the rest any integer, so kernels' tile effects are sampled too).

The networks exist only to be timed. None of them is a benchmark network, and a seed gives
the same network on every machine, so two fits of one board are comparable.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

import torch
from torch import nn

RESOLUTIONS = (16, 24, 32, 40, 48, 64, 80, 96, 112, 128)


@dataclass
class NetSpec:
    """What one random network is: its input and its layers (for the fitting record)."""

    seed: int
    input_shape: tuple[int, int, int]
    layers: list[str] = field(default_factory=list)


def _channels(rng: random.Random, low: int, high: int) -> int:
    # Most draws are multiples of 8 (what make-divisible widths give), the others any integer.
    value = rng.randint(low, high)
    return max(8, value - value % 8) if rng.random() < 0.8 else value


def _conv_act(cin: int, cout: int, k: int, stride: int, groups: int = 1, act: bool = True) -> nn.Sequential:
    layers: list[nn.Module] = [nn.Conv2d(cin, cout, k, stride, k // 2, groups=groups, bias=True)]
    if act:
        layers.append(nn.ReLU6())
    return nn.Sequential(*layers)


class _Residual(nn.Module):
    def __init__(self, body: nn.Module):
        super().__init__()
        self.body = body

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class _Net(nn.Module):
    def __init__(self, features: nn.Sequential, head: nn.Linear):
        super().__init__()
        self.features, self.head = features, head

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x).mean((2, 3)))


def random_network(seed: int, classes: int = 10) -> tuple[nn.Module, NetSpec]:
    """Build random fitting network number ``seed`` (eval mode, deterministic weights).

    Returns:
        The module and its :class:`NetSpec`.
    """
    with torch.random.fork_rng(devices=[]):  # deterministic weights, the caller's RNG untouched
        torch.manual_seed(seed)
        return _build(random.Random(seed), seed, classes)


def _build(rng: random.Random, seed: int, classes: int) -> tuple[nn.Module, NetSpec]:
    res = rng.choice(RESOLUTIONS)
    spec = NetSpec(seed, (3, res, res))
    hw, c = res, _channels(rng, 8, 48)
    stride = 2 if res >= 48 and rng.random() < 0.7 else 1
    layers: list[nn.Module] = [_conv_act(3, c, 3, stride)]
    hw = (hw + stride - 1) // stride
    spec.layers.append(f"stem conv3x3 3->{c} s{stride}")
    for _ in range(rng.randint(3, 18)):
        kind = rng.choices(("inverted", "separable", "conv"), weights=(6, 2, 1))[0]
        stride = 2 if hw >= 4 and rng.random() < 0.25 else 1
        grow = rng.choice((1.0, 1.0, 1.0, 1.5, 2.0))
        cout = min(640, max(8, _channels(rng, int(c * grow * 0.8), int(c * grow * 1.2) + 1)))
        if stride == 1 and rng.random() < 0.5:
            cout = c  # residual blocks keep their width
        if kind == "inverted":
            ratio = rng.choice((2, 3, 4, 6, 6))  # the expansion ratios inverted-residual networks use
            mid = max(8, min(1536, c * ratio if rng.random() < 0.7 else _channels(rng, c * 2, c * 6 + 1)))
            body = nn.Sequential(_conv_act(c, mid, 1, 1), _conv_act(mid, mid, 3, stride, groups=mid),
                                 _conv_act(mid, cout, 1, 1, act=False))
            residual = stride == 1 and cout == c
            layers.append(_Residual(body) if residual else body)
            spec.layers.append(f"inverted {c}->{mid}->{cout} s{stride}{' +res' if residual else ''}")
        elif kind == "separable":
            layers.append(nn.Sequential(_conv_act(c, c, 3, stride, groups=c), _conv_act(c, cout, 1, 1)))
            spec.layers.append(f"separable {c}->{cout} s{stride}")
        else:
            cout = min(cout, 256)  # dense 3x3 at high width would dominate every network
            layers.append(_conv_act(c, cout, 3, stride))
            spec.layers.append(f"conv3x3 {c}->{cout} s{stride}")
        c, hw = cout, (hw + stride - 1) // stride
    last = _channels(rng, 64, 1280)
    layers.append(_conv_act(c, last, 1, 1))
    spec.layers.append(f"head pointwise {c}->{last}, mean, linear {last}->{classes}")
    model = _Net(nn.Sequential(*layers), nn.Linear(last, classes)).eval()
    return model, spec
