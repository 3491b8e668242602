"""Device profiles: every shipped profile loads; bad profiles fail with one line naming the field."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from edgekd import targets
from edgekd.errors import EXIT_BAD_INPUT, TargetError
from edgekd.targets import list_targets, load_target, profile_from_dict, targets_dir

SHIPPED = sorted(p.stem for p in targets_dir().glob("*.yaml"))


def _host_data() -> dict:
    return yaml.safe_load((targets_dir() / "host.yaml").read_text())


def _write(tmp_path: Path, data: dict, name: str = "board.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data))
    return path


def _error(path_or_name) -> TargetError:
    with pytest.raises(TargetError) as info:
        load_target(str(path_or_name))
    message = str(info.value)
    assert "\n" not in message
    assert info.value.exit_code == EXIT_BAD_INPUT
    return info.value


@pytest.mark.parametrize("name", SHIPPED)
def test_every_shipped_profile_loads(name):
    profile = load_target(name)
    assert profile.name == name
    for precision in profile.precisions:
        assert profile.peak_macs(precision) > 0
    public = profile.to_public_dict()
    assert json.loads(json.dumps(public))["name"] == name
    # the preferred format is deployable with the runtime the profile names
    assert profile.formats[0] in {"onnxruntime": {"onnx"}, "litert": {"tflite"}, "tflite-micro": {"tflite"},
                                  "coreml": {"coreml"}, "tensorrt": {"onnx"},
                                  "edgetpu": {"tflite"}}[profile.runtime.name]


def test_expected_devices_are_shipped_and_listed_sorted():
    expected = {"host", "raspberry-pi-4", "raspberry-pi-5", "pixel-4", "pixel-8", "iphone-15-pro",
                "jetson-orin-nano", "stm32h743", "stm32h7a3", "esp32-s3", "coral-dev-board"}
    assert expected <= set(SHIPPED)
    names = [p.name for p in list_targets()]
    assert names == sorted(names)


def test_mcu_profiles_are_int8_tflite_micro_with_weights_in_flash():
    for name in ("stm32h743", "stm32h7a3", "esp32-s3"):
        p = load_target(name)
        assert (p.runtime.name, p.formats, p.precisions, p.memory.weights_in) == (
            "tflite-micro", ["tflite"], ["int8"], "flash")
        assert p.budgets.max_peak_ram_bytes <= p.memory.ram_bytes
    assert load_target("stm32h743").memory.ram_bytes == 512 * 1024
    assert load_target("stm32h7a3").cpu.clock_hz == 280e6


def test_unknown_name_suggests_the_closest():
    err = _error("raspbery-pi-4")
    assert "did you mean 'raspberry-pi-4'" in str(err)
    assert "stm32h743" in str(err)  # lists the known names


@pytest.mark.parametrize("alias, name", [("rpi4", "raspberry-pi-4"), ("RPi-4", "raspberry-pi-4"),
                                         ("Raspberry_Pi_4", "raspberry-pi-4"), ("pi5", "raspberry-pi-5"),
                                         ("edgetpu", "coral-dev-board"), ("Pixel8", "pixel-8")])
def test_aliases_and_spellings_load_the_profile(alias, name):
    assert load_target(alias).name == name


def test_a_near_alias_suggests_the_profile_not_a_random_one():
    assert "did you mean 'raspberry-pi-4'" in str(_error("rpi44"))  # used to suggest pixel-4


def test_aliases_are_unique_across_profiles():
    from edgekd.targets import _plain, list_targets

    seen: dict[str, str] = {}
    for profile in list_targets():
        for alias in [profile.name, *profile.aliases]:
            assert seen.setdefault(_plain(alias), profile.name) == profile.name, alias


def test_yaml_syntax_error_names_the_file(tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text("name: x\nkind: [mcu\n")
    err = _error(path)
    assert "broken.yaml" in str(err) and "YAML syntax" in str(err)


def test_missing_field_is_named(tmp_path):
    data = _host_data()
    del data["memory"]["ram_bytes"]
    err = _error(_write(tmp_path, data))
    assert "memory.ram_bytes" in str(err) and "missing" in str(err) and "board.yaml" in str(err)


def test_wrong_type_and_literal_name_the_field_and_what_is_allowed(tmp_path):
    data = _host_data()
    data["runtime"]["name"] = "tflite"
    err = _error(_write(tmp_path, data))
    assert "runtime.name" in str(err) and "tflite-micro" in str(err)
    data = _host_data()
    data["cpu"]["cores"] = "two"
    assert "cpu.cores" in str(_error(_write(tmp_path, data)))


def test_unknown_key_lists_allowed_keys(tmp_path):
    data = _host_data()
    data["budgets"]["max_latency_ms"] = 10
    err = _error(_write(tmp_path, data))
    assert "budgets.max_latency_ms" in str(err) and "max_latency_p90_ms" in str(err)


def test_wrong_unit_is_our_error(tmp_path):
    data = _host_data()
    data["budgets"]["max_model_bytes"] = "2 MX"
    err = _error(_write(tmp_path, data))
    assert "budgets.max_model_bytes" in str(err) and "KiB" in str(err)
    data = _host_data()
    data["budgets"]["max_latency_p90_ms"] = "20 kg"
    assert "budgets.max_latency_p90_ms" in str(_error(_write(tmp_path, data)))


def test_percent_instead_of_fraction_is_rejected(tmp_path):
    data = _host_data()
    data["budgets"]["min_top1"] = 85
    err = _error(_write(tmp_path, data))
    assert "budgets.min_top1" in str(err) and "write 0.85" in str(err)


def test_units_are_parsed():
    data = _host_data()
    data["budgets"] = {"max_model_bytes": "512 KiB", "max_peak_ram_bytes": "1.5 GiB", "max_latency_p90_ms": "0.02 s",
                       "min_top1": "85%", "max_ece": 0.05}
    data["memory"]["flash_bytes"] = "2 MB"
    p = profile_from_dict(data)
    assert p.budgets.max_model_bytes == 524288
    assert p.budgets.max_peak_ram_bytes == 1610612736
    assert p.budgets.max_latency_p90_ms == pytest.approx(20.0)
    assert p.budgets.min_top1 == pytest.approx(0.85)
    assert p.memory.flash_bytes == 2_000_000


def test_compute_unit_must_exist_and_mcu_is_single_threaded():
    data = _host_data()
    data["runtime"]["compute_unit"] = "npu"
    with pytest.raises(TargetError, match="runtime.compute_unit"):
        profile_from_dict(data)
    data = yaml.safe_load((targets_dir() / "esp32-s3.yaml").read_text())
    data["runtime"]["threads"] = 2
    with pytest.raises(TargetError, match="threads"):
        profile_from_dict(data)


def test_efficiency_override_merges_with_kind_defaults():
    data = _host_data()
    data["efficiency"] = {"depthwise": {"int8": {"low": 0.1, "mid": 0.2, "high": 0.3}}}
    p = profile_from_dict(data)
    assert p.efficiency.depthwise.int8.mid == 0.2
    assert p.efficiency.conv.fp32.mid == targets.DEFAULT_EFFICIENCY["host"]["conv"]["fp32"]["mid"]
    data["efficiency"] = {"conv": {"fp32": {"low": 0.5, "mid": 0.4, "high": 0.6}}}
    with pytest.raises(TargetError, match="efficiency.conv.fp32"):
        profile_from_dict(data)


def test_peak_macs_fallbacks_and_thread_scaling():
    host = load_target("host")
    assert host.peak_macs("fp16") == host.peak_macs("fp32")  # no native fp16: fp32 rate
    assert host.peak_macs("fp32", threads=1) == pytest.approx(host.peak_macs("fp32") / 2)
    esp = load_target("esp32-s3")  # two cores, but TFLite Micro uses one
    assert esp.peak_macs("int8") == pytest.approx(esp.unit().peak_macs_per_s.int8 / 2)
    iphone = load_target("iphone-15-pro")  # the ANE has no fp32: Core ML hands fp32 to the GPU
    assert iphone.peak_macs("fp32") == iphone.unit("gpu").peak_macs_per_s.fp32
    with pytest.raises(TargetError):
        host.peak_macs("int4")


def test_env_dir_comes_first_then_the_shipped_profiles(tmp_path, monkeypatch):
    _write(tmp_path, {**_host_data(), "name": "myboard"}, "myboard.yaml")
    monkeypatch.setenv(targets.TARGETS_ENV, str(tmp_path))
    assert targets_dir() == tmp_path
    assert load_target("myboard").name == "myboard"
    assert [p.name for p in targets.list_targets()] == ["myboard"]
    monkeypatch.setenv(targets.TARGETS_ENV, str(tmp_path / "missing"))
    with pytest.raises(TargetError, match=targets.TARGETS_ENV):
        targets_dir()
    monkeypatch.delenv(targets.TARGETS_ENV)
    shipped = targets_dir()
    assert shipped == Path(targets.__file__).resolve().parent / "profiles"  # package data, not the repo root
    assert (shipped / "raspberry-pi-4.yaml").is_file()
