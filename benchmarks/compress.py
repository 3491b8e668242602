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

``--only byo-speech`` (not part of the default run; pass ``--out``/``--work`` of its own): the same
engines on a student distilled from material edgekd did not make, the Keras DS-CNN teacher of
``make bench-byo-teachers`` (phase A) on TensorFlow MFCCs, set up as ``make bench-byo`` gives it
(``benchmarks/byo/distill.py``), trained here for ``--byo-epochs``.

For each: test top-1 and host latency of FP32 ONNX, ORT static INT8, accuracy-aware INT8,
FP32 TFLite and TFLite INT8, latency measured interleaved (A B A B ...) in one loop, so the
INT8/FP32 ratios are measured under the same load: each turn is a burst of ``STEADY_BURST`` calls of one
model, its first untimed (steady-state latency, as a device benchmark runs one model back to back;
one call per turn made every call cold and pulled the ratios towards 1), timed with the
calling thread's CPU clock when ``--threads 1`` (the runtimes run there, and time the OS gives
other processes on this shared host is not counted; measured equal to wall time, 2026-11-30).
Writes ``benchmarks/results/compress.json``.
Resumable: each finished task is saved to ``--work``/partial.json, and a rerun with the same
arguments keeps it (delete that file to measure again).
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

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
sys.path.insert(0, str(ROOT))

from edgekd.config import load_config  # noqa: E402
from edgekd.progress import NullReporter  # noqa: E402
from edgekd.report.build_report import cpu_features, cpu_model  # noqa: E402

MAX_DROP = 0.005  # target: INT8 top-1 drop ≤ 0.5 point
MAX_RATIO = 0.7  # target: INT8 host latency ≤ 0.7x FP32
TASKS = ("embedded", "vision", "speech")
BYO = {"byo-speech": "ds_cnn"}  # opt-in tasks (--only): a phase-A teacher of make bench-byo-teachers
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


def prune_overrides(recovery: int, lr: float) -> list[str]:
    """Half the MACs, then ``recovery`` epochs of KD fine-tuning; ONNX and TFLite exports."""
    return ["prune.enabled=true", "prune.target_macs_ratio=0.5", f"prune.recovery_epochs={recovery}",
            f"prune.lr={lr}", "export.formats=[onnx,tflite]"]


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
    # A saved student needs its teacher only for KD recovery; its test top-1 may be on file (train_here).
    known = _saved_rows(student_file) if saved and not prune else None
    stages = [*([] if known else ["teacher"]), "distill", *(["prune"] if prune else [])]
    for stage in stages:
        ctx.reporter.stage(f"{name}: {stage}")
        if stage == "distill" and saved:
            state = state.add(saved_student(saved, student_file, data))
            continue
        state = run_stages((stage,), ctx, state)
    by_name = {a.name: a for a in state.artifacts}
    result = {"data": ctx.data.summary(),
              "teacher": known["teacher"]["notes"] if known else by_name["teacher"].notes,
              "config": {"overrides": overrides, "train_per_class": train_limit, "test_per_class": test_limit},
              "train_seconds": round(time.perf_counter() - started, 1)}
    x_test, y_test = ctx.data.test.numpy()
    # The teacher eats its own inputs when it has a front end of its own (a byo teacher's MFCCs).
    result["teacher_test_top1"] = (known["teacher"]["top1"] if known else
                                   _torch_top1(by_name["teacher"].model, ctx.data.test.for_teacher().numpy(), y_test))
    result["student"] = compare_formats(by_name["student"], ctx, work / name / "student", threads)
    if prune:
        pruned = by_name["student-pruned"]
        before = result["student"]["models"]["fp32.onnx"]["top1"]
        result["pruning"] = {**pruned.metrics["prune"], "test_top1_before": before}
        result["pruned_student"] = compare_formats(pruned, ctx, work / name / "pruned", threads,
                                                   unpruned=by_name["student"])
    return result


def _saved_rows(student_file: Path) -> dict | None:
    """Test top-1 of teacher and student recorded when ``train_here`` trained them (``<student>.json``)."""
    side = student_file.with_suffix(".json")
    return json.loads(side.read_text())["rows"] if side.exists() else None


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
    """FP32 ONNX/TFLite and every INT8 engine of one torch student: top-1, interleaved latency, time to build."""
    from int8_engines import build_variants  # same folder (sys.path[0] is benchmarks/)
    from onnx_ops import op_breakdown

    from edgekd.export.onnx import export_onnx
    from edgekd.measure.latency import STEADY_BURST, interleaved
    from edgekd.runtimes import open_runner

    built = build_variants(student, ctx, folder, MAX_DROP, threads)
    paths = dict(built["paths"])
    if unpruned is not None:
        paths["unpruned-fp32.onnx"] = folder / "unpruned-fp32.onnx"
        export_onnx(unpruned.model, student.input_shape, paths["unpruned-fp32.onnx"])
    x_test, y_test = ctx.data.test.numpy()
    runners = {k: open_runner(p, k.rsplit(".", 1)[1], threads) for k, p in paths.items()}
    models = {}
    for key, runner in runners.items():
        logits = runner.predict(x_test)
        models[key] = {"top1": float((logits.argmax(1) == y_test).mean()), "bytes": paths[key].stat().st_size,
                       "build_seconds": built["seconds"].get(key)}
    sample = x_test[:1]
    prepared = {k: r.prepare(sample) for k, r in runners.items()}
    ctx.reporter.stage(f"  latency: {len(runners)} models interleaved")
    clock = latency_clock(threads)
    stats = interleaved({k: (lambda r=r, p=prepared[k]: r.run_once(p)) for k, r in runners.items()}, mode="full",
                        burst=STEADY_BURST, clock=CLOCKS[clock])
    for key in models:
        models[key]["latency_ms"] = {q: stats[key][q] for q in ("p50", "p90") if q in stats[key]}
        base = "fp32.tflite" if key.endswith("tflite") else "fp32.onnx"
        models[key]["top1_drop_vs_fp32"] = models[base]["top1"] - models[key]["top1"]
        models[key]["p50_ratio_vs_fp32"] = stats[key]["p50"] / stats[base]["p50"]
    ctx.reporter.stage("  ONNX Runtime per-node profile: fp32.onnx and int8-ort.onnx side by side")
    onnx_ops = op_breakdown({k: paths[k] for k in ("fp32.onnx", "int8-ort.onnx")}, sample.astype("float32"), threads)
    return {"params": student.params, "macs": student.macs, "threads": threads, "models": models,
            "int8_tuning": built["tuning"], "latency_runs": stats["fp32.onnx"].get("runs"),
            "latency_method": {"burst": STEADY_BURST, "clock": clock}, "onnx_op_us": onnx_ops}


CLOCKS = {"thread_cpu": time.thread_time_ns, "wall": time.perf_counter_ns}


def latency_clock(threads: int) -> str:
    """The calling thread's CPU clock for one-thread runtimes (they run on it); wall time otherwise."""
    return "thread_cpu" if threads == 1 else "wall"


def _torch_top1(model, x, y) -> float:
    import torch

    from edgekd.distill.trainer import predict_logits

    return float((predict_logits(model, torch.from_numpy(x)).argmax(1).numpy() == y).mean())


def task_recipe(task: str, args) -> tuple[list[str], Path | None, Path | None]:
    """(overrides, config file, saved student) of one task: the benchmark's student, or one trained here."""
    prune = task in PRUNED and args.prune
    if task in BYO:
        return byo_overrides(BYO[task], args.byo_epochs), None, None
    if task == "embedded":  # the default build (`edgekd build` with no config): quick to train here
        overrides = prune_overrides(args.recovery_epochs, lr=0.002) if prune else ["export.formats=[onnx,tflite]"]
        return overrides, None, None
    # SGD (as the vision benchmark trains) recovers at a higher learning rate than the AdamW default.
    overrides = prune_overrides(args.recovery_epochs, lr=0.01) if prune else ["export.formats=[onnx,tflite]"]
    student = (train_here(task, args) if args.train_here
               else ROOT / "benchmarks" / "work" / f"{task}-student.pt")
    return overrides, ROOT / "benchmarks" / f"{task}.yaml", student


def byo_overrides(teacher: str, epochs: int) -> list[str]:
    """``make bench-byo``'s setup of a phase-A Keras teacher (its file, its own front end), ``epochs`` of KD."""
    sys.path.insert(0, str(ROOT / "benchmarks" / "byo"))
    from common import WORK
    from distill import FILES, overrides  # benchmarks/byo/distill.py

    if not (WORK / teacher / FILES["keras"]).is_file():
        raise SystemExit(f"error: {WORK / teacher / FILES['keras']} does not exist; run "
                         f"`make bench-byo-teachers BYO_ARGS=\"--only {teacher}\"` first")
    return [*overrides(teacher, "keras", WORK, epochs), "export.formats=[onnx,tflite]"]


# Bounded budgets for --train-here. Vision without crop/flip: the teacher's soft labels are then computed
# once and cached instead of running resnet56 at every step (about 4x cheaper on a shared CPU).
TRAIN_HERE = {"vision": lambda a: [f"distill.epochs={a.vision_epochs}", "data.augment.random_crop_padding=0",
                                   "data.augment.horizontal_flip=false"],
              "speech": lambda a: [f"teacher.epochs={a.speech_teacher_epochs}", f"distill.epochs={a.speech_epochs}"]}


def train_here(task: str, args) -> Path:
    """The student of ``make bench-vision`` / ``make bench-speech`` (same config), trained here on a bounded
    budget and kept in ``--work`` (reused by later runs; delete the file to retrain)."""
    from vision_common import distill_run, save_student  # same folder (sys.path[0] is benchmarks/)

    from edgekd import atomic

    path = Path(args.work) / f"{task}-student.pt"
    if not path.exists():
        overrides = [*TRAIN_HERE[task](args), "distill.train_baseline=false"]
        run = distill_run(ROOT / "benchmarks" / f"{task}.yaml", overrides, reporter=_Say())
        save_student(run, path)
        atomic.write_json(path.with_suffix(".json"), {"overrides": overrides, "seconds": round(run["seconds"], 1),
                                                      "rows": run["rows"]})
    return path


def verdicts(task: dict) -> dict:
    """Targets met or not, on the best INT8 runtime (smallest latency ratio among variants within the drop)."""
    models = task["student"]["models"]
    int8 = {k: m for k, m in models.items() if k.startswith("int8")}
    within = {k: m for k, m in int8.items() if m["top1_drop_vs_fp32"] <= MAX_DROP} or int8
    best = min(within, key=lambda k: within[k]["p50_ratio_vs_fp32"])
    return {"best_int8_runtime": best, "best_ratio": int8[best]["p50_ratio_vs_fp32"],
            "ratio_target_met": int8[best]["p50_ratio_vs_fp32"] <= MAX_RATIO,
            "drop_target_met": {k: m["top1_drop_vs_fp32"] <= MAX_DROP for k, m in int8.items()}}


def _run_args(args) -> dict:
    """The arguments a finished task's figures depend on (a rerun with others starts the task again)."""
    return {k: v for k, v in vars(args).items() if k not in ("out", "only", "results_md")}


def _finished_tasks(work: Path, args) -> dict:
    """Tasks a previous (killed) run finished with the same arguments: ``work/partial.json``."""
    try:
        saved = json.loads((work / "partial.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return dict(saved.get("tasks", {})) if saved.get("args") == _run_args(args) else {}


def _save_partial(work: Path, args, done: dict) -> None:
    """Each finished task is saved at once: a killed run resumes after it (hours per full run)."""
    from edgekd import atomic

    work.mkdir(parents=True, exist_ok=True)
    atomic.write_text(work / "partial.json", json.dumps({"args": _run_args(args), "tasks": done}, default=str))


def main(argv: list[str] | None = None) -> int:
    """Run both tasks and write the results JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(ROOT / "benchmarks/results/compress.json"))
    parser.add_argument("--work", default=str(ROOT / "benchmarks/work/compress"))
    parser.add_argument("--vision-epochs", type=int, default=4, help="--train-here: KD epochs of the vision student")
    parser.add_argument("--recovery-epochs", type=int, default=4)
    parser.add_argument("--speech-epochs", type=int, default=10, help="--train-here: KD epochs of the speech student")
    parser.add_argument("--speech-teacher-epochs", type=int, default=8, help="--train-here: speech teacher epochs")
    parser.add_argument("--no-prune", dest="prune", action="store_false",
                        help="skip pruning + KD recovery (INT8 engines only)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--train-per-class", type=int, default=None, help="bounded budget: train samples per class")
    parser.add_argument("--test-per-class", type=int, default=None, help="bounded budget: test samples per class")
    parser.add_argument("--only", choices=(*TASKS, *BYO), default=None)
    parser.add_argument("--byo-epochs", type=int, default=30, help="--only byo-speech: KD epochs of its student")
    parser.add_argument("--train-here", action="store_true",
                        help="train the vision and speech students here with their benchmarks' configs and the "
                             "--*-epochs budgets (kept in --work, reused next time) instead of starting from the KD "
                             "students `make bench-vision` and `make bench-speech` saved in benchmarks/work/")
    parser.add_argument("--no-results-md", dest="results_md", action="store_false",
                        help="do not update benchmarks/RESULTS.md")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    work = Path(args.work)
    out = Path(args.out)
    results = {"command": "make bench-compress  # " + " ".join(sys.argv), "date_utc":
               datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
               "machine": {"cpu": cpu_model(), "cpu_features": cpu_features(), "cores": os.cpu_count(),
                           "python": platform.python_version()},
               "targets": {"max_int8_top1_drop": MAX_DROP, "max_int8_latency_ratio": MAX_RATIO}}
    done = _finished_tasks(work, args)
    for task in (*TASKS, *BYO):
        if args.only == task or (args.only is None and task in TASKS):
            if task in done:  # a killed run finished this task with the same arguments: keep it
                results[task] = done[task]
                print(f"{task}: kept from {work / 'partial.json'}", file=sys.stderr)
                continue
            overrides, config, student_file = task_recipe(task, args)
            results[task] = run_task(task, overrides, work, prune=task in PRUNED and args.prune, threads=args.threads,
                                     train_limit=args.train_per_class, test_limit=args.test_per_class,
                                     config=config, student_file=student_file)
            results[task]["verdict"] = verdicts(results[task])
            done[task] = results[task]
            _save_partial(work, args, done)
    results["seconds"] = round(time.perf_counter() - started, 1)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2, default=str) + "\n")
    if args.results_md:
        from compress_report import render_markdown, write_results_md  # same folder

        write_results_md(out.stem, render_markdown(results, out.stem))
    print(json.dumps({k: results[k].get("verdict") for k in (*TASKS, *BYO) if k in results}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
