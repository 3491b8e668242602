"""Every network named by ``measurements.yaml``, built in torch from its paper: ``build(name)``.

Names carry the shape parameters, so one builder covers a family::

    mobilenet_v1_{alpha}_{res}            mobilenet_v2_{alpha}_{res}
    mobilenet_v3_{large|small}[_minimalistic]_{alpha}_{res}
    efficientnet_lite{0..4}               mnasnet_{a1|b1}_{alpha}_{res}
    resnet{18|34|50|101|152}_v{1|2}_{res} vgg{16|19}_{res}   squeezenet_1.0_{res}
    inception_v{1|3}_{res}
    mlperf_tiny_{dscnn|resnet8|vww|fc_autoencoder}

and optional suffixes ``@c{classes}`` (default 1000; MLPerf Tiny models carry their own) and
``@ch{channels}`` (input channels, default 3), e.g. ``mobilenet_v1_0.25_96@c5@ch1``.

Run as a script to print parameters and MACs of every network in the measurement table.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from torch import nn

if __package__ in (None, ""):  # run as a script: make ``benchmarks.devices`` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from benchmarks.devices import nets_classic as classic  # noqa: E402
from benchmarks.devices import nets_mobile as mobile  # noqa: E402

_NUM = r"(\d+(?:\.\d+)?)"
_PATTERNS: list[tuple[str, object]] = [
    (rf"mobilenet_v1_{_NUM}_(\d+)", lambda m, c, ch: (mobile.mobilenet_v1(float(m[1]), c, ch), int(m[2]))),
    (rf"mobilenet_v2_{_NUM}_(\d+)", lambda m, c, ch: (mobile.mobilenet_v2(float(m[1]), c, ch), int(m[2]))),
    (rf"mobilenet_v3_(large|small)(_minimalistic)?_{_NUM}_(\d+)",
     lambda m, c, ch: (mobile.mobilenet_v3(m[1], float(m[3]), bool(m[2]), c, ch), int(m[4]))),
    (r"efficientnet_lite([0-4])",
     lambda m, c, ch: (mobile.efficientnet_lite(int(m[1]), c, ch), mobile.LITE_SCALING[int(m[1])][2])),
    (rf"mnasnet_(a1|b1)_{_NUM}_(\d+)", lambda m, c, ch: (mobile.mnasnet(m[1], float(m[2]), c, ch), int(m[3]))),
    (r"resnet(18|34|50|101|152)_v([12])_(\d+)",
     lambda m, c, ch: (classic.resnet(int(m[1]), int(m[2]), c, ch), int(m[3]))),
    (r"vgg(16|19)_(\d+)", lambda m, c, ch: (classic.vgg(int(m[1]), c, ch), int(m[2]))),
    (r"squeezenet_1\.0_(\d+)", lambda m, c, ch: (classic.squeezenet(c, ch), int(m[1]))),
    (r"inception_v1_(\d+)", lambda m, c, ch: (classic.inception_v1(c, ch), int(m[1]))),
    (r"inception_v3_(\d+)", lambda m, c, ch: (classic.inception_v3(c, ch), int(m[1]))),
]
# MLPerf Tiny reference models have fixed inputs: (module factory, CHW input shape).
_TINY = {
    "mlperf_tiny_dscnn": (lambda: classic.ds_cnn(12), (1, 49, 10)),
    "mlperf_tiny_resnet8": (lambda: classic.resnet8(10), (3, 32, 32)),
    "mlperf_tiny_vww": (lambda: mobile.mobilenet_v1(0.25, classes=2), (3, 96, 96)),
    "mlperf_tiny_fc_autoencoder": (lambda: classic.fc_autoencoder(640), (640,)),
}


class UnknownNetworkError(KeyError):
    """``build`` was given a name no builder matches."""


def build(name: str) -> tuple[nn.Module, tuple[int, ...]]:
    """Build the network ``name`` (random weights, eval mode) and return it with its input shape.

    Args:
        name: A network key as used in ``measurements.yaml`` (grammar in the module docstring).

    Returns:
        ``(module, input_shape)`` where ``input_shape`` is ``(C, H, W)`` without batch
        (``(640,)`` for the MLPerf Tiny auto-encoder).

    Raises:
        UnknownNetworkError: No builder matches the name.
    """
    base, classes, channels = _split_suffixes(name)
    if base in _TINY:
        factory, shape = _TINY[base]
        return factory().eval(), shape
    for pattern, make in _PATTERNS:
        match = re.fullmatch(pattern, base)
        if match:
            module, res = make(match, classes, channels)
            return module.eval(), (channels, res, res)
    raise UnknownNetworkError(f"no builder for network {name!r}")


def is_known(name: str) -> bool:
    """True when ``build(name)`` has a builder for ``name`` (nothing is constructed)."""
    try:
        base, _, _ = _split_suffixes(name)
    except UnknownNetworkError:
        return False
    return base in _TINY or any(re.fullmatch(pattern, base) for pattern, _ in _PATTERNS)


def _split_suffixes(name: str) -> tuple[str, int, int]:
    base, *suffixes = name.split("@")
    classes, channels = 1000, 3
    for suffix in suffixes:
        match = re.fullmatch(r"(c|ch)(\d+)", suffix)
        if not match:
            raise UnknownNetworkError(f"bad suffix @{suffix} in network {name!r}")
        if match[1] == "c":
            classes = int(match[2])
        else:
            channels = int(match[2])
    return base, classes, channels


def measured_networks(path: Path | None = None) -> list[str]:
    """The distinct ``model`` keys of the measurement table, in first-seen order."""
    import yaml

    path = path or Path(__file__).with_name("measurements.yaml")
    rows = yaml.safe_load(path.read_text())["measurements"]
    return list(dict.fromkeys(row["model"] for row in rows))


def main() -> int:
    """Print params and MACs of every network in the table (one line each)."""
    from edgekd.students import count_params_macs

    for name in measured_networks():
        module, shape = build(name)
        params, macs = count_params_macs(module, shape)
        print(f"{name:45s} {params / 1e6:9.3f} M params {macs / 1e6:10.1f} M MACs  input {list(shape)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
