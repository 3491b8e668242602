"""``make bench-byo-teachers``: third-party-style Keras teachers and their direct reference figures.

Trains three teachers the way their authors would (Keras, TF preprocessing, softmax output),
converts each with TensorFlow's own TFLite converter (FP32 and full INT8 with int8 I/O) and
scores the .keras and both .tflite files directly in TF / LiteRT on the test set. Also records
params and MACs counted from the Keras layers (the golden figures for edgekd's graph counter).
Every stage is resumable (files in ``benchmarks/work/byo/``); rerun the same command after an
interruption. Writes ``benchmarks/results/byo-teachers.json`` and the figures table of
``benchmarks/byo/README.md``.

Usage: ``python benchmarks/byo/teachers.py [--only resnet8,ds_cnn,mobilenet_v1_025_96]
[--epochs N] [--limit N] [--out PATH] [--render-only]``
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import RESULTS, WORK, atomic, machine, read_json, rel, write_json

README = Path(__file__).resolve().parent / "README.md"
MARK_START, MARK_END = "<!-- figures:start -->", "<!-- figures:end -->"

TEACHERS = {
    "resnet8": {
        "epochs": 25, "batch": 32, "lr": 1e-3,
        "augmentation": "horizontal flip + random shift up to 3 px (reflect pad, crop); MLPerf IC's 15 deg "
                        "rotation left out (cost)",
        "input": "float32 [N, 32, 32, 3] NHWC, raw RGB pixels 0..255, no normalisation (the model has none)",
        "input_note": "float32(x_test) is the teacher input: RGB 0..255, 32x32x3 NHWC, tf.io.decode_jpeg",
        "data": "CIFAR-10 JPEGs: train 0000-0899.jpg per class (9,000), val 0900-0999.jpg (1,000), test/ (10,000)",
    },
    "ds_cnn": {
        "epochs": 40, "batch": 100, "lr": 1e-3,
        "augmentation": "random time shift up to 100 ms (zero fill), MFCCs recomputed per batch; no noise",
        "input": "float32 [N, 49, 10, 1]: TF MFCCs (see ds_cnn/mfcc_params.json)",
        "input_note": "x_test are the TF MFCCs [49,10,1] of waves_test (1 s, peak-normalised); "
                      "params in mfcc_params.json",
        "data": "FSDD 8 kHz: train index 10-49 (2,400), val index 5-9 (300), test index 0-4 (300, official)",
    },
    "mobilenet_v1_025_96": {
        "epochs": 12, "batch": 64, "lr": 1e-3,
        "augmentation": "horizontal flip + random shift up to 2 px of the 32x32 source (6 px at 96), then the "
                        "96x96 upscale; VWW's 10 deg rotation and 0.1 zoom left out (cost)",
        "input": "float32 [N, 96, 96, 3] NHWC, RGB 0..255; the model's first layer is Rescaling(1/127.5, -1)",
        "input_note": "float32(x_test) is the teacher input: RGB 0..255 at 96x96 = tf.image.resize bilinear of "
                      "the 32x32 JPEG, rounded to uint8",
        "data": "CIFAR-10 JPEGs upscaled to 96x96; same split as resnet8",
    },
}


def parse() -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--only", default=",".join(TEACHERS), help="comma-separated teachers to run")
    parser.add_argument("--epochs", type=int, help="override every teacher's epochs (smoke runs)")
    parser.add_argument("--limit", type=int, help="keep only the first N train samples (smoke runs)")
    parser.add_argument("--out", type=Path, default=RESULTS, help="results JSON")
    parser.add_argument("--render-only", action="store_true", help="only re-render README from the JSON")
    return parser.parse_args()


def run_teacher(name: str, spec: dict, limit: int | None) -> dict:
    """Data, train, convert, evaluate one teacher (each stage resumes from its files)."""
    import stages
    from evaluate import evaluate

    print(f"### {name}", flush=True)
    data = stages.kws_data() if name == "ds_cnn" else stages.vision_data_for(name)
    if limit:
        for key in [k for k in data if k.endswith("_train")]:
            data[key] = data[key][:limit]
    train = stages.train(name, spec, data)
    print(f"  trained: {train['train_seconds']:.0f} s", flush=True)
    conversion = stages.convert(name, data)
    print(f"  converted: fp32 {conversion['fp32_seconds']} s, int8 {conversion['int8_seconds']} s", flush=True)
    result = evaluate(name, data, spec)
    top1 = {fmt: round(m["top1"] * 100, 2) for fmt, m in result["test"].items()}
    print(f"  test top-1 %: {top1}", flush=True)
    return {"train": train, "convert": conversion, "eval": result}


def entry(name: str, spec: dict, parts: dict) -> dict:
    """One teacher's block of the results JSON."""
    out = WORK / name
    files = {}
    for fname in ("model.keras", "model_fp32.tflite", "model_int8.tflite"):
        files[fname] = {"path": rel(out / fname), "bytes": atomic.size_of(out / fname),
                        "sha256": atomic.sha256_of(out / fname)}
    ev = parts["eval"]
    return {"data": spec["data"], "input": spec["input"], "output": "softmax probabilities [N, 10]",
            "files": files, "extra_files": ev["files"], "params_macs": ev["counts"],
            "tflite_io": ev["tflite"], "training": parts["train"], "conversion": parts["convert"],
            "top1": {fmt: m["top1"] for fmt, m in ev["test"].items()},
            "test_metrics": ev["test"], "val_top1_keras": ev["val_top1_keras"],
            "agreement": ev["agreement"], "predict_seconds": ev["predict_seconds"],
            "probabilities_sum_to_one": ev["probabilities_sum_to_one"],
            **({"pil_decoded_test": ev["pil_decoded_test"]} if "pil_decoded_test" in ev else {})}


def render(results: dict) -> str:
    """The figures tables of the README."""
    m = results["machine"]
    v = results["versions"]
    header = (f"Measured {m['date']} on {m['cpu']} ({m['cores']} cores, shared with other jobs), TensorFlow "
              f"{v['tensorflow']}, Keras {v['keras']}, ai-edge-litert {v['ai_edge_litert']}. The last invocation "
              f"(`{results['command']}`) took {results['wall_s'] / 60:.1f} min; stages finished by earlier "
              "invocations were skipped, so the training and conversion times below are the ones recorded "
              "when those stages ran.")
    columns = ("| teacher | test set | Keras top-1 | TFLite FP32 | TFLite INT8 | ECE (Keras) "
               "| params (Keras / folded) | MACs | epochs | train time |")
    lines = [header, "", columns, "|---|---|---|---|---|---|---|---|---|---|"]
    for name, t in results["teachers"].items():
        top1, pm, tr = t["top1"], t["params_macs"], t["training"]
        n = t["test_metrics"]["keras"]["n"]
        lines.append(f"| {name} | {n:,} | {pct(top1['keras'])} | {pct(top1['tflite_fp32'])} | "
                     f"{pct(top1['tflite_int8'])} | {t['test_metrics']['keras']['ece']:.4f} | "
                     f"{pm['keras_params']:,} / {pm['inference_params']:,} | {pm['macs']:,} | {tr['epochs']} | "
                     f"{tr['train_seconds'] / 60:.1f} min |")
    columns = ("| teacher | val top-1 (Keras) | top-1 on PIL-decoded test (Keras / FP32 / INT8) "
               "| Keras vs INT8 top-1 agreement | .keras / FP32 / INT8 bytes | convert FP32 / INT8 |")
    lines += ["", columns, "|---|---|---|---|---|---|"]
    for name, t in results["teachers"].items():
        pil = t.get("pil_decoded_test")
        pil_text = " / ".join(pct(pil["top1"][f]) for f in ("keras", "tflite_fp32", "tflite_int8")) if pil else "n/a"
        sizes = " / ".join(f"{t['files'][f]['bytes']:,}" for f in ("model.keras", "model_fp32.tflite",
                                                                    "model_int8.tflite"))
        c = t["conversion"]
        lines.append(f"| {name} | {pct(t['val_top1_keras'])} | {pil_text} | "
                     f"{pct(t['agreement']['keras_vs_tflite_int8']['top1_agreement'])} | {sizes} | "
                     f"{c['fp32_seconds']:.0f} s / {c['int8_seconds']:.0f} s |")
    return "\n".join(lines)


def pct(x: float) -> str:
    """A fraction as a percentage with two decimals."""
    return f"{x * 100:.2f}%"


def write_readme(results: dict) -> None:
    """Replace the figures block of README.md (between the markers) with the rendered table."""
    text = README.read_text()
    if MARK_START not in text:
        return
    head, rest = text.split(MARK_START, 1)
    tail = rest.split(MARK_END, 1)[1]
    atomic.write_text(README, f"{head}{MARK_START}\n{render(results)}\n{MARK_END}{tail}")


def main() -> None:
    """Run the chosen teachers and write the JSON summary."""
    args = parse()
    if args.render_only:
        write_readme(read_json(args.out))
        return
    from tf_tools import versions

    started = time.perf_counter()
    previous = read_json(args.out) or {}
    results = {"benchmark": "byo-teachers", "machine": machine(), "versions": versions(),
               "command": "python " + " ".join([rel(Path(sys.argv[0]))] + sys.argv[1:]),
               "work_dir": rel(WORK), "teachers": dict(previous.get("teachers", {}))}
    for name in args.only.split(","):
        spec = dict(TEACHERS[name])
        if args.epochs:
            spec["epochs"] = args.epochs
        results["teachers"][name] = entry(name, spec, run_teacher(name, spec, args.limit))
        results["wall_s"] = time.perf_counter() - started
        write_json(args.out, results)
    results["wall_s"] = time.perf_counter() - started
    results["wall_note"] = "this invocation only; training time of each teacher is summed over its epochs"
    write_json(args.out, results)
    if args.out == RESULTS:
        write_readme(results)
    print(f"wrote {rel(args.out)} ({results['wall_s'] / 60:.1f} min)", flush=True)


if __name__ == "__main__":
    main()
