"""Issue 17, item 7 and row 10: bad inputs that used to pass or end in exit 1 now exit 2 with one line."""

from __future__ import annotations

import json

import pytest

import edgekd
from edgekd.cli import main
from edgekd.config import load_config
from edgekd.errors import EXIT_BAD_INPUT, BadInputError, ConfigError, OutputDirError


def test_yaml_duplicate_keys_are_an_error_naming_both_lines(tmp_path):
    config = tmp_path / "c.yaml"
    config.write_text("seed: 1\ndistill:\n  epochs: 2\n  epochs: 3\n")
    with pytest.raises(ConfigError, match=r"key 'epochs' appears twice \(lines 3 and 4\)"):
        load_config(config)


def test_distinct_keys_in_sibling_sections_still_load(tmp_path):
    config = tmp_path / "c.yaml"
    config.write_text("teacher:\n  epochs: 1\ndistill:\n  epochs: 2\n")
    assert load_config(config).distill.epochs == 2


def test_empty_out_is_refused_and_nothing_is_written(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(OutputDirError, match="--out is empty"):
        edgekd.build(None, target="host", out_dir="")
    assert list(tmp_path.iterdir()) == []


def run_main(capsys, *args: str) -> tuple[int, str]:
    """Exit code and output of ``edgekd ARGS`` through the real entry point (errors converted there)."""
    with pytest.raises(SystemExit) as exited:
        main(list(args))
    captured = capsys.readouterr()
    return int(exited.value.code or 0), captured.out + captured.err


def test_negative_max_regression_exits_2(tmp_path, capsys):
    report = tmp_path / "report.json"
    report.write_text("{}")
    with pytest.raises(BadInputError, match="negative limit"):
        edgekd.check(report, baseline=report, max_regression=-0.05)
    code, output = run_main(capsys, "check", str(report), "--baseline", str(report), "--max-regression=-5%")
    assert code == EXIT_BAD_INPUT and "negative limit" in output


def test_check_refuses_a_build_folder_without_its_manifest(tmp_path, capsys):
    (tmp_path / "artifacts").mkdir()
    report = tmp_path / "report.json"
    report.write_text(json.dumps({"passed": True}))
    code, output = run_main(capsys, "check", str(report))
    assert code == EXIT_BAD_INPUT and "no manifest.json: the build was not finished" in output
    assert "Traceback" not in output
