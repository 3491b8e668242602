"""The device-validation networks match their published sizes, and the measurement table is well formed.

Published figures (params in millions, MACs in millions) with the page they were read from:

* MV1: tensorflow/models research/slim/nets/mobilenet_v1.md, "Pre-trained Models" table.
* MV2 / MV3: tensorflow/models research/slim/nets/mobilenet/README.md, checkpoint tables.
* LITE: tensorflow/tpu models/official/efficientnet/lite/README.md (params, MAdds).
* MNAS: tensorflow/tpu models/official/mnasnet/README.md, MnasNet-A1 table.
* KERAS: keras.io/api/applications, "Available models" table (parameters only).

A figure matches when it is within 2 % or within half a unit of its last printed digit (the
tables round, e.g. "14" M MACs for MobileNetV1 0.25/128).
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from benchmarks.devices import networks  # noqa: E402
from edgekd.students import count_params_macs  # noqa: E402

DEVICES_DIR = ROOT / "benchmarks" / "devices"

# name, published params (M, as printed), published MACs (M, as printed or None), source tag
PUBLISHED = [
    ("mobilenet_v1_1.0_224", "4.24", "569", "MV1"),
    ("mobilenet_v1_1.0_192", "4.24", "418", "MV1"),
    ("mobilenet_v1_0.5_192", "1.34", "110", "MV1"),
    ("mobilenet_v1_0.5_160", "1.34", "77", "MV1"),
    ("mobilenet_v1_0.25_128", "0.47", "14", "MV1"),
    ("mobilenet_v2_1.0_224", "3.47", "300", "MV2"),
    ("mobilenet_v2_1.4_224", "6.06", "582", "MV2"),
    ("mobilenet_v2_0.75_160", "2.61", "107", "MV2"),
    ("mobilenet_v2_0.35_224", "1.66", "59", "MV2"),
    ("mobilenet_v3_large_1.0_224", "5.4", "217", "MV3"),
    ("mobilenet_v3_large_minimalistic_1.0_224", "3.9", "209", "MV3"),
    ("efficientnet_lite0", "4.7", None, "LITE"),
    ("efficientnet_lite2", "6.1", None, "LITE"),
    ("mnasnet_a1_1.0_224", "3.9", "315.2", "MNAS"),
    ("mnasnet_a1_0.5_224", "2.1", "105.2", "MNAS"),
    ("mnasnet_a1_0.75_160", "2.9", "116.4", "MNAS"),
]
# Params only (building these is cheap; their forward pass is not).
PUBLISHED_PARAMS_ONLY = [
    ("resnet50_v1_224", "25.6", "KERAS"),
    ("inception_v3_299", "23.9", "KERAS"),
    ("efficientnet_lite4", "13.0", "LITE"),
]
# Known gaps, kept visible: our builds follow the papers / TF-slim specs, the tables disagree.
# EfficientNet-Lite MAdds in the README are 3-5 % above our conv+linear count for every variant
# (params agree); MobileNetV3-Small's README figures (2.9 M / 66 M) are ~12 % / ~15 % above a
# build of the V3_SMALL spec in TF-slim mobilenet_v3.py. The bounds pin the gap so it cannot grow.
# Not pinned: the MV1 table's alpha=0.75 rows are 2.6 % below our count at every resolution
# (317 vs 325 M MACs at 224) while params agree (2.59 M).
KNOWN_GAPS = [
    ("efficientnet_lite0", None, "407", 0.03, 0.07, "LITE"),
    ("mobilenet_v3_small_1.0_224", "2.9", "66", 0.10, 0.20, "MV3"),
]


def _close(ours: float, printed: str) -> bool:
    published = float(printed)
    decimals = len(printed.split(".")[1]) if "." in printed else 0
    half_unit = 0.5 * 10 ** -decimals
    return abs(ours - published) <= max(0.02 * published, half_unit + 1e-9)


@pytest.mark.parametrize(("name", "params", "macs", "source"), PUBLISHED)
def test_params_and_macs_match_published(name, params, macs, source):
    module, shape = networks.build(name)
    ours_params, ours_macs = count_params_macs(module, shape)
    assert _close(ours_params / 1e6, params), f"{name}: {ours_params / 1e6:.3f} M params vs {params} ({source})"
    if macs is not None:
        assert _close(ours_macs / 1e6, macs), f"{name}: {ours_macs / 1e6:.1f} M MACs vs {macs} ({source})"


@pytest.mark.parametrize(("name", "params", "source"), PUBLISHED_PARAMS_ONLY)
def test_params_match_published(name, params, source):
    module, _ = networks.build(name)
    ours = sum(p.numel() for p in module.parameters()) / 1e6
    assert _close(ours, params), f"{name}: {ours:.3f} M params vs {params} ({source})"


@pytest.mark.parametrize(("name", "params", "macs", "low", "high", "source"), KNOWN_GAPS)
def test_known_gaps_stay_bounded(name, params, macs, low, high, source):
    module, shape = networks.build(name)
    ours_params, ours_macs = count_params_macs(module, shape)
    gap = 1 - ours_macs / 1e6 / float(macs)
    assert low <= gap <= high, f"{name}: MACs gap {gap:.1%} left [{low:.0%}, {high:.0%}] ({source})"
    if params is not None:
        assert 1 - ours_params / 1e6 / float(params) > 0.05


def test_tiny_models_have_their_reference_shapes():
    # MLPerf Tiny layer lists (mlcommons/tiny benchmark/training): ResNet-8 on 32x32x3 CIFAR-10,
    # DS-CNN on 49x10 MFCCs with 12 labels, VWW MobileNetV1 0.25 on 96x96x3 with 2 labels.
    for name, shape, outputs in [("mlperf_tiny_resnet8", (3, 32, 32), 10), ("mlperf_tiny_dscnn", (1, 49, 10), 12),
                                 ("mlperf_tiny_vww", (3, 96, 96), 2), ("mlperf_tiny_fc_autoencoder", (640,), 640)]:
        import torch

        module, got = networks.build(name)
        assert got == shape
        assert module(torch.zeros(1, *shape)).shape == (1, outputs)


def test_suffixes_set_classes_and_channels():
    module, shape = networks.build("mobilenet_v1_0.25_96@c5@ch1")
    assert shape == (1, 96, 96)
    assert module.head.out_features == 5
    with pytest.raises(networks.UnknownNetworkError):
        networks.build("mobilenet_v9_1.0_224")
    assert not networks.is_known("mobilenet_v1_1.0_224@x3")


def _table():
    return yaml.safe_load((DEVICES_DIR / "measurements.yaml").read_text())


def test_every_measured_network_has_a_builder():
    unknown = [name for name in networks.measured_networks() if not networks.is_known(name)]
    assert unknown == []


def test_measurement_rows_are_complete_and_cited():
    table = _table()
    rows = table["measurements"]
    source_ids = {s["id"] for s in table["sources"]}
    required = {"model", "input", "device", "device_class", "runtime", "precision", "threads", "latency_ms",
                "statistic", "source", "notes"}
    for row in rows:
        assert required <= row.keys(), row
        assert row["latency_ms"] > 0
        assert row["precision"] in {"fp32", "fp16", "int8"}
        assert row["source"]["id"] in source_ids and row["source"]["url"].startswith("https://")
        assert row["source"]["what"]
    devices = {d["name"] for d in yaml.safe_load((DEVICES_DIR / "devices.yaml").read_text())["devices"]}
    assert {row["device"] for row in rows} <= devices


def test_table_meets_the_coverage_targets():
    rows = _table()["measurements"]
    assert len(rows) >= 80
    assert len({row["source"]["id"] for row in rows}) >= 8
    assert {"phone-cpu", "sbc", "mcu", "edgetpu"} <= {row["device_class"] for row in rows}
    phone = {(row["precision"], row["threads"]) for row in rows if row["device_class"] == "phone-cpu"}
    assert {("fp32", 1), ("fp32", 4), ("int8", 1), ("int8", 4)} <= phone


def test_every_xcube_row_names_its_release():
    from benchmarks.devices.dataset import runtime_family, xcube_version

    assert xcube_version("X-CUBE-AI v7.1.0") == 7.1 and xcube_version("X-CUBE-AI / STM32Cube.AI 10.0.0") == 10.0
    assert xcube_version("X-CUBE-AI v9.0") == 9.0 and xcube_version("tflite 2.11.0") is None
    runtimes = {row["runtime"] for row in _table()["measurements"] if runtime_family(row["runtime"]) == "x-cube-ai"}
    assert runtimes and all(xcube_version(r) is not None for r in runtimes), runtimes
