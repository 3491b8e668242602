"""`edgekd check`: exit 0 when every budget holds, 3 on a budget miss, 3 on a regression vs a baseline."""

import os
import subprocess
import sys
from pathlib import Path

import yaml

from edgekd.targets import targets_dir


def run_check(*args):
    env = {**os.environ, "PYTHONWARNINGS": "ignore", "COLUMNS": "200"}
    return subprocess.run([sys.executable, "-m", "edgekd.cli", "check", *args], capture_output=True, text=True,
                          timeout=120, env=env)


def passing(report):
    """The built report edited so that every budget of raspberry-pi-4 holds."""
    for model in report["models"]:
        if model.get("accuracy"):
            model["accuracy"]["top1"] = 0.99
            model["calibration"]["ece"] = 0.01
    return report


def chosen(report):
    return next(m for m in report["models"] if m["name"] == report["chosen"])


def test_all_budgets_met_exits_0(report, save):
    result = run_check(save(passing(report)))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "passed" in result.stdout and "MISS" not in result.stdout


def test_budget_miss_exits_3_and_names_it(report, save):
    report = passing(report)
    chosen(report)["size_bytes"] = 10**12  # 1 TB: over the budget and the SD card
    result = run_check(save(report))
    assert result.returncode == 3, result.stdout + result.stderr
    assert "model_bytes" in result.stdout and "MISS" in result.stdout and "failed" in result.stdout


def test_regression_vs_baseline_exits_3_with_a_table(report, save):
    base = save(passing(report), "baseline.json")
    current = passing(report)
    chosen(current)["latency_ms"]["predicted"]["p50"] *= 1.2  # 20% slower, still within the latency budget
    path = save(current, "current.json")
    result = run_check(path, "--baseline", base, "--max-regression", "5%")
    assert result.returncode == 3, result.stdout + result.stderr
    assert "REGRESSED" in result.stdout and "predicted_p50_ms" in result.stdout and "+20.0%" in result.stdout
    # the same change is allowed under a looser limit, and an unchanged build passes the 5% gate
    assert run_check(path, "--baseline", base, "--max-regression", "25%").returncode == 0
    assert run_check(base, "--baseline", base).returncode == 0


def test_ece_increase_vs_teacher_budget(report, save, tmp_path):
    profile = yaml.safe_load((targets_dir() / "raspberry-pi-4.yaml").read_text())
    profile["budgets"]["max_ece_increase_vs_teacher"] = 0.02
    path = tmp_path / "pi4-ece.yaml"
    path.write_text(yaml.safe_dump(profile))
    report = passing(report)
    ok = run_check(save(report, "ok.json"), "--target", str(path))
    assert ok.returncode == 0 and "ece_increase_vs_teacher" in ok.stdout, ok.stdout + ok.stderr
    chosen(report)["calibration"]["ece"] = 0.10  # teacher 0.01 -> +0.09
    miss = run_check(save(report, "miss.json"), "--target", str(path))
    assert miss.returncode == 3 and "ece_increase_vs_teacher" in miss.stdout


def test_temperature_scaling_is_reported_and_shipped(report, built):
    import numpy as np
    import torch

    from edgekd.runtimes import open_runner
    from edgekd.students import build_student

    ts = report["temperature_scaling"]
    assert ts["enabled"] and ts["fitted_on"] == "val" and ts["temperature"] > 0
    assert set(ts["ece_before"]) == set(ts["ece_after"]) == {"val", "test"}
    student = next(m for m in report["models"] if m["name"] == "student")
    assert any("temperature scaling" in n for n in student["notes"])
    onnx = next(m for m in report["models"] if m["name"] == "student-fp32.onnx")
    assert onnx["parity"]["passed"]  # the exported graph carries the same scaled logits as the torch student
    # Shipped: the exported ONNX emits the trained student's logits divided by T (student.pt is unscaled).
    cfg = report["config"]["student"]
    shape = tuple(student["input_shape"])
    model = build_student(cfg["name"], len(report["data"]["classes"]), shape, **cfg["options"]).eval()
    model.load_state_dict(torch.load(built / "artifacts" / "student.pt", weights_only=True))
    x = np.random.default_rng(0).standard_normal((4, *shape)).astype(np.float32)
    with torch.no_grad():
        raw = model(torch.from_numpy(x)).numpy()
    shipped = open_runner(built / onnx["path"], "onnx").predict(x)
    np.testing.assert_allclose(shipped, raw / ts["temperature"], rtol=1e-4, atol=1e-4)
