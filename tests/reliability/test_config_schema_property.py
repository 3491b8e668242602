"""Configs generated from the config's own JSON Schema: every key, its boundary values, wrong types.

Every example either validates or is refused with a one-line :class:`ConfigError` (exit 2),
never anything else. The generator walks ``BuildConfig.model_json_schema()`` (each dataset
and teacher kind, nested sections, ``$ref``s) to every key, and derives per key: the
boundaries (``minimum``/``maximum``, exclusive ones, one step outside), each enum member and
a wrong word, null where it is allowed, empty and wrong-typed lists and mappings, and wrong
types. One test sweeps every (key, value) pair; a hypothesis test combines several; a handful
of the valid examples also run as a real tiny build, which must exit 0, 2 or 3 — never 1.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any, Iterator
from unittest import mock

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from edgekd import cli
from edgekd import config as config_module
from edgekd.config import BuildConfig, load_config
from edgekd.errors import ConfigError

SCHEMA = BuildConfig.model_json_schema()
# Keys a union section needs whatever else is set (placeholders: validation does not open files).
REQUIRED = {"root": "/nonexistent/data", "path": "/nonexistent/model", "factory": "/nonexistent/f.py:make"}
WRONG_TYPES = ["a word", 1.5, True, None, [1], {"k": 1}]


def resolve(schema: dict) -> dict:
    while "$ref" in schema:
        schema = SCHEMA["$defs"][schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def leaves(schema: dict, path: tuple[str, ...] = (), context: dict | None = None) -> Iterator[tuple]:
    """(dotted key, its schema, the keys it needs set, e.g. ``data.kind``) for every key."""
    schema = resolve(schema)
    context = context or {}
    if "oneOf" in schema and "discriminator" in schema:
        tag = schema["discriminator"]["propertyName"]
        for kind, ref in schema["discriminator"]["mapping"].items():
            variant = resolve({"$ref": ref})
            needs = {".".join((*path, tag)): kind}
            needs.update({".".join((*path, key)): REQUIRED[key] for key in variant.get("required", []) if key != tag})
            yield from leaves(variant, path, {**context, **needs})
        return
    if schema.get("type") == "object" and "properties" in schema:
        for key, sub in schema["properties"].items():
            yield from leaves(sub, (*path, key), context)
        yield ".".join((*path, "no_such_key")), {"unknown": True}, context
        return
    yield ".".join(path), schema, context


def numbers(schema: dict) -> list[Any]:
    """Both sides of each bound, the bound itself, and far-off values."""
    step = 1 if schema.get("type") == "integer" else 1e-9
    out: list[Any] = [0, -1, 10**20, -(10**20)]
    for key in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
        if key in schema:
            bound = schema[key]
            out += [bound, bound - step, bound + step, bound - 1, bound + 1]
    if schema.get("type") == "number":
        out += [0.5, 1e-300, 1e308, float("inf"), float("-inf"), float("nan")]
    return out


def values(schema: dict) -> list[Any]:
    """Candidate values for one key: boundaries, members, and wrong types."""
    if schema.get("unknown"):
        return [1]
    if "anyOf" in schema:
        return [v for option in schema["anyOf"] for v in values(resolve(option))] + WRONG_TYPES
    if "const" in schema:
        return [schema["const"], f"{schema['const']}x"]
    if "enum" in schema:
        return [*schema["enum"], "not-a-member", 7]
    kind = schema.get("type")
    if kind in ("integer", "number"):
        return numbers(schema) + WRONG_TYPES
    if kind == "boolean":
        return [True, False, "maybe", 2]
    if kind == "string":
        return ["", "x", "x" * 300, "../..", 12]
    if kind == "array":
        items = schema.get("items", {})
        first = values(resolve(items))[:3] if items else ["x"]
        fixed = len(schema.get("prefixItems", [])) or None
        return [[], first, first * 3, [None], "not-a-list", *([[1] * fixed, [0] * fixed] if fixed else [])]
    if kind == "object":
        return [{}, {"width": 0.5}, {"width": -1}, {"no_such_option": 1}, "not-a-mapping", [1]]
    if kind == "null":
        return [None]
    return WRONG_TYPES


LEAVES = list(leaves(SCHEMA))
EXAMPLES = [(key, value, context) for key, schema, context in LEAVES for value in values(schema)]


def nested(assignments: dict[str, Any]) -> dict:
    tree: dict = {}
    for dotted, value in assignments.items():
        node = tree
        *head, last = dotted.split(".")
        for part in head:
            node = node.setdefault(part, {}) if isinstance(node.get(part, {}), dict) else node
        node[last] = value
    return tree


def validate(assignments: dict[str, Any]) -> BuildConfig | None:
    """load_config on the YAML text of ``assignments``: a config, or None after a one-line ConfigError.

    The text is handed to load_config in place of a file's content (no disk I/O: thousands of examples).
    """
    text = yaml.dump(nested(assignments), Dumper=yaml.CSafeDumper)
    with mock.patch.object(config_module, "_read_yaml", lambda _path: yaml.safe_load(text) or {}):
        try:
            return load_config("generated.yaml")
        except ConfigError as exc:
            assert "\n" not in exc.one_line() and exc.fix and exc.exit_code == 2
            return None


def test_the_generator_reaches_every_key_and_both_sides_of_each_bound():
    keys = {key for key, _schema, _ctx in LEAVES}
    for must in ("seed", "data.resolution", "data.split.val_fraction", "data.features.n_fft", "teacher.factory",
                 "distill.hint_layers.teacher", "quantize.max_top1_drop", "export.formats", "bench.threads",
                 "calibration.temperature_scaling", "prune.target_macs_ratio"):
        assert must in keys, must
    assert len(LEAVES) > 100 and len(EXAMPLES) > 1000
    seeds = [value for key, value, _ in EXAMPLES if key == "seed"]
    assert all(v in seeds for v in (0, -1, 2**32 - 1, 2**32))


def test_every_key_and_boundary_validates_or_is_a_config_error():
    accepted = refused = 0
    for key, value, context in EXAMPLES:
        try:
            config = validate({**context, key: value})
        except Exception as exc:  # noqa: BLE001 - anything but ConfigError is the failure we look for
            pytest.fail(f"{key}={value!r} ({context}): {exc.__class__.__name__}: {exc}")
        accepted += config is not None
        refused += config is None
    # Both outcomes occur: the sweep is not all-valid or all-refused by construction.
    assert accepted > 100 and refused > 300, (accepted, refused)


@settings(max_examples=150, deadline=None)
@given(picks=st.lists(st.sampled_from(EXAMPLES), min_size=1, max_size=5))
def test_combined_keys_validate_or_are_a_config_error(picks):
    assignments: dict[str, Any] = {}
    for key, value, context in picks:
        assignments.update({**context, key: value})
    validate(assignments)


# -- a handful of real builds ------------------------------------------------------------------------
CAPS = {"teacher.epochs": 1, "teacher.width": 8, "distill.epochs": 1, "data.resolution": 8, "distill.batch_size": 256,
        "bench.latency_mode": "off", "export.formats": ["onnx"], "data.representative_samples": 32,
        "prune.recovery_epochs": 1}
# A drawn key under one of these prefixes only matters with its feature on: switch it on too.
FEATURE_ON = {"prune.": {"prune.enabled": True}, "distill.hint": {"distill.method": "fitnets"},
              "distill.rkd": {"distill.method": "rkd"}, "quantize.max_": {"quantize.accuracy_aware": True}}


def with_feature(key: str, value: Any) -> dict[str, Any]:
    """The caps, the drawn key and the switch its feature needs (the drawn key wins)."""
    switches = {k: v for prefix, on in FEATURE_ON.items() if key.startswith(prefix) for k, v in on.items()}
    return {**CAPS, **switches, key: value}
# Keys whose boundary values make a build slow (not wrong): they are capped, not drawn.
COSTLY = ("epochs", "batch_size", "resolution", "representative_samples", "max_trials", "width", "latency_mode",
          "formats", "recovery_epochs", "threads")


def buildable(count: int, seed: int) -> list[tuple[str, Any]]:
    """``count`` seeded (key, value) examples of the default kinds that validate with the caps applied."""
    rng = random.Random(seed)
    pool = [(key, value) for key, value, context in EXAMPLES
            if not context and not key.endswith(COSTLY) and not key.endswith("no_such_key")]
    rng.shuffle(pool)
    chosen = []
    for key, value in pool:
        if validate(with_feature(key, value)) is None:
            continue
        chosen.append((key, value))
        if len(chosen) == count:
            break
    return chosen


def build_exit_code(tmp_path: Path, capsys, key: str, value: Any) -> int:
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(nested(with_feature(key, value))), encoding="utf-8")
    capsys.readouterr()
    with pytest.raises(SystemExit) as exc:
        cli.main(["build", str(path), "--target", "raspberry-pi-4", "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert exc.value.code in (0, 2, 3), f"{key}={value!r}: exit {exc.value.code}\n{err}"
    if exc.value.code == 2:
        assert not (tmp_path / "out").exists()
    return exc.value.code


@pytest.mark.parametrize("key,value", buildable(3, seed=17))
def test_generated_configs_build_or_exit_2(key, value, tmp_path, capsys):
    build_exit_code(tmp_path, capsys, key, value)


@pytest.mark.slow
@pytest.mark.parametrize("key,value", buildable(12, seed=18))
def test_more_generated_configs_build_or_exit_2(key, value, tmp_path, capsys):
    build_exit_code(tmp_path, capsys, key, value)
