"""Config loading: defaults, overrides, and one-line errors naming the key."""

import pytest

from edgekd.config import BuildConfig, dump_config, load_config
from edgekd.errors import ConfigError


def test_default_config_is_the_embedded_example():
    cfg = load_config(None)
    assert cfg.data.kind == "digits" and cfg.teacher.kind == "scratch-cnn"
    assert cfg == BuildConfig()


def test_overrides_parse_yaml_values():
    cfg = load_config(None, ["distill.epochs=3", "export.formats=[onnx, tflite]", "distill.alpha=0.25"])
    assert cfg.distill.epochs == 3 and cfg.export.formats == ["onnx", "tflite"] and cfg.distill.alpha == 0.25


def test_override_of_a_union_section_keeps_default_kind():
    assert load_config(None, ["data.resolution=24"]).data.resolution == 24


def test_yaml_file_and_round_trip(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("distill:\n  temperature: 2.5\nstudent:\n  options: {width: 0.5}\n")
    cfg = load_config(path)
    assert cfg.distill.temperature == 2.5 and cfg.student.options == {"width": 0.5}
    again = tmp_path / "resolved.yaml"
    again.write_text(dump_config(cfg))
    assert load_config(again) == cfg


@pytest.mark.parametrize("override, expected", [
    ("distill.temprature=3", ["unknown key 'distill.temprature'", "did you mean 'temperature'", "alpha"]),
    ("data.resolutoin=3", ["unknown key 'data.resolutoin'", "resolution"]),
    ("bogus=1", ["unknown key 'bogus'", "distill"]),
    ("distill.alpha=2", ["distill.alpha", "less than or equal to 1"]),
    ("export.formats=[onnx, pdf]", ["export.formats", "pdf"]),
    ("teacher.epochs=many", ["teacher.epochs", "many"]),
    ("teacher.kind=resnet", ["teacher", "resnet"]),
])
def test_bad_keys_and_values_are_one_line_errors(override, expected):
    with pytest.raises(ConfigError) as info:
        load_config(None, [override])
    text = info.value.one_line()
    assert "\n" not in text and info.value.exit_code == 2
    for fragment in expected:
        assert fragment in text


@pytest.mark.parametrize("content, fragment", [
    ("distill:\n  epochs: [1,\n", "YAML syntax error at line"),
    ("- just\n- a list\n", "top level must be a mapping"),
    ("distill:\n  epochs: 3\n  temprature: 2\n", "did you mean 'temperature'"),
])
def test_bad_files(tmp_path, content, fragment):
    path = tmp_path / "c.yaml"
    path.write_text(content)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert fragment in info.value.one_line() and str(path) in info.value.one_line()


def test_missing_file_and_malformed_set(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "nope.yaml")
    with pytest.raises(ConfigError, match="key.path=value"):
        load_config(None, ["distill.epochs"])


def test_off_means_off_on_the_command_line_and_in_yaml(tmp_path):
    assert load_config(None, ["bench.latency_mode=off"]).bench.latency_mode == "off"
    path = tmp_path / "c.yaml"
    path.write_text("bench:\n  latency_mode: off\nquantize:\n  enabled: no\n")
    cfg = load_config(path)
    assert cfg.bench.latency_mode == "off" and cfg.quantize.enabled is False
    assert load_config(None, ["quantize.enabled=off"]).quantize.enabled is False
