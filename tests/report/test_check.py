"""`edgekd check`: exit 0 when every budget holds, 3 on a budget miss, 3 on a regression vs a baseline."""

import subprocess

import pytest
import yaml

from edgekd.targets import targets_dir


def run_check(*args):
    """`edgekd check ARGS` through the real entry point, in this process (exit code, stdout, stderr)."""
    import contextlib
    import io

    from edgekd.cli import main

    out, err = io.StringIO(), io.StringIO()
    code = 0
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            main(["check", *args])
        except SystemExit as exc:
            code = int(exc.code or 0)
    return subprocess.CompletedProcess(["edgekd", "check", *args], code, out.getvalue(), err.getvalue())


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


def _latency_entry(result):
    return next(b for b in result["budgets"] if b["metric"].startswith("latency_p90_ms"))


def test_check_on_another_profile_judges_that_profiles_prediction(report, save):
    """Another profile's latency budget is never judged on the build target's (Pi 4) prediction."""
    import edgekd

    report = passing(report)
    row = next(r for r in report["predicted_on_targets"] if r["target"] == "raspberry-pi-5")
    assert row["precision"] == "int8"
    row.update(p50=30.0, low=20.0, high=40.0)  # over the Pi 5's 33 ms; the Pi 4's own figure is ~2 ms
    miss = _latency_entry(edgekd.check(save(report, "miss.json"), target="raspberry-pi-5"))
    assert miss["value"] == 40.0 and miss["limit"] == 33.0 and not miss["passed"]
    row.update(high=30.0)
    assert _latency_entry(edgekd.check(save(report, "ok.json"), target="rpi5"))["passed"]  # an alias, same profile
    # the build's own target still reads the chosen model's own prediction
    own = _latency_entry(edgekd.check(save(report, "own.json")))
    assert own["value"] == chosen(report)["latency_ms"]["predicted"]["high"]


def test_check_on_a_profile_the_report_did_not_cost_exits_2(report, save):
    report = passing(report)
    report["predicted_on_targets"] = [r for r in report["predicted_on_targets"] if r["target"] != "raspberry-pi-5"]
    result = run_check(save(report), "--target", "raspberry-pi-5")
    assert result.returncode == 2, result.stdout + result.stderr
    assert "no latency prediction for raspberry-pi-5" in result.stderr and "--target raspberry-pi-5" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_check_on_a_profile_that_runs_none_of_the_exported_models_exits_2(report, save):
    import edgekd
    from edgekd.errors import BadInputError

    # This build exported ONNX only; a TFLite Micro board runs none of it.
    with pytest.raises(BadInputError, match="exported no model stm32h743 runs"):
        edgekd.check(save(passing(report)), target="stm32h743")


def test_check_on_a_copy_of_the_build_profile_with_tighter_budgets_uses_its_own_predictions(report, save, tmp_path):
    """Same device, new budgets (a user's my-pi4.yaml): judged on the build's predictions, not refused."""
    from edgekd.targets import load_target

    report = passing(report)
    data = load_target("raspberry-pi-4").model_dump(mode="json")
    own_high = chosen(report)["latency_ms"]["predicted"]["high"]
    data.update(name="my-pi4", aliases=[], description="a Pi 4 with a tighter latency budget")
    data["budgets"]["max_latency_p90_ms"] = own_high / 2
    tight = tmp_path / "my-pi4.yaml"
    tight.write_text(yaml.safe_dump(data))
    result = run_check(save(report), "--target", str(tight))
    assert result.returncode == 3, result.stdout + result.stderr
    assert "latency" in result.stdout
    # another device in the same copy (a faster clock) is not the device the build costed: refused, exit 2
    data["device"]["clusters"][0]["clock_hz"] = "1.8 GHz"
    tight.write_text(yaml.safe_dump(data))
    other = run_check(save(report), "--target", str(tight))
    assert other.returncode == 2 and "no latency prediction for my-pi4" in other.stderr
