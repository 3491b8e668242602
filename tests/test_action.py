"""action.yml (the composite action) and the example workflow that uses it."""

from pathlib import Path

import yaml
from click.testing import CliRunner

from edgekd.cli import cli

ROOT = Path(__file__).resolve().parents[1]


def action():
    return yaml.safe_load((ROOT / "action.yml").read_text())


def test_action_is_composite_with_the_issue_inputs():
    spec = action()
    assert spec["runs"]["using"] == "composite"
    assert {"target", "config", "baseline", "max-regression"} <= set(spec["inputs"])
    # composite run steps must name their shell
    assert all(step.get("shell") == "bash" for step in spec["runs"]["steps"] if "run" in step)


def test_action_installs_builds_and_checks_with_existing_options():
    scripts = "\n".join(step.get("run", "") for step in action()["runs"]["steps"])
    assert "make -C \"$GITHUB_ACTION_PATH\" install" in scripts
    assert "args=(build --target" in scripts and "--format github" in scripts
    # every option the action passes must exist in the CLI it installs
    build_help = CliRunner().invoke(cli, ["build", "--help"]).output
    check_help = CliRunner().invoke(cli, ["check", "--help"]).output
    assert all(opt in build_help for opt in ("--target", "--out"))
    assert all(opt in check_help for opt in ("--target", "--format", "--baseline", "--max-regression"))
    assert "[text|github]" in check_help


def test_workflow_uses_the_action_with_the_committed_baseline():
    workflow = yaml.safe_load((ROOT / ".github/workflows/edgekd.yml").read_text())
    steps = [s for job in workflow["jobs"].values() for s in job["steps"]]
    uses_action = [s for s in steps if s.get("uses") == "./"]
    assert len(uses_action) == 1
    inputs = uses_action[0]["with"]
    assert set(inputs) <= set(action()["inputs"])
    assert inputs["baseline"] == "benchmarks/baseline/report.json"
    assert (ROOT / inputs["baseline"]).is_file()
