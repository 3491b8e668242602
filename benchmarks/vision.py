"""``make bench-vision``: distil the pretrained CIFAR resnet56 into a MobileNet student.

1. White box: the teacher is the user's model file (``benchmarks/models/cifar_resnet.py``)
   plus the pretrained checkpoint, exactly as a user configures it (``benchmarks/vision.yaml``);
   the build's teacher and distill stages train the KD student and the hard-label baseline.
2. Black box: the same teacher exported to ONNX and loaded as ``teacher.kind: onnx``;
   the same student is distilled again and should reach the same quality.

All models are scored on test/. Writes ``benchmarks/results/vision.json`` and the vision
section of ``benchmarks/RESULTS.md``.

Usage: ``python benchmarks/vision.py [--set key=value ...] [--no-onnx] [--cache-speedup]``
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path

import torch
import yaml

from vision_common import (ROOT, atomic, cache_speedup, distill_run, evaluate_top1, machine, mmacs, pct, ratios, rerender,
                           bench_parser, save_student, write_section)

CONFIG = ROOT / "benchmarks" / "vision.yaml"
OUT = ROOT / "benchmarks" / "results" / "vision.json"
STUDENT = ROOT / "benchmarks" / "work" / "vision-student.pt"  # `make bench-compress` starts from it


def main() -> None:
    """Run the white-box and ONNX-teacher distillations and write the results."""
    parser = bench_parser(__doc__, OUT)
    parser.add_argument("--no-onnx", action="store_true", help="skip the ONNX (black-box) teacher run")
    parser.add_argument("--cache-speedup", action="store_true", help="also time a cached vs per-step KD epoch")
    args = parser.parse_args()
    if args.render_only:
        rerender(args.out, args.note, "vision", render)
        return
    started = time.perf_counter()
    results = {"benchmark": "vision", "dataset": "CIFAR-10 JPEG (../shared/data/cifar10-jpg)",
               "teacher": "resnet56 (Y. Idelbayev, BSD-2-Clause), pretrained", "config": str(CONFIG.relative_to(ROOT)),
               "overrides": args.overrides, "machine": machine()}
    print("### white-box torch teacher", flush=True)
    white = distill_run(CONFIG, args.overrides)
    data = white["ctx"].data
    results.update(samples=data.summary()["samples"], rows=white["rows"], ratios=ratios(white["rows"]),
                   seconds={"white_box": white["seconds"]},
                   best_epochs={k: v["best_epoch"] for k, v in white["history"].items()})
    teacher = next(a for a in white["artifacts"] if a.role == "teacher")
    save_student(white, STUDENT)
    if args.cache_speedup:
        results["soft_label_cache"] = cache_speedup(white["ctx"], teacher.model)
    if not args.no_onnx:
        with tempfile.TemporaryDirectory() as tmp:
            onnx_path = Path(tmp) / "resnet56.onnx"
            torch.onnx.export(teacher.model, torch.zeros(1, *data.input_shape), str(onnx_path), input_names=["x"],
                              output_names=["logits"], dynamic_axes={"x": {0: "n"}, "logits": {0: "n"}},
                              opset_version=17, dynamo=False)
            raw = yaml.safe_load(CONFIG.read_text())
            raw["teacher"] = {"kind": "onnx", "path": str(onnx_path)}
            raw["distill"]["train_baseline"] = False
            config = Path(tmp) / "vision-onnx.yaml"
            config.write_text(yaml.safe_dump(raw))
            print("### black-box ONNX teacher", flush=True)
            black = distill_run(config, args.overrides)
            results["onnx_teacher"] = {"rows": black["rows"], "ratios": ratios({**black["rows"],
                                                                                 "baseline": white["rows"]["baseline"]})}
            results["seconds"]["onnx_teacher"] = black["seconds"]
    results["wall_s"] = time.perf_counter() - started
    results["note"] = args.note
    atomic.write_json(args.out, results)
    write_section("vision", render(results))
    print(json.dumps({k: v for k, v in results.items() if k not in ("rows",)}, indent=1, default=str))
    print(f"wrote {args.out} ({results['wall_s']:.0f} s)")


def render(results: dict) -> str:
    """The RESULTS.md section."""
    m, rows, q = results["machine"], results["rows"], results["ratios"]
    lines = ["## Vision: CIFAR-10 JPEG, MobileNet student from the pretrained resnet56 (`make bench-vision`)", "",
             f"{m['date']} · {m['cpu']} · {m['cores']} cores (shared) · torch {m['torch']} · "
             f"wall {results['wall_s'] / 60:.1f} min · config `{results['config']}`"
             + (f" with `{' '.join(results['overrides'])}`" if results["overrides"] else ""),
             f"Samples: {results['samples']}", "",
             "| model | test top-1 | MACs | params | /teacher top-1 | /teacher MACs |", "|---|---|---|---|---|---|"]
    t = rows["teacher"]

    def row(label, r):
        lines.append(f"| {label} | {pct(r['top1'])} | {mmacs(r['macs'])} | {r['params']:,} | "
                     f"{pct(r['top1'] / t['top1'])} | {pct(r['macs'] / t['macs'] if t['macs'] else None)} |")

    row("teacher resnet56 (torch factory + weights)", t)
    row("KD student (white-box teacher)", rows["student"])
    row("same student, hard labels only", rows["baseline"])
    if "onnx_teacher" in results:
        o = results["onnx_teacher"]["rows"]
        row("teacher resnet56 exported to ONNX (black box)", {**o["teacher"], "macs": t["macs"], "params": t["params"]})
        row("KD student (ONNX teacher)", o["student"])
    gain = q.get("kd_gain_over_baseline")
    lines += ["", f"KD − baseline: {'–' if gain is None else f'{100 * gain:+.2f} pts'}; target (≥ 97% of teacher "
                  f"top-1 at ≤ 25% of its MACs, above the baseline): **{'met' if q['meets_target'] else 'not met'}**."]
    if results.get("note"):
        lines += ["", results["note"]]
    c = results.get("soft_label_cache")
    if c:
        lines += ["", f"Soft-label cache: {c['cached']['epoch_s']:.1f} s/epoch cached vs {c['per_step']['epoch_s']:.1f}"
                      f" s/epoch running the teacher each step (**{c['epoch_speedup']:.2f}×**)."]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
