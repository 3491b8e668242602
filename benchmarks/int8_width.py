"""INT8/FP32 latency of the speech DS-CNN student at several widths (`make bench-int8-width`).

Issue 14 asks for INT8 latency <= 0.7x FP32 on the best runtime, and `make bench-compress`
measures the speech student (DS-CNN-S, width 0.75, 48 channels) at 0.74x at best. Its ONNX
Runtime profile says int8 speeds up only the pointwise convs on this host; the first conv (one
input channel) and the depthwise convs run slower in int8. The pointwise share grows with the
channel count (their MACs go with its square, the others' with the count), so this measures the
ratio against width on the speech bench's input (1 x 97 x 40 log-mel) and reports each width's
MACs as a share of the speech teacher's (`make bench-speech` targets <= 25%).

Latency does not depend on the weights, so the models are untrained (seeded) and the
representative samples are random; no accuracy is measured here. Variants per width: ONNX
FP32 / INT8 (onnxruntime static), TFLite FP32 / INT8 (PT2E, every op int8) / INT8 with the
first conv in float (AI Edge Quantizer, as `int8-aeq-f1` in bench-compress). All are timed
interleaved in one loop (turns of back-to-back calls, the thread's CPU clock, one thread).

    python benchmarks/int8_width.py [--widths 0.5 0.75 1.0] [--out FILE]
"""

from __future__ import annotations

import argparse
import datetime
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from edgekd.report.build_report import cpu_features, cpu_model  # noqa: E402

SHAPE = (1, 97, 40)  # benchmarks/speech.yaml: 1 s at 8 kHz, hop 80, 40 mel bands
CLASSES = 10
TEACHER_WIDTH = 32  # benchmarks/speech.yaml teacher.width
WIDTHS = (0.5, 0.75, 0.8125, 0.875, 0.9, 1.0, 1.25, 1.5)  # 0.8125-0.9: 52-58 channels
VARIANTS = ("fp32.onnx", "int8.onnx", "fp32.tflite", "int8-pt2e.tflite", "int8-aeq-f1.tflite")


def build_width(width: float, folder: Path, calib: np.ndarray) -> tuple[dict[str, Path], int]:
    """Every variant of the DS-CNN-S at ``width``: variant -> path, and the model's MACs."""
    import torch

    from edgekd.atomic import atomic_path
    from edgekd.export.onnx import export_onnx
    from edgekd.export.tflite import export_tflite
    from edgekd.quantize.ort_static import quantize_onnx_static
    from edgekd.quantize.tflite_aeq import AeqModel, up_to_first_conv
    from edgekd.students import build_student
    from edgekd.students.counter import count_params_macs

    torch.manual_seed(0)
    model = build_student("ds-cnn", CLASSES, SHAPE, size="s", width=width).eval()
    p = {v: folder / f"w{width}-{v}" for v in VARIANTS}
    export_onnx(model, SHAPE, p["fp32.onnx"])
    quantize_onnx_static(p["fp32.onnx"], p["int8.onnx"], calib)
    export_tflite(model, SHAPE, p["fp32.tflite"])
    export_tflite(model, SHAPE, p["int8-pt2e.tflite"], int8=True, representative=calib)
    aeq = AeqModel(p["fp32.tflite"], calib, 1)
    with atomic_path(p["int8-aeq-f1.tflite"]) as tmp:
        tmp.write_bytes(aeq.quantize({op.scope: "float" for op in up_to_first_conv(aeq.ops)}))
    return p, count_params_macs(model, SHAPE)[1]


def teacher_macs() -> int:
    """MACs of the speech bench's teacher (the scratch CNN at its configured width) on the same input."""
    from edgekd.students.counter import count_params_macs
    from edgekd.teachers.scratch import ScratchCNN

    return count_params_macs(ScratchCNN(SHAPE[0], CLASSES, TEACHER_WIDTH), SHAPE)[1]


def measure(paths: dict[str, Path]) -> dict[str, dict]:
    """p50 latency of every model, all interleaved in one loop on one thread."""
    from edgekd.measure.latency import STEADY_BURST, interleaved
    from edgekd.runtimes import open_runner

    sample = np.random.default_rng(1).standard_normal((1, *SHAPE)).astype(np.float32)
    runners = {k: open_runner(p, p.suffix[1:], 1) for k, p in paths.items()}
    prepared = {k: r.prepare(sample) for k, r in runners.items()}
    return interleaved({k: (lambda r=r, x=prepared[k]: r.run_once(x)) for k, r in runners.items()}, mode="full",
                       burst=STEADY_BURST, clock=time.thread_time_ns)


def rows_for(widths, stats: dict, macs: dict, t_macs: int) -> list[dict]:
    """One row per width: MACs, share of the teacher's, each variant's p50 (ms) and INT8/FP32 ratios."""
    rows = []
    for w in widths:
        p50 = {v: stats[f"w{w}/{v}"]["p50"] for v in VARIANTS}
        rows.append({"width": w, "channels": max(1, round(64 * w)), "macs": macs[w],
                     "macs_share_of_teacher": macs[w] / t_macs, "p50_ms": p50,
                     "ratio": {"onnx int8": p50["int8.onnx"] / p50["fp32.onnx"],
                               "tflite pt2e": p50["int8-pt2e.tflite"] / p50["fp32.tflite"],
                               "tflite aeq-f1": p50["int8-aeq-f1.tflite"] / p50["fp32.tflite"]}})
    return rows


def markdown(result: dict) -> str:
    """The RESULTS.md section of one run."""
    m = result["machine"]
    lines = ["## INT8/FP32 latency of the speech DS-CNN against its width (`make bench-int8-width`)", "",
             f"{result['date']}, {m['cpu']} (SIMD: {', '.join(m['cpu_features'])}), {result['seconds']:.0f} s. "
             "Command: `make bench-int8-width`. Untrained DS-CNN-S students (latency does not depend on the "
             "weights) on the speech bench's 1 x 97 x 40 log-mel input; one thread, all models interleaved in "
             "one loop (turns of back-to-back calls, the thread's CPU clock), p50. Teacher: the speech bench's "
             f"scratch CNN, {result['teacher_macs'] / 1e6:.1f} M MACs.", "",
             "| width | channels | M MACs | % of teacher | FP32 ONNX µs | ONNX INT8/FP32 | FP32 TFLite µs | "
             "TFLite PT2E INT8/FP32 | TFLite first-conv-float INT8/FP32 | fastest INT8 µs |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in result["rows"]:
        q, t = r["ratio"], r["p50_ms"]
        fastest = min((v for v in VARIANTS if v.startswith("int8")), key=lambda v: t[v])
        lines.append(f"| {r['width']} | {r['channels']} | {r['macs'] / 1e6:.2f} | "
                     f"{100 * r['macs_share_of_teacher']:.1f}% | {1000 * t['fp32.onnx']:.0f} | {q['onnx int8']:.2f}× | "
                     f"{1000 * t['fp32.tflite']:.0f} | {q['tflite pt2e']:.2f}× | {q['tflite aeq-f1']:.2f}× | "
                     f"{1000 * t[fastest]:.0f} ({fastest}) |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--widths", type=float, nargs="+", default=list(WIDTHS))
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/int8-width.json")
    parser.add_argument("--work", type=Path, default=ROOT / "benchmarks/work/int8-width")
    parser.add_argument("--no-results-md", action="store_true", help="do not rewrite the RESULTS.md section")
    args = parser.parse_args(argv)
    started = time.time()
    args.work.mkdir(parents=True, exist_ok=True)
    calib = np.random.default_rng(0).standard_normal((32, *SHAPE)).astype(np.float32)
    paths, macs = {}, {}
    for w in args.widths:
        print(f"width {w}: exporting", flush=True)
        built, macs[w] = build_width(w, args.work, calib)
        paths.update({f"w{w}/{v}": p for v, p in built.items()})
    print(f"timing {len(paths)} models interleaved", flush=True)
    stats = measure(paths)
    result = {"date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
              "machine": {"cpu": cpu_model(), "cpu_features": cpu_features()}, "teacher_macs": teacher_macs(),
              "rows": rows_for(args.widths, stats, macs, teacher_macs()), "seconds": round(time.time() - started)}
    from edgekd import atomic

    atomic.write_text(args.out, json.dumps(result, indent=2) + "\n")
    if not args.no_results_md:
        from vision_common import write_section  # same folder (sys.path[0] is benchmarks/)

        write_section("int8-width", markdown(result))
    print(markdown(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
