"""The ``device:`` section of a profile: facts with units, strict keys, one-line errors."""

from __future__ import annotations

import copy

import pytest
import yaml

from edgekd.errors import TargetError
from edgekd.targets import list_targets, load_target, profile_from_dict, targets_dir


def _pi4() -> dict:
    return yaml.safe_load((targets_dir() / "raspberry-pi-4.yaml").read_text())


def _bad(mutate) -> str:
    data = _pi4()
    mutate(data)
    with pytest.raises(TargetError) as info:
        profile_from_dict(data, "pi4.yaml")
    message = info.value.one_line()
    assert "\n" not in message
    return message


def test_shipped_profiles_with_device_facts_load_with_units_parsed():
    pi4 = load_target("raspberry-pi-4")
    cluster = pi4.device.clusters[0]
    assert cluster.clock_hz == 1.5e9 and cluster.cores == 4
    assert cluster.rate("int8") == 2 * cluster.rate("fp32")  # Armv8.0: no SDOT, widening multiplies only
    assert cluster.rate("fp16") == cluster.rate("fp32") and not cluster.dot_product
    assert pi4.device.shared_cache_bytes == 2**20
    coral = load_target("coral-dev-board")
    assert coral.device.edgetpu.parameter_cache_bytes == 8_000_000
    assert "Conv2d" in coral.device.edgetpu.supported_ops
    h7 = load_target("stm32h7a3")
    assert h7.device.mcu.dsp and h7.device.mcu.dual_issue and h7.device.mcu.flash_wait_states == 6
    assert {p.name for p in list_targets() if p.device is not None} >= {"raspberry-pi-4", "pixel-4", "coral-dev-board"}


@pytest.mark.parametrize("mutate, expected", [
    (lambda d: d["device"]["clusters"][0].update(clock_hz="1.5 GHzz"), "unknown frequency unit"),
    (lambda d: d["device"]["clusters"][0].update(cores=0), "device.clusters.0.cores"),
    (lambda d: d["device"]["clusters"][0].update(int8_macs_per_cycle=-8), "int8_macs_per_cycle"),
    (lambda d: d["device"]["clusters"][0].update(smid=True), "unknown key; allowed: name, cores"),
    (lambda d: d["device"].update(shared_cache_bytes="1 MiBB"), "unknown byte unit"),
    (lambda d: d["device"].update(clusters=[]), "device.clusters"),
])
def test_bad_device_facts_are_one_line_errors(mutate, expected):
    assert expected in _bad(mutate)


def test_clusters_must_be_listed_fastest_first():
    def slow_first(data):
        big = copy.deepcopy(data["device"]["clusters"][0])
        data["device"]["clusters"] = [{**big, "name": "little", "clock_hz": "1 GHz"}, big]
    assert "fastest first" in _bad(slow_first)


def test_mcu_and_edgetpu_profiles_need_their_sections():
    h7 = yaml.safe_load((targets_dir() / "stm32h7a3.yaml").read_text())
    del h7["device"]["mcu"]
    with pytest.raises(TargetError, match="device.mcu is required"):
        profile_from_dict(h7, "h7.yaml")
    coral = yaml.safe_load((targets_dir() / "coral-dev-board.yaml").read_text())
    del coral["device"]["edgetpu"]
    with pytest.raises(TargetError, match="device.edgetpu is required"):
        profile_from_dict(coral, "coral.yaml")
    coral = yaml.safe_load((targets_dir() / "coral-dev-board.yaml").read_text())
    coral["device"]["edgetpu"]["link"] = "thunderbolt"
    with pytest.raises(TargetError, match="device.edgetpu.link"):
        profile_from_dict(coral, "coral.yaml")


def test_cores_for_threads_lands_on_the_fastest_cores_and_oversubscribes_the_slowest():
    pixel4 = load_target("pixel-4")
    names = [c.name for c in pixel4.device.cores_for(10)]
    assert names[0] == "Cortex-A76 (prime)" and names[1:4] == ["Cortex-A76"] * 3
    assert names[4:] == ["Cortex-A55"] * 6  # 8 cores: threads 9 and 10 share the little ones
