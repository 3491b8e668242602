"""report.json validates against edgekd/schemas/report.schema.json; `edgekd check` refuses what does not."""

import json
import subprocess
import sys

import jsonschema
import pytest

from edgekd.errors import BadInputError
from edgekd.report.schema import report_schema, schema_errors, validate_report

CONTRACT_MODEL_KEYS = {"name", "role", "format", "precision", "path", "params", "macs", "size_bytes",
                       "latency_ms", "memory"}


def test_schema_is_valid_draft_2020_12_and_requires_the_contract():
    schema = report_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["$schema"].endswith("2020-12/schema")
    assert set(schema["required"]) >= {"edgekd_version", "target", "models", "budgets", "passed"}
    assert set(schema["$defs"]["model"]["required"]) >= CONTRACT_MODEL_KEYS


def test_a_real_build_report_validates(built, report):
    jsonschema.validate(report, report_schema(), cls=jsonschema.Draft202012Validator)
    assert schema_errors(report) == []
    # every runnable model carries a reliability diagram, the build folder lists report.html
    for model in report["models"]:
        assert len(model["calibration"]["reliability"]) == 15, model["name"]
    manifest = json.loads((built / "manifest.json").read_text())
    assert "report.html" in {f["path"] for f in manifest["files"]}


def test_added_fields_are_allowed(report):
    report["some_future_field"] = {"x": 1}
    report["models"][0]["another_new_metric"] = 3.5
    assert schema_errors(report) == []


@pytest.mark.parametrize("mutate, where", [
    (lambda r: r.pop("passed"), "'passed' is a required property"),
    (lambda r: r["models"][0].pop("macs"), "$.models[0]"),
    (lambda r: r["models"][1]["accuracy"].update(top1="high"), "$.models[1].accuracy.top1"),
    (lambda r: r["budgets"][0].update(passed="yes"), "$.budgets[0].passed"),
])
def test_violations_name_the_first_bad_field(report, mutate, where):
    mutate(report)
    with pytest.raises(BadInputError) as info:
        validate_report(report, source="r.json")
    assert where in str(info.value)


def test_check_exits_2_naming_the_schema_violation(report, save):
    report["models"][0]["format"] = "pickle"
    path = save(report)
    result = subprocess.run([sys.executable, "-m", "edgekd.cli", "check", path], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 2, result.stderr
    assert "does not match the report schema" in result.stderr and "$.models[0].format" in result.stderr
    assert "Traceback" not in result.stderr


def test_issue_18_fields_are_in_the_schema_and_in_a_real_report(report):
    defs = report_schema()["$defs"]
    assert {"confusion_matrix", "notes"} <= set(defs["model"]["properties"])
    assert {"unit", "judged", "note"} <= set(defs["budget"]["properties"])
    assert {"training", "at_chance"} <= set(report_schema()["properties"])
    # the model the gate judged carries its confusion matrix on the test split
    chosen = next(m for m in report["models"] if m["name"] == report["chosen"])
    matrix = chosen["confusion_matrix"]
    assert matrix["split"] == "test" and matrix["labels"] == report["data"]["classes"]
    assert sum(map(sum, matrix["counts"])) == report["data"]["samples"]["test"]
    diagonal = sum(matrix["counts"][i][i] for i in range(len(matrix["labels"])))
    assert diagonal / report["data"]["samples"]["test"] == pytest.approx(chosen["accuracy"]["top1"])
    assert all(b["unit"] in ("fraction", "ece", "ms", "bytes", "count") for b in report["budgets"])
    student = report["training"]["student_history"]
    assert student["batch_size"] >= 1 and student["steps_per_epoch"] >= 1 and student["chance"]["split"] == "val"
    assert report["at_chance"] == []  # one epoch on digits already beats guessing


@pytest.mark.parametrize("mutate, where", [
    (lambda r: next(m for m in r["models"] if m.get("confusion_matrix"))["confusion_matrix"]["counts"][0]
     .__setitem__(0, -1), "confusion_matrix.counts[0][0]"),
    (lambda r: r["budgets"][0].update(unit="furlongs"), "$.budgets[0].unit"),
    (lambda r: r["training"]["student_history"].update(batch_size=0), "student_history.batch_size"),
])
def test_new_fields_are_validated(report, mutate, where):
    mutate(report)
    assert any(where in e for e in schema_errors(report)), schema_errors(report)
