"""What ``quantize.float_first_conv: auto`` decides for each bench student on each target (`make bench-first-conv`).

For the four students of ``make bench-compress`` / ``make bench-compress-byo`` (their trained FP32
ONNX in ``benchmarks/work/compress*/<task>/student/``), and every profile in ``targets/``, this
runs the build's own decision (:func:`edgekd.quantize.first_conv.first_conv`) for ONNX and TFLite:
both INT8 graphs costed with the target's latency model, the first conv kept float when that is
predicted >= 3% faster. Next to the host's prediction it puts what bench-compress *measured* on
this host for the same students (``int8-ort`` against ``int8-ort-f1``, ``int8-aeq`` against
``int8-aeq-f1``, p50 side by side), the one place a prediction here can be checked.

Predictions take seconds: no training, no timing. Writes ``benchmarks/results/first-conv.json``
and its RESULTS.md section.

    python benchmarks/first_conv.py [--out FILE]
"""

from __future__ import annotations

import argparse
import datetime
import json
from pathlib import Path
from types import SimpleNamespace

from vision_common import ROOT, atomic, write_section

STUDENTS = {"embedded": ("compress", "embedded"), "vision": ("compress", "vision"),
            "speech": ("compress", "speech"), "byo-speech": ("compress-byo", "byo-speech")}
FORMATS = ("onnx", "tflite")
MEASURED = {"onnx": ("int8-ort.onnx", "int8-ort-f1.onnx"), "tflite": ("int8-aeq.tflite", "int8-aeq-f1.tflite")}


def decide_all(work: Path) -> dict:
    """Every student's decision on every target, for both formats."""
    import onnx
    import torch

    from edgekd.config import load_config
    from edgekd.quantize.first_conv import first_conv
    from edgekd.targets import list_targets

    config = load_config(None, [])
    out = {}
    for task, (bench, folder) in STUDENTS.items():
        graph = work / bench / folder / "student" / "fp32.onnx"
        if not graph.exists():
            raise SystemExit(f"error: {graph} does not exist; run `make bench-{bench}` first")
        dims = [d.dim_value for d in onnx.load(str(graph)).graph.input[0].type.tensor_type.shape.dim][1:]
        data = SimpleNamespace(representative=SimpleNamespace(x=torch.rand(8, *dims)))
        rows = {}
        for target in list_targets():
            ctx = SimpleNamespace(config=config, target=target, data=data, work_dir=work / "first-conv")
            rows[target.name] = {fmt: first_conv(graph, ctx, fmt).as_metrics() for fmt in FORMATS}
        out[task] = {"input_shape": dims, "decisions": rows}
    return out


def measured_on_host() -> dict:
    """bench-compress's host p50 of the all-int8 and first-conv-float variants, per student and format."""
    found = {}
    for name in ("compress.json", "compress-byo.json"):
        path = ROOT / "benchmarks" / "results" / name
        results = json.loads(path.read_text()) if path.exists() else {}
        for task in STUDENTS:
            models = (results.get(task) or {}).get("student", {}).get("models", {})
            found.update({task: {fmt: {v: models[v]["latency_ms"]["p50"] for v in pair if v in models}
                                 for fmt, pair in MEASURED.items()}} if models else {})
    return found


def render(results: dict) -> str:
    """The RESULTS.md section: the predicted first-conv-float / all-int8 ratio and the decision."""
    tasks = list(results["students"])
    lines = ["## Float first conv: what `quantize.float_first_conv: auto` decides (`make bench-first-conv`)", "",
             f"{results['date_utc']} · predicted p50 of the INT8 model with the first conv float over the "
             "all-int8 one (ONNX; TFLite where it differs), **F** = kept float (≥ 3% faster predicted), "
             "`–` = auto is off there (integer-only runtime). Model: the target's latency model, named by "
             "the method.", "",
             "| target | method | " + " | ".join(f"{t} {tuple(results['students'][t]['input_shape'])}" for t in tasks)
             + " |", "|---|---|" + "---:|" * len(tasks)]
    for target in results["students"][tasks[0]]["decisions"]:
        cells, method = [], ""
        for task in tasks:
            row = results["students"][task]["decisions"][target]
            cells.append(" / ".join(dict.fromkeys(_cell(row[fmt]) for fmt in FORMATS)))
            method = method or next((_method(row[f]) for f in FORMATS if row[f]["predicted_ms"]), "")
        lines.append(f"| {target} | {method or '–'} | " + " | ".join(cells) + " |")
    lines += ["", "Measured on this host by `make bench-compress` (p50, first conv float / all-int8; the host "
                  "profile's prediction is in the table above):", "",
              "| student | ONNX Runtime | TFLite (AEQ) |", "|---|---:|---:|"]
    for task, by_fmt in results["measured_host"].items():
        lines.append(f"| {task} | " + " | ".join(_measured(by_fmt.get(fmt, {}), fmt) for fmt in FORMATS) + " |")
    return "\n".join(lines)


def _cell(decision: dict) -> str:
    ms = decision["predicted_ms"]
    if not ms:
        return "–"
    ratio = ms["first_conv_float"] / ms["all_int8"]
    return f"{'**F** ' if decision['float'] else ''}{ratio:.2f}"


def _method(decision: dict) -> str:
    return decision["reason"].split("(", 1)[1].split(")", 1)[0]


def _measured(p50: dict, fmt: str) -> str:
    base, f1 = MEASURED[fmt]
    return f"{p50[f1] / p50[base]:.2f} ({1000 * p50[f1]:.0f} / {1000 * p50[base]:.0f} µs)" if len(p50) == 2 else "–"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "first-conv.json")
    parser.add_argument("--work", type=Path, default=ROOT / "benchmarks" / "work")
    args = parser.parse_args()
    (args.work / "first-conv").mkdir(parents=True, exist_ok=True)
    results = {"benchmark": "first-conv", "date_utc": datetime.datetime.now(datetime.timezone.utc).strftime(
        "%Y-%m-%d %H:%M UTC"), "students": decide_all(args.work), "measured_host": measured_on_host()}
    atomic.write_json(args.out, results)
    write_section("first-conv", render(results))
    print(render(results))


if __name__ == "__main__":
    main()
