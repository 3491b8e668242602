"""The CLI's contract: light imports, exit codes, one-line errors, nothing left on bad input."""

import json
import os
import subprocess
import sys

HEAVY = ("tensorflow", "coremltools", "neural_compressor", "onnx_neural_compressor", "litert_torch",
         "ai_edge_litert", "torch")
EDGEKD = [sys.executable, "-m", "edgekd.cli"]


def run_cli(*args, cwd=None, timeout=120):
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    return subprocess.run([*EDGEKD, *args], capture_output=True, text=True, cwd=cwd, timeout=timeout, env=env)


def test_import_and_help_do_not_load_heavy_backends():
    code = ("import sys, edgekd, edgekd.cli\n"
            "from click.testing import CliRunner\n"
            "r = CliRunner().invoke(edgekd.cli.cli, ['--help'])\n"
            "assert r.exit_code == 0 and 'build' in r.output, r.output\n"
            f"print([m for m in {HEAVY!r} if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_help_lists_commands_and_exit_codes():
    result = run_cli("build", "--help")
    assert result.returncode == 0
    assert "--target" in result.stdout and "Exit codes" in result.stdout


def test_unknown_target_exits_2_with_did_you_mean_and_leaves_nothing(tmp_path):
    out = tmp_path / "out"
    result = run_cli("build", "--target", "raspbery-pi-4", "--out", str(out))
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "raspberry-pi-4" in lines[0] and "Traceback" not in result.stderr
    assert not out.exists()


def test_misspelt_config_key_exits_2_naming_it_and_leaves_nothing(tmp_path):
    config = tmp_path / "c.yaml"
    config.write_text("distill:\n  temprature: 3\n")
    out = tmp_path / "out"
    result = run_cli("build", str(config), "--out", str(out))
    assert result.returncode == 2
    assert "distill.temprature" in result.stderr and "temperature" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert not out.exists()


def test_output_folder_that_is_a_file_exits_2(tmp_path):
    out = tmp_path / "taken"
    out.write_text("not a folder")
    result = run_cli("build", "--out", str(out))
    assert result.returncode == 2 and "is a file" in result.stderr
    assert out.read_text() == "not a folder"


def test_debug_shows_traceback(tmp_path):
    result = run_cli("build", "--target", "no-such-device", "--out", str(tmp_path / "o"), "--debug")
    assert result.returncode == 2 and "Traceback" in result.stderr


def test_targets_list_and_show():
    listed = run_cli("targets", "list")
    assert listed.returncode == 0
    for name in ("raspberry-pi-4", "stm32h743", "iphone-15-pro", "coral-dev-board"):
        assert name in listed.stdout
    assert "rpi4" in listed.stdout  # aliases are listed
    by_alias = run_cli("targets", "show", "rpi4", "--json")
    assert by_alias.returncode == 0 and json.loads(by_alias.stdout)["name"] == "raspberry-pi-4"
    shown = run_cli("targets", "show", "stm32h743", "--json")
    assert shown.returncode == 0
    profile = json.loads(shown.stdout)
    assert profile["name"] == "stm32h743" and profile["kind"] == "mcu"


def test_targets_show_unknown_name_suggests():
    result = run_cli("targets", "show", "pixle-8")
    assert result.returncode == 2 and "pixel-8" in result.stderr


def test_check_on_missing_report_exits_2(tmp_path):
    result = run_cli("check", str(tmp_path / "nope.json"))
    assert result.returncode == 2 and "does not exist" in result.stderr


def test_students_show_takes_a_non_square_resolution_and_rejects_a_bad_one():
    shown = run_cli("students", "show", "ds-cnn", "--set", "resolution=97x40", "--set", "channels=1",
                    "--set", "classes=10", "--json")
    assert shown.returncode == 0, shown.stderr
    info = json.loads(shown.stdout)
    assert list(info["input_shape"]) == [1, 97, 40] and info["macs"] > 0
    bad = run_cli("students", "show", "ds-cnn", "--set", "resolution=9x")
    assert bad.returncode == 2
    assert bad.stderr.strip().count("\n") == 0 and "resolution '9x'" in bad.stderr


def test_commands_that_only_read_start_without_torch():
    """`edgekd check`, `targets list` and `config show` read YAML/JSON: importing torch (~3 s) is not their business."""
    import subprocess
    import sys

    code = ("import sys, edgekd.api, edgekd.cli, edgekd.config_docs, edgekd.report.gate; "
            "from edgekd.targets import list_targets; list_targets(); edgekd.config.load_config(None); "
            "print(sorted(m for m in ('torch', 'tensorflow', 'onnxruntime') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-1500:]
    assert out.stdout.strip() == "[]"
