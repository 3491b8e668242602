"""Property-based: any config, profile or report is accepted or refused with our error, never a crash."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edgekd.config import BuildConfig, load_config
from edgekd.errors import BadInputError, ConfigError, TargetError
from edgekd.targets import TargetProfile, profile_from_dict

REPO = Path(__file__).resolve().parents[2]
FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

KEYS = ["seed", "data", "teacher", "student", "distill", "quantize", "export", "bench", "prune", "calibration",
        "kind", "epochs", "lr", "alpha", "temperature", "formats", "name", "options", "width", "resolution",
        "enabled", "latency_mode", "threads", "path", "root", "x", ""]
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-10**6, 10**6), st.floats(allow_nan=True),
                    st.text(max_size=12), st.sampled_from(["onnx", "off", "1e30", "nan", "[onnx,tflite]", "0.5",
                                                           "digits", "scratch-cnn", "torch", "12 parsecs"]))
TREES = st.recursive(SCALARS, lambda kids: st.one_of(st.lists(kids, max_size=3),
                                                     st.dictionaries(st.sampled_from(KEYS), kids, max_size=4)),
                     max_leaves=12)
DOTTED = st.lists(st.sampled_from(KEYS), min_size=0, max_size=3).map(".".join)
OVERRIDES = st.one_of(st.tuples(DOTTED, st.text(max_size=16)).map(lambda kv: f"{kv[0]}={kv[1]}"),
                      st.text(max_size=20))


@FAST
@given(overrides=st.lists(OVERRIDES, max_size=4))
def test_overrides_accept_or_config_error(overrides):
    try:
        cfg = load_config(None, overrides)
    except ConfigError as exc:
        assert "\n" not in exc.one_line()
    else:
        assert isinstance(cfg, BuildConfig)


@FAST
@given(tree=st.dictionaries(st.sampled_from(KEYS), TREES, max_size=5))
def test_yaml_files_accept_or_config_error(tree, tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(tree), encoding="utf-8")
    try:
        load_config(path)
    except ConfigError as exc:
        assert "\n" not in exc.one_line()


@FAST
@given(text=st.text(max_size=80))
def test_any_text_as_config_file(text, tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text(text, encoding="utf-8")
    try:
        load_config(path)
    except ConfigError:
        pass


BASE_PROFILE = yaml.safe_load((REPO / "targets" / "raspberry-pi-4.yaml").read_text())


def _paths(tree, prefix=()):
    if isinstance(tree, dict):
        for key, value in tree.items():
            yield (*prefix, key)
            yield from _paths(value, (*prefix, key))
    elif isinstance(tree, list):
        for i, value in enumerate(tree):
            yield (*prefix, i)
            yield from _paths(value, (*prefix, i))


PROFILE_PATHS = list(_paths(BASE_PROFILE))
MUTATION = st.tuples(st.sampled_from(PROFILE_PATHS), st.sampled_from(["delete", "set", "rename"]), TREES)


def _mutate(data, path, op, value):
    *head, last = path
    node = data
    for part in head:
        node = node[part]
    if op == "delete":
        del node[last]
    elif op == "set" or isinstance(node, list):
        node[last] = value
    else:
        node[f"{last}_x"] = node.pop(last)


@FAST
@given(mutations=st.lists(MUTATION, min_size=1, max_size=3))
def test_mutated_profiles_accept_or_target_error(mutations):
    data = copy.deepcopy(BASE_PROFILE)
    for path, op, value in mutations:
        try:
            _mutate(data, path, op, value)
        except (KeyError, IndexError, TypeError, AttributeError):
            continue  # an earlier mutation removed this path or replaced its parent with a scalar
    try:
        profile = profile_from_dict(data, "mutated")
    except TargetError as exc:
        assert "\n" not in exc.one_line()
    else:
        assert isinstance(profile, TargetProfile)


@FAST
@given(data=TREES)
def test_any_value_as_profile(data):
    try:
        profile = profile_from_dict(data, "random")
    except TargetError as exc:
        assert "\n" not in exc.one_line() and exc.exit_code == 2
    else:
        assert isinstance(profile, TargetProfile) and isinstance(data, dict)


def _report_example() -> dict:
    model = {"name": "student-int8.onnx", "role": "student", "format": "onnx", "precision": "int8",
             "path": "artifacts/student-int8.onnx", "params": 10, "macs": 100, "size_bytes": 1000,
             "accuracy": {"top1": 0.9, "agreement_with_teacher": 0.95},
             "calibration": {"ece": 0.02, "nll": 0.3, "brier": 0.1},
             "latency_ms": {"host": {"p50": 1.0, "p90": 1.2, "p99": 1.5, "runs": 10, "threads": 1},
                            "predicted": {"p50": 2.0, "low": 1.0, "high": 4.0}},
             "memory": {"weights_bytes": 900, "peak_activation_bytes": 64, "host_peak_rss_bytes": 10**8}}
    return {"edgekd_version": "0.1.0", "target": {"name": "raspberry-pi-4"}, "models": [model],
            "budgets": [{"metric": "model_bytes", "limit": 2e7, "value": 1000, "passed": True}], "passed": True}


REPORT_PATHS = list(_paths(_report_example()))


@FAST
@given(mutations=st.lists(st.tuples(st.sampled_from(REPORT_PATHS), st.sampled_from(["delete", "set", "rename"]),
                                    TREES), min_size=1, max_size=3))
def test_mutated_reports_validate_or_schema_error(mutations, tmp_path):
    """`edgekd check` on a mutated report: a schema violation is a one-line BadInputError, never a crash."""
    import jsonschema

    from edgekd.api import check
    from edgekd.report.schema import report_schema

    report = _report_example()
    for path, op, value in mutations:
        try:
            _mutate(report, path, op, value)
        except (KeyError, IndexError, TypeError, AttributeError):  # an earlier mutation removed or replaced it
            continue
    valid = jsonschema.Draft202012Validator(report_schema()).is_valid(report)
    path = tmp_path / "report.json"
    path.write_text(json.dumps(report), encoding="utf-8")
    try:
        result = check(path, target="raspberry-pi-4")
    except BadInputError as exc:
        assert "\n" not in exc.one_line() and exc.fix
    else:
        assert valid, "a report that violates the schema was judged"
        assert isinstance(result["passed"], bool) and isinstance(result["budgets"], list)


@FAST
@given(text=st.text(max_size=60))
def test_any_text_as_report(text, tmp_path):
    from edgekd.report.regression import load_report

    path = tmp_path / "report.json"
    path.write_text(text, encoding="utf-8")
    try:
        parsed = json.loads(text)
    except ValueError:
        parsed = None
    is_report = isinstance(parsed, dict) and {"models", "budgets", "target"} <= set(parsed)
    try:
        loaded = load_report(path)
    except BadInputError as exc:
        assert not is_report and "\n" not in exc.one_line()
    else:
        assert is_report and loaded == parsed
