"""Golden output of report.md for a small hand-made report."""

from edgekd.report.markdown import render_markdown

REPORT = {
    "edgekd_version": "0.1.0", "created_utc": "2026-01-01T00:00:00+00:00", "duration_s": 12.5,
    "host": {"cpu": "Test CPU", "cores": 2}, "target": {"name": "pi"},
    "data": {"name": "toy", "samples": {"test": 10}}, "chosen": "s-int8.onnx", "passed": False,
    "models": [
        {"name": "teacher", "format": "torch", "precision": "fp32", "params": 1000, "macs": 200000,
         "size_bytes": 4096, "accuracy": {"top1": 0.9, "agreement_with_teacher": 1.0},
         "calibration": {"ece": 0.05}, "latency_ms": {"host": {"p50": 1.0, "p90": 1.5},
                                                      "predicted": {"p50": 2.0, "low": 1.0, "high": 4.0}},
         "memory": {"weights_bytes": 4000, "peak_activation_bytes": 2048}, "notes": []},
        {"name": "s-int8.onnx", "format": "onnx", "precision": "int8", "params": 100, "macs": 20000,
         "size_bytes": 512, "accuracy": {"top1": 0.85, "agreement_with_teacher": 0.9},
         "calibration": {"ece": 0.1}, "latency_ms": {"host": None, "predicted": None},
         "memory": {"weights_bytes": None, "peak_activation_bytes": None}, "notes": ["INT8 note"]},
    ],
    "budgets": [
        {"metric": "top1", "limit": 0.9, "value": 0.85, "passed": False, "model": "s-int8.onnx"},
        {"metric": "model_bytes", "limit": 20000000.0, "value": 512.0, "passed": True, "model": "s-int8.onnx"},
    ],
    "conversion_failures": [{"format": "coreml", "op": "svd", "error": "coreml: unsupported op svd"}],
}

EXPECTED = """\
# edgekd build report — pi: FAILED

edgekd 0.1.0, 2026-01-01T00:00:00+00:00, 12.5 s on Test CPU (2 cores). Data: toy (10 test samples). \
Deployable model: **s-int8.onnx**.

## Models

| model | format | precision | params | MACs | size | top-1 | agree w/ teacher | ECE | host p50 / p90 ms \
| predicted on pi ms | weights | arena |
|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|
| teacher | torch | fp32 | 1,000 | 200,000 | 4.0 KiB | 90.00% | 100.00% | 0.05 | 1 / 1.5 | 2 [1–4] \
| 3.9 KiB | 2.0 KiB |
| s-int8.onnx | onnx | int8 | 100 | 20,000 | 512 B | 85.00% | 90.00% | 0.1 | — | — | — | — |

## Budgets

| metric | limit | value | model | result |
|---|---:|---:|---|---|
| top1 | 0.9 | 0.85 | s-int8.onnx | **MISS** |
| model_bytes | 20,000,000 | 512 | s-int8.onnx | pass |

## Conversion failures

- coreml: unsupported op svd

## Notes

- **s-int8.onnx**: INT8 note
"""


def test_markdown_golden():
    assert render_markdown(REPORT) == EXPECTED


def test_runtime_model_predictions_are_named():
    import copy

    report = copy.deepcopy(REPORT)
    report["models"][1]["latency_ms"]["predicted"] = {"p50": 0.5, "low": 0.4, "high": 0.6,
                                                      "method": "runtime-model:onnxruntime"}
    text = render_markdown(report)
    assert ("Predicted latency on pi: the runtime models measured on it (onnxruntime model for s-int8.onnx); "
            "the per-op roofline from spec figures for the other models.") in text
    assert "runtime models" not in render_markdown(REPORT)
