"""bench-compress's RESULTS lines for the INT8 engines: a tuned engine and QAT, hand-worked."""

from __future__ import annotations


def test_tuned_engine_line_names_the_float_ops_and_the_val_drop(bench_module):
    line = bench_module("compress_report")._tuning_line("int8-aeq-tuned.tflite", {
        "trials": 2, "baseline_top1": 0.9, "top1": 0.8975, "drop": 0.0025, "met_budget": True,
        "fallback": "float", "fallback_ops": ["CONV_2D#3"], "seconds": {"ranges": 0.4, "trials": 1.5}})
    assert line == ("- int8-aeq-tuned.tflite: 2 trials, val top-1 90.00% FP32 -> 89.75% (drop 0.25 points), met "
                    "budget: True; ops kept in float: CONV_2D#3; time: ranges 0.4 s, trials 1.5 s.")


def test_qat_line_says_it_trained_and_did_not_tune_on_val(bench_module):
    line = bench_module("compress_report")._tuning_line("int8-qat.tflite", {
        "epochs": 2, "steps": 282, "batch_size": 64, "lr": 1e-4, "kl_per_epoch": [0.03171, 0.002278],
        "seconds": {"train": 54.2, "convert": 5.5}})
    assert line == ("- int8-qat.tflite: quantization-aware fine-tuning, 2 epochs (282 steps, batch 64, Adam lr 0.0001) "
                    "towards the FP32 outputs on the train split; KL to FP32 per epoch: 0.0317, 0.0023; no val "
                    "tuning; time: train 54.2 s, convert 5.5 s.")


def test_qat_line_names_the_epoch_it_kept_on_the_probe(bench_module):
    line = bench_module("compress_report")._tuning_line("int8-qat.tflite", {
        "epochs": 2, "steps": 282, "batch_size": 64, "lr": 1e-4, "kl_per_epoch": [0.0042, 0.0103],
        "probe_kl": [0.0051, 0.0038, 0.0097], "kept_epoch": 1, "diverged": None,
        "seconds": {"train": 54.2, "convert": 5.5}})
    assert ("KL to FP32 per epoch: 0.0042, 0.0103; on the representative samples, epoch 0 (untrained) first: "
            "0.0051, 0.0038, 0.0097; kept epoch 1; no val tuning") in line


def test_first_conv_float_variants_are_summarised_as_such(bench_module):
    engines = bench_module("int8_engines")
    assert engines.fallback_summary("int8-aeq-f1.tflite", {}) == "first conv float"
    assert engines.fallback_summary("int8-ort-f1.onnx", {}) == "first conv float"


def test_byo_task_names_the_missing_teacher_and_takes_bench_byos_setup(bench_module, tmp_path, monkeypatch):
    import importlib

    import pytest

    compress = bench_module("compress")
    monkeypatch.syspath_prepend(str(compress.ROOT / "benchmarks" / "byo"))
    common = importlib.import_module("common")
    monkeypatch.setattr(common, "WORK", tmp_path)
    with pytest.raises(SystemExit, match='make bench-byo-teachers BYO_ARGS="--only ds_cnn"'):
        compress.byo_overrides("ds_cnn", 5)
    (tmp_path / "ds_cnn").mkdir()
    (tmp_path / "ds_cnn" / "model.keras").write_bytes(b"")
    overrides = compress.byo_overrides("ds_cnn", 5)
    assert "distill.epochs=5" in overrides and overrides[-1] == "export.formats=[onnx,tflite]"
    teacher = next(o for o in overrides if o.startswith("teacher="))
    assert "kind: keras" in teacher and "tensorflow-kws" in teacher and str(tmp_path / "ds_cnn") in teacher
