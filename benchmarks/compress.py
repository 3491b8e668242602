"""Compression benchmark: FP32 vs INT8 (ORT static, accuracy-aware, TFLite) and pruning + KD recovery.

Run with ``make bench-compress``. Three students, side by side in one run:

* embedded: the default build (``edgekd build`` with no config: 8x8 handwritten digits upscaled,
  scratch CNN teacher, MobileNetV2-0.35), trained here, pruned to half the MACs with KD recovery;
* vision: CIFAR-10 JPEGs (../shared/data/cifar10-jpg), resnet56 teacher (pretrained file),
  the KD MobileNetV2 student that ``make bench-vision`` trained (benchmarks/work/vision-student.pt,
  same config and split), pruned to half the MACs with KD recovery (recovery curve recorded);
* speech: FSDD (../shared/data/fsdd/recordings), log-mel, official split; the scratch CNN teacher
  and the KD DS-CNN student of ``make bench-speech`` (benchmarks/work/speech-student.pt).

``--train-here`` trains the vision and speech students in this run instead (with a bounded budget).

For each: test top-1 and host latency of FP32 ONNX, ORT static INT8, accuracy-aware INT8,
FP32 TFLite and TFLite INT8, latency measured interleaved (A B A B ...) in one loop, so the
INT8/FP32 ratios are measured under the same load. Writes ``benchmarks/results/compress.json``.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
sys.path.insert(0, str(ROOT))

from edgekd.config import load_config  # noqa: E402
from edgekd.progress import NullReporter  # noqa: E402
from edgekd.report.build_report import cpu_model  # noqa: E402

MAX_DROP = 0.005  # target: INT8 top-1 drop ≤ 0.5 point
MAX_RATIO = 0.7  # target: INT8 host latency ≤ 0.7x FP32
TASKS = ("embedded", "vision", "speech")
PRUNED = ("embedded", "vision")  # issue 4: half the MACs + KD recovery on the embedded default and the vision student


class _Say(NullReporter):
    """Progress on stderr (epochs and notes), so a long run shows it is alive."""

    def stage(self, name, detail=""):  # noqa: D102
        print(f"[{time.strftime('%H:%M:%S')}] {name} {detail}", file=sys.stderr, flush=True)

    def note(self, text):  # noqa: D102
        print(f"  note: {text}", file=sys.stderr, flush=True)

    def epoch(self, label, epoch, total, loss, val_top1, rate):  # noqa: D102
        print(f"  {label} {epoch}/{total} loss {loss:.4f} val {100 * val_top1:.2f}% ({rate:.0f}/s)", file=sys.stderr,
              flush=True)


def vision_overrides(epochs: int, recovery: int) -> list[str]:
    """Config for a vision student trained here: CIFAR-10 JPEGs, resnet56 teacher, MobileNetV2-0.35."""
    cifar = DATA / "cifar10-jpg"
    return [f"data={{kind: image_folder, root: '{cifar / 'train'}', test_root: '{cifar / 'test'}', "
            "mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225], split: {val_fraction: 0.1}}",
            f"teacher={{kind: torch, factory: '{ROOT / 'benchmarks/models/cifar_resnet.py'}:make_model', "
            f"factory_kwargs: {{depth: 56}}, weights: '{DATA / 'cifar10-resnet/resnet56-4bfd9763.th'}'}}",
            "student.options={width: 0.35}", f"distill.epochs={epochs}", "distill.lr=0.005",
            *prune_overrides(recovery, lr=0.002)]


def prune_overrides(recovery: int, lr: float) -> list[str]:
    """Half the MACs, then ``recovery`` epochs of KD fine-tuning; ONNX and TFLite exports."""
    return ["prune.enabled=true", "prune.target_macs_ratio=0.5", f"prune.recovery_epochs={recovery}",
            f"prune.lr={lr}", "export.formats=[onnx,tflite]"]


def speech_overrides(epochs: int) -> list[str]:
    """Config for the speech student: FSDD log-mel, official split (index 0-4 is test)."""
    return [f"data={{kind: audio_folder, root: '{DATA / 'fsdd/recordings'}', layout: flat, sample_rate: 8000, "
            "clip_seconds: 1.0, split: {method: pattern, field: index, test: '0-4'}}",
            f"teacher={{kind: scratch-cnn, epochs: {epochs}}}", f"distill.epochs={epochs}",
            "export.formats=[onnx,tflite]"]


def per_class(split, limit: int | None):
    """The first ``limit`` samples of each class (a bounded budget on a loaded machine); ``None`` = all."""
    import dataclasses

    import torch

    if limit is None:
        return split
    keep = torch.cat([torch.nonzero(split.y == c).flatten()[:limit] for c in torch.unique(split.y)]).sort().values
    return dataclasses.replace(split, x=split.x[keep], y=split.y[keep])


def run_task(name: str, overrides: list[str], work: Path, prune: bool, threads: int,
             train_limit: int | None = None, test_limit: int | None = None, config: Path | None = None,
             student_file: Path | None = None) -> dict:
    """Train teacher and student (or load the student), prune, export, quantize three ways, measure side by side.

    ``config`` + ``student_file``: start from the KD student a benchmark saved (``make bench-vision`` /
    ``make bench-speech``), with that benchmark's config (same data split), instead of training one here.
    """
    import dataclasses

    from edgekd.data import load_data
    from edgekd.pipeline import run_stages
    from edgekd.stage import BuildContext
    from edgekd.state import BuildState
    from edgekd.targets import load_target

    saved = _load_saved(student_file) if student_file else None
    cfg = load_config(config, [*(saved["overrides"] if saved else []), *overrides])
    data = load_data(cfg)
    data = dataclasses.replace(data, train=per_class(data.train, train_limit), test=per_class(data.test, test_limit))
    ctx = BuildContext(config=cfg, target=load_target("raspberry-pi-4"), out_dir=work / name, data=data,
                       reporter=_Say(), threads=threads)
    ctx.work_dir.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    state = BuildState()
    stages = ["teacher", "distill", *(["prune"] if prune else [])]
    for stage in stages:
        ctx.reporter.stage(f"{name}: {stage}")
        if stage == "distill" and saved:
            state = state.add(saved_student(saved, student_file, data))
            continue
        state = run_stages((stage,), ctx, state)
    by_name = {a.name: a for a in state.artifacts}
    result = {"data": ctx.data.summary(), "teacher": by_name["teacher"].notes,
              "config": {"overrides": overrides, "train_per_class": train_limit, "test_per_class": test_limit}, "train_seconds": round(time.perf_counter() - started, 1)}
    x_test, y_test = ctx.data.test.numpy()
    result["teacher_test_top1"] = _torch_top1(by_name["teacher"].model, x_test, y_test)
    result["student"] = compare_formats(by_name["student"], ctx, work / name / "student", threads)
    if prune:
        pruned = by_name["student-pruned"]
        result["pruning"] = {**pruned.metrics["prune"], "test_top1_before": result["student"]["models"]["fp32.onnx"]["top1"]}
        result["pruned_student"] = compare_formats(pruned, ctx, work / name / "pruned", threads, unpruned=by_name["student"])
    return result


def _load_saved(path: Path) -> dict:
    import torch

    if not path.exists():
        raise SystemExit(f"error: {path} does not exist; run `make bench-vision` / `make bench-speech` first, "
                         "or pass --train-here")
    return {"overrides": [], **torch.load(path, weights_only=True)}


def saved_student(saved: dict, path: Path, data):
    """The student artifact rebuilt from a benchmark's saved weights and recipe."""
    from edgekd.artifact import Artifact
    from edgekd.students import build_student, count_params_macs

    model = build_student(saved["student"]["name"], data.num_classes, data.input_shape, **saved["student"]["options"])
    model.load_state_dict(saved["state_dict"])
    model.eval()
    params, macs = count_params_macs(model, data.input_shape)
    return Artifact(name="student", role="student", format="torch", precision="fp32", model=model,
                    input_shape=data.input_shape, params=params, macs=macs, parent="teacher",
                    notes=(f"KD student loaded from {path.name}",))


def compare_formats(student, ctx, folder: Path, threads: int, unpruned=None) -> dict:
    """FP32 ONNX/TFLite and three INT8 variants of one torch student: top-1 and interleaved latency."""
    from edgekd.measure.latency import interleaved
    from edgekd.export.onnx import export_onnx
    from edgekd.export.tflite import export_tflite
    from edgekd.quantize.inc_tune import tune_onnx_int8
    from edgekd.quantize.ort_static import quantize_onnx_static
    from edgekd.quantize.stage import onnx_top1
    from edgekd.runtimes import open_runner

    folder.mkdir(parents=True, exist_ok=True)
    shape, calib = student.input_shape, ctx.data.calibration.x.numpy()
    x_val, y_val = ctx.data.val.numpy()
    x_test, y_test = ctx.data.test.numpy()
    paths = {"fp32.onnx": folder / "fp32.onnx", "int8-ort.onnx": folder / "int8-ort.onnx",
             "int8-tuned.onnx": folder / "int8-tuned.onnx", "fp32.tflite": folder / "fp32.tflite",
             "int8.tflite": folder / "int8.tflite"}
    export_onnx(student.model, shape, paths["fp32.onnx"])
    quantize_onnx_static(paths["fp32.onnx"], paths["int8-ort.onnx"], calib)
    tuning = tune_onnx_int8(paths["fp32.onnx"], paths["int8-tuned.onnx"], calib,
                            lambda p: onnx_top1(p, x_val, y_val), max_top1_drop=MAX_DROP, max_trials=8)
    export_tflite(student.model, shape, paths["fp32.tflite"])
    export_tflite(student.model, shape, paths["int8.tflite"], int8=True, calibration=calib)
    if unpruned is not None:
        paths["unpruned-fp32.onnx"] = folder / "unpruned-fp32.onnx"
        export_onnx(unpruned.model, shape, paths["unpruned-fp32.onnx"])
    runners = {k: open_runner(p, k.rsplit(".", 1)[1], threads) for k, p in paths.items()}
    models = {}
    for key, runner in runners.items():
        logits = runner.predict(x_test)
        models[key] = {"top1": float((logits.argmax(1) == y_test).mean()), "bytes": paths[key].stat().st_size}
    sample = x_test[:1]
    prepared = {k: r.prepare(sample) for k, r in runners.items()}
    stats = interleaved({k: (lambda r=r, p=prepared[k]: r.run_once(p)) for k, r in runners.items()}, mode="full")
    for key in models:
        models[key]["latency_ms"] = {q: stats[key][q] for q in ("p50", "p90") if q in stats[key]}
        base = "fp32.tflite" if key.endswith("tflite") else "fp32.onnx"
        models[key]["top1_drop_vs_fp32"] = models[base]["top1"] - models[key]["top1"]
        models[key]["p50_ratio_vs_fp32"] = stats[key]["p50"] / stats[base]["p50"]
    tuning = {k: v for k, v in tuning.items() if k != "path"}
    return {"params": student.params, "macs": student.macs, "threads": threads, "models": models,
            "int8_tuning": tuning, "latency_runs": stats["fp32.onnx"].get("runs")}


def _torch_top1(model, x, y) -> float:
    import torch

    from edgekd.distill.trainer import predict_logits

    return float((predict_logits(model, torch.from_numpy(x)).argmax(1).numpy() == y).mean())


def task_recipe(task: str, args) -> tuple[list[str], Path | None, Path | None]:
    """(overrides, config file, saved student) of one task: the benchmark's student, or one trained here."""
    if task == "embedded":  # the default build (`edgekd build` with no config): quick to train here
        return prune_overrides(args.recovery_epochs, lr=0.002), None, None
    if args.train_here:
        overrides = (vision_overrides(args.vision_epochs, args.recovery_epochs) if task == "vision"
                     else speech_overrides(args.speech_epochs))
        return overrides, None, None
    # SGD (as the vision benchmark trains) recovers at a higher learning rate than the AdamW default.
    overrides = prune_overrides(args.recovery_epochs, lr=0.01) if task == "vision" else ["export.formats=[onnx,tflite]"]
    return overrides, ROOT / "benchmarks" / f"{task}.yaml", ROOT / "benchmarks" / "work" / f"{task}-student.pt"


def verdicts(task: dict) -> dict:
    """Targets met or not, on the best INT8 runtime (smallest latency ratio among variants within the drop)."""
    models = task["student"]["models"]
    int8 = {k: m for k, m in models.items() if k.startswith("int8")}
    best = min(int8, key=lambda k: int8[k]["p50_ratio_vs_fp32"])
    return {"best_int8_runtime": best, "best_ratio": int8[best]["p50_ratio_vs_fp32"],
            "ratio_target_met": int8[best]["p50_ratio_vs_fp32"] <= MAX_RATIO,
            "drop_target_met": {k: m["top1_drop_vs_fp32"] <= MAX_DROP for k, m in int8.items()}}


def main(argv: list[str] | None = None) -> int:
    """Run both tasks and write the results JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(ROOT / "benchmarks/results/compress.json"))
    parser.add_argument("--work", default=str(ROOT / "benchmarks/work/compress"))
    parser.add_argument("--vision-epochs", type=int, default=8)
    parser.add_argument("--recovery-epochs", type=int, default=4)
    parser.add_argument("--speech-epochs", type=int, default=10)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--train-per-class", type=int, default=None, help="bounded budget: train samples per class")
    parser.add_argument("--test-per-class", type=int, default=None, help="bounded budget: test samples per class")
    parser.add_argument("--only", choices=TASKS, default=None)
    parser.add_argument("--train-here", action="store_true",
                        help="train the students here (--vision-epochs, --speech-epochs) instead of starting from "
                             "the KD students `make bench-vision` and `make bench-speech` saved in benchmarks/work/")
    parser.add_argument("--no-results-md", dest="results_md", action="store_false",
                        help="do not update benchmarks/RESULTS.md")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    work = Path(args.work)
    results = {"command": "make bench-compress  # " + " ".join(sys.argv), "date_utc":
               datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
               "machine": {"cpu": cpu_model(), "cores": os.cpu_count(), "python": platform.python_version()},
               "targets": {"max_int8_top1_drop": MAX_DROP, "max_int8_latency_ratio": MAX_RATIO}}
    for task in TASKS:
        if args.only in (None, task):
            overrides, config, student_file = task_recipe(task, args)
            results[task] = run_task(task, overrides, work, prune=task in PRUNED, threads=args.threads,
                                     train_limit=args.train_per_class, test_limit=args.test_per_class,
                                     config=config, student_file=student_file)
            results[task]["verdict"] = verdicts(results[task])
    results["seconds"] = round(time.perf_counter() - started, 1)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2, default=str) + "\n")
    if args.results_md:
        write_results_md(render_markdown(results))
    print(json.dumps({k: results[k].get("verdict") for k in TASKS if k in results}, indent=2))
    return 0


def render_markdown(results: dict) -> str:
    """The RESULTS.md section for one run (tables from ``compress.json``)."""
    lines = ["<!-- compress:start -->", "## Compression: FP32 vs INT8, pruning + KD recovery (`make bench-compress`)", "",
             f"{results['date_utc']}, {results['machine']['cpu']} ({results['machine']['cores']} cores, shared), "
             f"{results['seconds']} s. Command: `{results['command']}`. Latency: one sample, "
             f"interleaved A B A B in one loop, p50; ratios are vs the FP32 model of the same runtime. Targets: INT8 "
             f"top-1 drop ≤ {100 * MAX_DROP:.1f} point, INT8 latency ≤ {MAX_RATIO}x FP32 on the best runtime.", ""]
    for task in TASKS:
        if task not in results:
            continue
        r = results[task]
        st = r["student"]
        lines += [f"### {task}: {r['data']['name']} ({r['data']['samples']}); teacher test top-1 "
                  f"{100 * r['teacher_test_top1']:.2f}%; student {st['params']:,} params, {st['macs']:,} MACs", "",
                  "| model | test top-1 | drop vs FP32 | p50 ms | p50 vs FP32 | bytes |", "|---|---:|---:|---:|---:|---:|"]
        for key, m in st["models"].items():
            lines.append(f"| {key} | {100 * m['top1']:.2f}% | {100 * m['top1_drop_vs_fp32']:+.2f} | "
                         f"{m['latency_ms'].get('p50', float('nan')):.3f} | {m['p50_ratio_vs_fp32']:.2f}x | {m['bytes']:,} |")
        t, v = st["int8_tuning"], r["verdict"]
        lines += ["", f"Accuracy-aware INT8: {t['trials']} trials, val drop {100 * t['drop']:.2f} points, met budget: "
                  f"{t['met_budget']}, ops kept in float: {', '.join(t['float_ops']) or 'none'}. Best INT8 runtime: "
                  f"{v['best_int8_runtime']} at {v['best_ratio']:.2f}x FP32 (target met: {v['ratio_target_met']}); "
                  f"drop target met: {v['drop_target_met']}.", ""]
        if "pruning" in r:
            p = r["pruning"]
            curve = ", ".join(f"{e['epoch']}: {100 * e['val_top1']:.2f}%" for e in p["recovery_curve"])
            lines += [f"Pruning to {p['target_macs_ratio']} of the MACs: MACs {p['macs_before']:,} -> {p['macs_after']:,}, "
                      f"params {p['params_before']:,} -> {p['params_after']:,}; val top-1 "
                      f"{100 * p['val_top1_before_pruning']:.2f}% -> {100 * p['val_top1_after_pruning']:.2f}% (pruned) -> "
                      f"{100 * p['val_top1_after_recovery']:.2f}% after KD recovery (curve, val top-1 per epoch: {curve}); "
                      f"pruned FP32 ONNX test top-1 {100 * r['pruned_student']['models']['fp32.onnx']['top1']:.2f}%, p50 "
                      f"{r['pruned_student']['models']['fp32.onnx']['latency_ms']['p50']:.3f} ms vs unpruned "
                      f"{r['pruned_student']['models']['unpruned-fp32.onnx']['latency_ms']['p50']:.3f} ms.", ""]
    return "\n".join(lines + ["<!-- compress:end -->"]) + "\n"


def write_results_md(section: str, path: Path = ROOT / "benchmarks/RESULTS.md") -> None:
    """Replace this benchmark's section of RESULTS.md (between its markers), or append it."""
    text = path.read_text() if path.exists() else "# Benchmark results\n\n"
    start, end = text.find("<!-- compress:start -->"), text.find("<!-- compress:end -->")
    if start >= 0 and end > start:
        text = text[:start] + section + text[end + len("<!-- compress:end -->\n"):]
    else:
        text = text.rstrip("\n") + "\n\n" + section
    path.write_text(text)


if __name__ == "__main__":
    raise SystemExit(main())
