"""`edgekd config show`: every key of every config model, with type, default and description."""

import json
import os
import subprocess
import sys

import pytest
from pydantic import BaseModel

from edgekd.config import BuildConfig, load_config
from edgekd.config_docs import config_sections, type_name
from edgekd.data.schema import DATA_SECTIONS
from edgekd.errors import ConfigError
from edgekd.teachers.schema import TEACHER_SECTIONS


def _leaves(model: type[BaseModel], prefix: str) -> set[str]:
    out = set()
    for name, field in model.model_fields.items():
        ann = field.annotation
        if isinstance(ann, type) and issubclass(ann, BaseModel):
            out |= _leaves(ann, f"{prefix}.{name}")
        else:
            out.add(f"{prefix}.{name}")
    return out


def _listed(section: str) -> dict[str, dict]:
    return {k["key"]: k for s in config_sections(section) for k in s["keys"]}


def test_every_key_of_every_model_is_listed_with_type_default_and_description():
    sections = {s["section"]: s for s in config_sections()}
    for cls in DATA_SECTIONS:
        kind = cls.model_fields["kind"].default
        assert {k["key"] for k in sections[f"data.{kind}"]["keys"]} == _leaves(cls, "data")
    for cls in TEACHER_SECTIONS:
        kind = cls.model_fields["kind"].default
        assert {k["key"] for k in sections[f"teacher.{kind}"]["keys"]} == _leaves(cls, "teacher")
    for name in ("student", "distill", "prune", "quantize", "export", "bench", "calibration"):
        annotation = BuildConfig.model_fields[name].annotation
        assert {k["key"] for k in sections[name]["keys"]} == _leaves(annotation, name)
    assert [k["key"] for k in sections["(top level)"]["keys"]] == ["seed"]
    for section in sections.values():
        assert section["description"], section["section"]
        for key in section["keys"]:
            assert key["type"] and key["description"], key["key"]


def test_defaults_are_the_models_defaults():
    default = load_config(None).model_dump(mode="json")
    listed = _listed("distill") | _listed("quantize") | _listed("student")
    for key, entry in listed.items():
        node = default
        for part in key.split("."):
            node = node[part]
        assert entry["default"] == node, key
    assert _listed("teacher.torch")["teacher.factory"]["default"] == "(required)"


def test_types_read_like_the_yaml_they_accept():
    keys = _listed("distill") | _listed("export") | _listed("data.image_folder")
    assert keys["distill.batch_size"]["type"] == "'auto' | int (>= 1)"
    assert keys["distill.epochs"]["type"] == "int, >= 1"
    assert keys["export.formats"]["type"] == "list['onnx' | 'tflite' | 'coreml'] | null"
    assert keys["data.size"]["type"] == "tuple[int, int] | null"
    from pathlib import Path

    assert type_name(Path) == "path" and type_name(None) == "null"


def test_sections_can_be_narrowed_and_unknown_ones_are_named():
    assert [s["section"] for s in config_sections("data")] == [
        f"data.{cls.model_fields['kind'].default}" for cls in DATA_SECTIONS]
    assert [s["section"] for s in config_sections("teacher.onnx")] == ["teacher.onnx"]
    with pytest.raises(ConfigError, match="no config section 'distil'") as info:
        config_sections("distil")
    assert "distill" in info.value.fix


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "edgekd.cli", "config", "show", *args], capture_output=True,
                          text=True, timeout=120, env={**os.environ, "COLUMNS": "200"})


def test_cli_prints_tables_and_json():
    shown = _cli("distill")
    assert shown.returncode == 0, shown.stderr
    assert "distill.batch_size" in shown.stdout and "auto" in shown.stdout and "prune." not in shown.stdout
    as_json = _cli("teacher", "--json")
    sections = json.loads(as_json.stdout)
    assert {s["kind"] for s in sections} == {"scratch-cnn", "torch", "torchscript", "onnx", "tflite", "keras"}
    bad = _cli("nonsense")
    assert bad.returncode == 2 and "no config section 'nonsense'" in bad.stderr and "Traceback" not in bad.stderr
