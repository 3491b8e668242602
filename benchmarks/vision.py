"""``make bench-vision``: distil the pretrained CIFAR resnet56 into a MobileNet student.

1. White box: the teacher is the user's model file (``benchmarks/models/cifar_resnet.py``)
   plus the pretrained checkpoint, exactly as a user configures it (``benchmarks/vision.yaml``);
   the build's teacher and distill stages train the KD student and the hard-label baseline.
2. Black box: the same teacher exported to ONNX and loaded as ``teacher.kind: onnx``;
   the same student is distilled again and should reach the same quality.

All models are scored on test/. Writes ``benchmarks/results/<config stem>.json`` and the
``<config stem>`` section of ``benchmarks/RESULTS.md`` (``vision`` for the default config).

Every epoch it records the top-1-vs-epoch curve of the KD student and the hard-label baseline
(val each epoch, test every ``--test-every`` epochs, teacher agreement on val and on training
images; see ``benchmarks/curve.py``) and rewrites the JSON. Training checkpoints live in
``benchmarks/work/<config stem>/`` (``--work``): after an interruption, the same command resumes
from the last finished epoch; a folder holding another config's run is refused (``--fresh``).

Usage: ``python benchmarks/vision.py [--config benchmarks/vision.yaml] [--set key=value ...] [--no-onnx]
[--cache-speedup] [--threads N] [--test-every N] [--work DIR] [--fresh]``
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from pathlib import Path

import torch
import yaml
from curve import CurveReporter, claim_work_dir, load_partial, plot_curves, render_curves, run_key
from vision_common import (
    ROOT,
    atomic,
    bench_parser,
    cache_speedup,
    distill_run,
    load_config,
    machine,
    mmacs,
    pct,
    ratios,
    rerender,
    save_student,
    write_section,
)

CONFIG = ROOT / "benchmarks" / "vision.yaml"
STUDENT = ROOT / "benchmarks" / "work" / "vision-student.pt"  # `make bench-compress` starts from it


def main() -> None:
    """Run the white-box and ONNX-teacher distillations and write the results."""
    parser = bench_parser(__doc__, None)
    parser.add_argument("--config", type=Path, default=CONFIG, help="the build config (default benchmarks/vision.yaml)")
    parser.add_argument("--role", choices=("both", "student", "baseline"), default="both",
                        help="train the KD student and the baseline one after the other (both), or only one of them "
                             "(run two processes side by side; each writes results/<stem>-<role>.json and the last "
                             "to finish merges them into results/<stem>.json)")
    parser.add_argument("--no-onnx", action="store_true", help="skip the ONNX (black-box) teacher run")
    parser.add_argument("--cache-speedup", action="store_true", help="also time a cached vs per-step KD epoch")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    parser.add_argument("--test-every", type=int, default=None, help="score test every N epochs (default epochs/5)")
    parser.add_argument("--work", type=Path, default=None, help="checkpoint folder (default benchmarks/work/<stem>)")
    parser.add_argument("--fresh", action="store_true", help="discard the work folder's checkpoints first")
    parser.add_argument("--merge", action="store_true", help="only merge the per-role JSONs (curves so far) and render")
    args = parser.parse_args()
    stem = args.config.stem
    merged = args.out or ROOT / "benchmarks" / "results" / f"{stem}.json"
    if args.render_only:
        rerender(merged, args.note, stem, render)
        return
    if args.merge:
        merge_roles(stem, merged, args.note, final=False)
        return
    if args.threads:
        torch.set_num_threads(args.threads)
    out = merged if args.role == "both" else merged.with_name(f"{stem}-{args.role}.json")
    results = run_role(args, stem, out)
    if args.role == "both":
        plot_curves(results, out.with_suffix(".png"))
        write_section(stem, render(results))
    else:
        merge_roles(stem, merged, args.note, final=True)
    print(json.dumps({k: v for k, v in results.items() if k not in ("rows", "curves")}, indent=1, default=str))
    print(f"wrote {out} ({results['wall_s']:.0f} s)")


def run_role(args, stem: str, out: Path) -> dict:
    """Train (or resume) what ``args.role`` names, score it on test/, write ``out``; return the results."""
    overrides = list(args.overrides) + (["distill.train_baseline=false"] if args.role == "student" else [])
    epochs = load_config(args.config, overrides).distill.epochs
    test_every = args.test_every if args.test_every is not None else max(1, epochs // 5)
    onnx = not args.no_onnx and args.role != "baseline"
    key = run_key(args.config, overrides, {"onnx": onnx, "role": args.role})
    work = args.work or ROOT / "benchmarks" / "work" / (stem if args.role == "both" else f"{stem}-{args.role}")
    resuming = claim_work_dir(work, key, args.fresh)
    results = (load_partial(out, key) if resuming else None) or {
        "benchmark": "vision", "dataset": "CIFAR-10 JPEG (../shared/data/cifar10-jpg)",
        "teacher": "resnet56 (Y. Idelbayev, BSD-2-Clause), pretrained", "config": _rel(args.config),
        "overrides": args.overrides, "role": args.role, "run_key": key, "work": _rel(work), "started_utc": _now(),
        "sessions": []}
    results.update(status="running", machine=machine(), test_every=test_every, epochs=epochs)
    results["sessions"].append({"started_utc": _now(), "resumed": resuming, "torch_threads": torch.get_num_threads(),
                                "pid": os.getpid()})
    started = time.perf_counter()
    reporter = CurveReporter(out, results, epochs, test_every)
    print(f"### white-box torch teacher, {args.role} ({'resuming' if resuming else 'new run'} in {work})", flush=True)
    white = distill_run(args.config, overrides, reporter=reporter, work=work / "white", before_distill=reporter.attach,
                        distill_stage=_baseline_only if args.role == "baseline" else None)
    data = white["ctx"].data
    results.update(samples=data.summary()["samples"], rows=white["rows"],
                   seconds={"white_box": white["seconds"]},
                   best_epochs={k: v["best_epoch"] for k, v in white["history"].items()},
                   recipe=white["state"].distill_method)
    if "student" in white["rows"]:
        results["ratios"] = ratios(white["rows"])
        # Beside its checkpoints, so an hours-long run's student lasts as long as they do (benchmarks/checkpoints/).
        save_student(white, STUDENT if stem == "vision" else work / f"{stem}-student.pt")
    teacher = next(a for a in white["artifacts"] if a.role == "teacher")
    if args.cache_speedup:
        results["soft_label_cache"] = cache_speedup(white["ctx"], teacher.model)
    if onnx:
        results.update(_onnx_teacher_run(args, teacher, data, white, work))
    results["sessions"][-1]["wall_s"] = time.perf_counter() - started
    results["wall_s"] = sum(s.get("wall_s", 0) for s in results["sessions"])
    results["note"] = args.note or results.get("note", "")
    results["status"] = "done"
    atomic.write_json(out, results)
    return results


def _baseline_only(state, ctx):
    """The distill stage's hard-label baseline alone (``--role baseline``)."""
    from edgekd.distill import ddp, stage

    baseline, history = stage.train_baseline(ctx, ddp.select_device(ctx.config.distill.device))
    return state.with_curve("baseline", history).add(baseline)


def merge_roles(stem: str, merged: Path, note: str, final: bool) -> dict | None:
    """Combine ``<stem>-student.json`` and ``<stem>-baseline.json`` into ``merged`` (+ plot, + RESULTS.md section).

    With ``final`` it writes only once both roles are done (the second process to finish does it);
    otherwise it merges the curves so far into ``<stem>-partial.json`` and its plot, and leaves RESULTS.md alone.
    """
    parts = {}
    for role in ("student", "baseline"):
        path = merged.with_name(f"{stem}-{role}.json")
        if path.exists():
            parts[role] = json.loads(path.read_text())
    done = len(parts) == 2 and all(p.get("status") == "done" for p in parts.values())
    if final and not done:
        states = ", ".join(f"{role}: {part.get('status')}" for role, part in parts.items())
        print(f"merge: waiting for the other role ({states})")
        return None
    if not parts:
        print("merge: no per-role results yet")
        return None
    first = parts.get("student") or parts["baseline"]
    results = {k: v for k, v in first.items() if k not in ("rows", "curves", "ratios", "role", "run_key", "sessions")}
    results["roles"] = {r: {"run_key": p["run_key"], "status": p["status"], "sessions": p["sessions"],
                            "wall_s": p.get("wall_s"), "best_epochs": p.get("best_epochs")} for r, p in parts.items()}
    results["curves"] = {r: p.get("curves", {}).get(r, {}) for r, p in parts.items()}
    for role, part in parts.items():
        _add_raw_val(results["curves"][role], ROOT / part["work"] / "white" / ".edgekd-work" / "checkpoints"
                     / f"{role}.ckpt")
    rows = {}
    for p in parts.values():
        rows.update(p.get("rows") or {})
    results["rows"] = rows
    if {"teacher", "student", "baseline"} <= set(rows):
        results["ratios"] = ratios(rows)
    results["wall_s"] = max((p.get("wall_s") or 0) for p in parts.values())
    results["status"] = "done" if done else "running"
    results["note"] = note or results.get("note", "")
    target = merged if done else merged.with_name(f"{stem}-partial.json")
    atomic.write_json(target, results)
    plot_curves(results, target.with_suffix(".png"))
    if done:
        write_section(stem, render(results))
    print(f"merged {', '.join(parts)} into {target}")
    return results


def _add_raw_val(curve: dict, checkpoint: Path) -> None:
    """Copy ``val_top1_raw`` (the trained weights' val top-1 when EMA is on) from the trainer's checkpoint."""
    if not checkpoint.exists():
        return
    history = torch.load(checkpoint, weights_only=True, map_location="cpu")["state"]["history"]
    for entry in history:
        if "val_top1_raw" in entry and str(entry["epoch"]) in curve:
            curve[str(entry["epoch"])]["val_top1_raw"] = entry["val_top1_raw"]


def _onnx_teacher_run(args, teacher, data, white, work: Path) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        onnx_path = Path(tmp) / "resnet56.onnx"
        torch.onnx.export(teacher.model, torch.zeros(1, *data.input_shape), str(onnx_path), input_names=["x"],
                          output_names=["logits"], dynamic_axes={"x": {0: "n"}, "logits": {0: "n"}},
                          opset_version=17, dynamo=False)
        raw = yaml.safe_load(args.config.read_text())
        raw["teacher"] = {"kind": "onnx", "path": str(onnx_path)}
        raw["distill"]["train_baseline"] = False
        config = Path(tmp) / "vision-onnx.yaml"
        config.write_text(yaml.safe_dump(raw))
        print("### black-box ONNX teacher", flush=True)
        black = distill_run(config, args.overrides, work=work / "onnx")
    return {"onnx_teacher": {"rows": black["rows"], "ratios": ratios({**black["rows"],
                                                                       "baseline": white["rows"]["baseline"]})},
            "seconds": {"white_box": white["seconds"], "onnx_teacher": black["seconds"]}}


def _rel(path: Path) -> str:
    path = Path(path).resolve()
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def _now() -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())


def render(results: dict) -> str:
    """The RESULTS.md section."""
    m, rows, q = results["machine"], results["rows"], results["ratios"]
    title = "Vision: CIFAR-10 JPEG, MobileNet student from the pretrained resnet56"
    lines = [f"## {title} (`make bench-vision`"
             f"{'' if results['config'].endswith('/vision.yaml') else ', config ' + results['config']})", "",
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
    if results.get("recipe"):
        lines += ["", f"Recipe: {results['recipe']['description']}."]
    curve = render_curves(results)
    if curve:
        lines += ["", f"Top-1 by epoch (val every epoch, test every {results.get('test_every')} epochs; "
                      "agreement = the student's top-1 class equals the teacher's, on 1,000 unaugmented training "
                      "images and on val), with the EMA weights when the recipe uses EMA; plot: "
                      f"`{Path(results['config']).stem}.png` in `benchmarks/results/`:", "", *curve]
    if results.get("note"):
        lines += ["", results["note"]]
    c = results.get("soft_label_cache")
    if c:
        lines += ["", f"Soft-label cache: {c['cached']['epoch_s']:.1f} s/epoch cached vs {c['per_step']['epoch_s']:.1f}"
                      f" s/epoch running the teacher each step (**{c['epoch_speedup']:.2f}×**)."]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
