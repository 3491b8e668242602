"""Golden output of report.md for a small hand-made report.

Changed by hand for issue 18: the verdict and the budget table come first (result column first,
values and limits in their units: top-1 in %, bytes in KiB/MiB, latency in ms, a "not judged"
noisy entry); the build line moved under "Build"; model cells carry units (ms) and Core ML cells
say n/a with a footnote; new Training and Confusion matrix sections.
"""

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
         "memory": {"weights_bytes": None, "peak_activation_bytes": None}, "notes": ["INT8 note"],
         "confusion_matrix": {"split": "test", "labels": ["a", "b"], "counts": [[5, 1], [0, 4]]}},
        {"name": "s-int8.mlpackage", "format": "coreml", "precision": "int8", "params": 100, "macs": 20000,
         "size_bytes": 2048, "latency_ms": {"host": None, "predicted": {"p50": 0.5, "low": 0.25, "high": 1.0}},
         "memory": {"weights_bytes": 1024, "peak_activation_bytes": 512}, "notes": []},
    ],
    "budgets": [
        {"metric": "top1", "limit": 0.9, "value": 0.85, "passed": False, "model": "s-int8.onnx"},
        {"metric": "model_bytes", "limit": 20000000.0, "value": 512.0, "passed": True, "model": "s-int8.onnx"},
        {"metric": "latency_p90_ms (measured on host)", "limit": 20.0, "value": 21.64, "unit": "ms", "passed": True,
         "judged": False, "note": "not judged: noisy (CV 0.61 > 0.25)", "model": "s-int8.onnx", "source": "budget"},
    ],
    # distill.keep: last shipped epoch 2 (val 80%), though epoch 1 scored higher (85%).
    "training": {"student_history": {"epochs": [{"epoch": 1, "loss": 1.2, "val_top1": 0.85},
                                                {"epoch": 2, "loss": 0.8, "val_top1": 0.8}],
                                     "best_epoch": 1, "best_val_top1": 0.85, "keep": "last", "kept_epoch": 2,
                                     "kept_val_top1": 0.8, "epochs_run": 2, "batch_size": 11,
                                     "steps_per_epoch": 20, "batch_size_rule": "auto: ceil(210 / 20) = 11",
                                     "chance": {"split": "val", "samples": 30, "chance": 0.5, "threshold": 0.7,
                                                "top1": 0.8, "at_chance": False}},
                 "baseline_history": None},
    "conversion_failures": [{"format": "coreml", "op": "svd", "error": "coreml: unsupported op svd"}],
    # 3 samples only the KD student got right, 2 only the baseline, of 20: +5 points, McNemar
    # 2 * P(X >= 3 | Bin(5, 1/2)) = 2 * 16/32 = 1.
    "kd_vs_baseline": {"split": "test", "samples": 20, "student_top1": 0.85, "baseline_top1": 0.8, "teacher_top1": 0.9,
                       "student_val_top1": 0.8, "baseline_val_top1": 0.75, "difference": 0.05,
                       "interval": [-0.168, 0.268], "only_first_right": 3, "only_second_right": 2, "mcnemar_p": 1.0},
}

# A line ending in a backslash continues on the next source line: one line of output, kept within 120 columns.
EXPECTED = """\
# edgekd build report — pi: FAILED

**FAILED: 1 budget missed (1 not judged).** Deployable model: **s-int8.onnx**.

What failed:

- top1 85.00%, limit ≥ 90.00% (s-int8.onnx)

## Budgets

| result | metric | value | limit | model | source |
|---|---|---:|---:|---|---|
| **MISS** | top1 | 85.00% | ≥ 90.00% | s-int8.onnx | budget |
| pass | model_bytes | 512 B | ≤ 19.1 MiB | s-int8.onnx | budget |
| not judged: noisy (CV 0.61 > 0.25) | latency_p90_ms (measured on host) | 21.6 ms | ≤ 20 ms | s-int8.onnx | budget |

## Build

edgekd 0.1.0, 2026-01-01T00:00:00+00:00, 12.5 s on Test CPU (2 cores). Data: toy (10 test samples).

## Models

| model | format | precision | params | MACs | size | top-1 | agree w/ teacher | ECE | host p50 / p90 \
| predicted on pi | weights | arena |
|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|
| teacher | torch | fp32 | 1,000 | 200,000 | 4.0 KiB | 90.00% | 100.00% | 0.0500 | 1 ms / 1.5 ms | 2 ms [1–4] \
| 3.9 KiB | 2.0 KiB |
| s-int8.onnx | onnx | int8 | 100 | 20,000 | 512 B | 85.00% | 90.00% | 0.1000 | — | — | — | — |
| s-int8.mlpackage | coreml | int8 | 100 | 20,000 | 2.0 KiB | n/a¹ | n/a¹ | n/a¹ | n/a¹ | 0.5 ms [0.25–1] \
| 1.0 KiB | 512 B |

¹ Core ML prediction needs macOS: on Linux a Core ML model is converted, saved and its spec checked, but \
accuracy, calibration and host latency cannot be measured (the gate takes its accuracy from the same student \
measured in another format).

## Training

| model | epochs | batch | steps / epoch | val top-1 of the kept weights (epoch, keep) | chance check |
|---|---:|---:|---:|---:|---|
| student | 2 | 11 | 20 | 80.00% (2, last) | above chance (≥ 70.00%) |

- batch of student: auto: ceil(210 / 20) = 11

## Distillation vs hard labels

| model | val top-1 (kept weights) | test top-1 |
|---|---:|---:|
| KD student | 80.00% | 85.00% |
| hard-label baseline | 75.00% | 80.00% |
| teacher | — | 90.00% |

Only the KD student right: 3 test samples; only the baseline: 2. KD student vs hard-label baseline: \
+5.00 points on 20 test samples (95% interval -16.80 to +26.80; McNemar p 1.000): no difference this \
test split can resolve.

## Confusion matrix — s-int8.onnx, test split

Rows: true class; columns: predicted class.

| true \\ predicted | a | b |
|---|---:|---:|
| a | 5 | 1 |
| b | 0 | 4 |

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
