"""End to end: a build writes the output contract, and the embedded default build's numbers hold up.

The contract (files, manifest hashes, report fields, capacity budgets) is checked on the shared
tiny build (tests/conftest.py, 1 + 1 epochs). The default build itself (`make demo`, about 100 s)
is in the slow suite (`make test-all`) and in `make gate`: its accuracy, the auto batch size and
the INT8-vs-FP32 agreement need its full training.
"""

import json

import pytest

import edgekd
from edgekd import atomic

CONTRACT_MODEL_KEYS = {"name", "role", "format", "precision", "path", "params", "macs", "size_bytes", "accuracy",
                       "calibration", "latency_ms", "memory"}


@pytest.fixture(scope="module")
def pi4_build(tmp_path_factory):
    """The embedded default build (make demo): slow tests only."""
    out = tmp_path_factory.mktemp("pi4")
    return edgekd.build(None, target="raspberry-pi-4", out_dir=out)


def models(result):
    return {m["name"]: m for m in result.report["models"]}


def test_contract_files_and_manifest(quick_pi4_build):
    out = quick_pi4_build.out_dir
    for name in ("report.json", "report.md", "manifest.json", "config.resolved.yaml"):
        assert (out / name).is_file()
    manifest = json.loads((out / "manifest.json").read_text())
    listed = {f["path"] for f in manifest["files"]}
    assert {"artifacts/student-int8.onnx", "artifacts/student-fp32.onnx", "report.json"} <= listed
    for entry in manifest["files"]:
        assert atomic.sha256_of(out / entry["path"]) == entry["sha256"]
        assert (out / entry["path"]).stat().st_size == entry["size_bytes"]
    assert not (out / ".edgekd-work").exists()
    assert not [p for p in out.rglob("*") if atomic.TMP_MARK in p.name]


def test_report_has_every_contract_field(quick_pi4_build):
    pi4_build = quick_pi4_build
    report = json.loads((pi4_build.out_dir / "report.json").read_text())
    assert report == pi4_build.report
    assert report["target"]["name"] == "raspberry-pi-4" and isinstance(report["edgekd_version"], str)
    assert {m["role"] for m in report["models"]} >= {"teacher", "student"}
    for model in report["models"]:
        assert CONTRACT_MODEL_KEYS <= set(model), model["name"]
        assert {"top1", "agreement_with_teacher"} <= set(model["accuracy"])
        assert {"ece", "nll", "brier"} <= set(model["calibration"])
        assert {"p50", "p90", "p99", "runs", "threads"} <= set(model["latency_ms"]["host"])
        assert {"p50", "low", "high"} <= set(model["latency_ms"]["predicted"])
        pred = model["latency_ms"]["predicted"]
        assert 0 < pred["low"] <= pred["p50"] <= pred["high"]
        assert {"weights_bytes", "peak_activation_bytes", "host_peak_rss_bytes"} <= set(model["memory"])
    for budget in report["budgets"]:
        assert {"metric", "limit", "value", "passed"} <= set(budget)
    assert report["passed"] == all(b["passed"] for b in report["budgets"])
    assert pi4_build.exit_code == (0 if report["passed"] else 3)


def test_kd_student_is_compared_with_the_baseline_sample_by_sample(quick_pi4_build):
    report = quick_pi4_build.report
    versus, by_name = report["kd_vs_baseline"], models(quick_pi4_build)
    assert versus["samples"] == report["data"]["samples"]["test"]
    for role in ("student", "baseline", "teacher"):  # the same test split the models were measured on
        assert versus[f"{role}_top1"] == pytest.approx(by_name[role]["accuracy"]["top1"])
    assert versus["difference"] == pytest.approx(versus["student_top1"] - versus["baseline_top1"])
    assert (versus["only_first_right"] - versus["only_second_right"]) / versus["samples"] == pytest.approx(
        versus["difference"])
    assert versus["student_val_top1"] == report["training"]["student_history"]["kept_val_top1"]
    for page in ("report.md", "report.html"):
        assert "Only the KD student right: " in (quick_pi4_build.out_dir / page).read_text()


@pytest.mark.slow  # the default build: make test-all, make gate
def test_student_is_smaller_and_int8_close_to_fp32(pi4_build):
    m = models(pi4_build)
    assert m["student"]["macs"] < m["teacher"]["macs"]
    assert m["teacher"]["accuracy"]["top1"] > 0.9
    fp32, int8 = m["student-fp32.onnx"], m["student-int8.onnx"]
    assert abs(fp32["accuracy"]["top1"] - int8["accuracy"]["top1"]) <= 0.02
    assert fp32["parity"]["max_abs_diff"] < 1e-3 and fp32["parity"]["top1_agreement"] == 1.0
    assert int8["size_bytes"] < fp32["size_bytes"]


@pytest.mark.slow
def test_int8_onnx_runs_in_onnxruntime_independently(pi4_build):
    import onnxruntime as ort

    from edgekd.config import BuildConfig
    from edgekd.data import load_data

    data = load_data(BuildConfig())
    session = ort.InferenceSession(str(pi4_build.out_dir / "artifacts/student-int8.onnx"))
    assert any(n.op_type == "QuantizeLinear" for n in __import__("onnx").load(
        str(pi4_build.out_dir / "artifacts/student-int8.onnx")).graph.node)
    x, y = data.test.numpy()
    logits = session.run(None, {session.get_inputs()[0].name: x})[0]
    top1 = float((logits.argmax(1) == y).mean())
    assert top1 == pytest.approx(models(pi4_build)["student-int8.onnx"]["accuracy"]["top1"], abs=1e-9)
    assert top1 > 0.85


def test_budgets_cover_device_capacity(quick_pi4_build):
    metrics = {b["metric"] for b in quick_pi4_build.report["budgets"]}
    assert {"model_bytes_vs_device_storage", "peak_ram_bytes_vs_device_ram", "top1_drop_vs_teacher"} <= metrics


@pytest.mark.slow
def test_default_build_is_above_chance_with_its_training_recorded(pi4_build):
    """`make demo` / `make gate`: the README's main example ends far above chance, and says how it trained."""
    report = pi4_build.report
    budgets = {b["metric"]: b for b in report["budgets"]}
    assert budgets["top1_above_chance"]["passed"] and budgets["teacher_top1_above_chance"]["passed"]
    assert report["at_chance"] == []
    student = report["training"]["student_history"]
    # auto: 1,257 training images / 20 steps -> batch 63 (a fixed 128 would be 10 steps per epoch)
    assert student["batch_size"] == 63 and student["steps_per_epoch"] == 20
    assert report["training"]["teacher_history"]["batch_size"] == 64


def test_mcu_build_is_judged_on_ram_and_flash(mcu_build):
    # The README's quick first try (teacher.epochs=2, distill.epochs=2) on a microcontroller (tests/conftest.py).
    result = mcu_build
    budgets = {b["metric"]: b for b in result.report["budgets"]}
    # Short runs still end above chance (auto batch size, precise BatchNorm statistics): the deployable
    # INT8 model is far above the 13% that 360 test images need to beat guessing.
    assert budgets["top1_above_chance"]["passed"] and budgets["top1_above_chance"]["value"] > 0.5
    assert result.report["at_chance"] == []
    chosen = models(result)[result.report["chosen"]]
    assert chosen["format"] == "tflite" and chosen["precision"] == "int8"
    flash = budgets["model_bytes_vs_device_storage"]
    ram = budgets["peak_ram_bytes_vs_device_ram"]
    assert flash["value"] == chosen["size_bytes"]
    # Weights stay in flash on an MCU: RAM holds only the arena, the one TFLite Micro measured for the
    # shipped .tflite, which is the liveness estimate plus the interpreter's persistent data.
    memory = chosen["memory"]
    assert memory["tflm_arena_bytes"] > memory["peak_activation_bytes"] > 0
    assert ram["value"] == memory["tflm_arena_bytes"]
    assert flash["passed"] == (flash["value"] <= flash["limit"])
