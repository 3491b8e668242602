"""``make bench-speech``: distil a log-mel CNN teacher into DS-CNN on FSDD, two splits.

For each split (official: index 0-4 is test; held-out speaker: every clip of one speaker
is test) the build's teacher stage trains the wider CNN teacher and the distill stage
trains the KD student and the hard-label baseline (same student, same budget); all are
scored on test/. On the official split it also times a KD epoch with the soft-label cache
against running the teacher at every step. Writes ``benchmarks/results/speech.json`` and
the speech section of ``benchmarks/RESULTS.md``.

``--config benchmarks/speech-aug.yaml`` runs the augmented recipe (time shift, noise, SpecAugment;
the teacher runs on every augmented batch, so no cache timing) and writes ``results/speech-aug.json``
and its own section; ``--split held-out`` runs only the held-out-speaker split.

Each split trains in ``benchmarks/work/<out stem>/<split>``, keyed by the config and overrides: rerunning
a killed run resumes every model at its last epoch checkpoint (``--fresh`` discards them).

Each split's results keep every model's test predictions and compare KD with the baseline clip by clip
(McNemar). ``--val-speaker`` validates the held-out split on another speaker instead of a random val carve
of the training speakers' clips (96-99% for every student, near its ceiling); tried with bench-kd-sweep, one
speaker's val picked noisy early epochs (RESULTS.md). ``make bench-speech-loso`` judges over speakers instead.

Usage: ``python benchmarks/speech.py [--config FILE] [--split both|official|held-out] [--set key=value ...]
[--speaker theo] [--val-speaker george] [--no-section] [--fresh]``
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from curve import claim_work_dir, run_key
from vision_common import (
    ROOT,
    atomic,
    bench_parser,
    cache_speedup,
    distill_run,
    machine,
    mmacs,
    paired,
    paired_sentence,
    pct,
    predictions,
    ratios,
    rerender,
    save_student,
    write_section,
)

CONFIG = ROOT / "benchmarks" / "speech.yaml"
STUDENT = ROOT / "benchmarks" / "work" / "speech-student.pt"  # `make bench-compress` starts from it


def main() -> None:
    """Run both splits and write the results."""
    parser = bench_parser(__doc__, None)
    parser.add_argument("--config", type=Path, default=CONFIG, help="the build config (default benchmarks/speech.yaml)")
    parser.add_argument("--split", choices=("both", "official", "held-out"), default="both")
    parser.add_argument("--speaker", default="theo", help="speaker held out for the speaker-shift split")
    parser.add_argument("--val-speaker", help="held-out split: validate (pick each model's best epoch) on this "
                        "speaker instead of a random 10%% of the training speakers' clips")
    parser.add_argument("--no-section", action="store_true", help="write the results JSON only (runs that "
                        "benchmarks/kd_seeds.py tabulates together)")
    parser.add_argument("--fresh", action="store_true", help="discard the checkpoints of an earlier run")
    args = parser.parse_args()
    args.out = args.out or ROOT / "benchmarks" / "results" / f"{args.config.stem}.json"
    stem = args.out.stem  # the RESULTS.md section: a run with its own --out leaves the config's section alone
    if args.render_only:
        rerender(args.out, args.note, stem, render)
        return
    started = time.perf_counter()
    splits = {"official (index 0-4 test)": [],
              f"held-out speaker ({args.speaker})": ["data.split.field=speaker", f"data.split.test=[{args.speaker}]"]
              + ([f"data.split.val=[{args.val_speaker}]"] if args.val_speaker else [])}
    if args.split != "both":
        splits = dict([list(splits.items())[0 if args.split == "official" else 1]])
    results = {"benchmark": "speech", "dataset": "FSDD (Free Spoken Digit Dataset, CC BY-SA 4.0, Z. Jackson et al.)",
               "config": str(args.config.resolve().relative_to(ROOT)), "overrides": args.overrides,
               "machine": machine(), "splits": {}}
    for i, (name, extra) in enumerate(splits.items()):
        print(f"### split: {name}", flush=True)
        overrides = [*extra, *args.overrides]
        work = ROOT / "benchmarks" / "work" / stem / ("official" if name.startswith("official") else "held-out")
        resuming = claim_work_dir(work, run_key(args.config, overrides, {}), args.fresh)
        print(f"{'resuming' if resuming else 'new run'} in {work}", flush=True)
        run = distill_run(args.config, overrides, work=work)
        data = run["ctx"].data
        entry = {"rows": run["rows"], "ratios": ratios(run["rows"]), "seconds": run["seconds"],
                 "samples": data.summary()["samples"], "recipe": run["state"].distill_method,
                 "best_epochs": {k: v["best_epoch"] for k, v in run["history"].items()},
                 "val_top1": {k: v["kept_val_top1"] for k, v in run["history"].items()},  # distill.keep
                 "test_pred": {a.role: predictions(a.model, data.test) for a in run["artifacts"]}}
        if {"student", "baseline"} <= entry["test_pred"].keys():
            entry["paired_kd_vs_baseline"] = paired(entry["test_pred"]["student"], entry["test_pred"]["baseline"],
                                                    data.test.y.tolist())
        if i == 0:
            teacher = next(a for a in run["artifacts"] if a.role == "teacher")
            if data.train.augment is None:  # an augmented split holds waveforms: nothing to cache
                entry["soft_label_cache"] = cache_speedup(run["ctx"], teacher.model)
            if args.config == CONFIG and name.startswith("official"):
                save_student(run, STUDENT)
            results["input_shape"] = list(data.input_shape)
            results["preprocessing"] = data.preprocessing
        results["splits"][name] = entry
        print(json.dumps({k: v for k, v in entry.items() if k not in ("rows", "test_pred")}, indent=1, default=str),
              flush=True)
    results["wall_s"] = time.perf_counter() - started
    results["note"] = args.note
    atomic.write_json(args.out, results)
    if not args.no_section:
        write_section(stem, render(results))
    print(f"wrote {args.out} ({results['wall_s']:.0f} s)")


def render(results: dict) -> str:
    """The RESULTS.md section."""
    m = results["machine"]
    augmented = not results["config"].endswith("/speech.yaml")
    title = "Speech: FSDD, DS-CNN student from a log-mel CNN teacher"
    lines = [f"## {title} (`make bench-speech`{', config ' + results['config'] if augmented else ''})", "",
             f"{m['date']} · {m['cpu']} · {m['cores']} cores (shared) · torch {m['torch']} · "
             f"wall {results['wall_s'] / 60:.1f} min · config `{results['config']}`"
             + (f" with `{' '.join(results['overrides'])}`" if results["overrides"] else ""), "",
             "| split | model | test top-1 | MACs | params |", "|---|---|---|---|---|"]
    for split, entry in results["splits"].items():
        for role, label in (("teacher", "teacher (scratch CNN)"), ("student", "KD student"),
                            ("baseline", "same student, hard labels only")):
            r = entry["rows"].get(role)
            if r:
                lines.append(f"| {split} | {label} | {pct(r['top1'])} | {mmacs(r['macs'])} | {r['params']:,} |")
    lines += ["", "| split | student/teacher top-1 | student/teacher MACs | KD − baseline | target met |",
              "|---|---|---|---|---|"]
    for split, entry in results["splits"].items():
        q = entry["ratios"]
        gain = q.get("kd_gain_over_baseline")
        lines.append(f"| {split} | {pct(q['student_over_teacher_top1'])} | {pct(q['student_over_teacher_macs'])} | "
                     f"{'–' if gain is None else f'{100 * gain:+.2f} pts'} | {'yes' if q['meets_target'] else 'no'} |")
    for split, entry in results["splits"].items():
        v = entry.get("paired_kd_vs_baseline")
        if v:
            lines += ["", paired_sentence(f"{split}, KD − baseline", v)]
        c = entry.get("soft_label_cache")
        if c:
            lines += ["", f"Soft-label cache: a KD epoch takes {c['cached']['epoch_s']:.1f} s with cached teacher "
                          f"logits vs {c['per_step']['epoch_s']:.1f} s running the teacher every step "
                          f"(**{c['epoch_speedup']:.2f}×**; filling the cache once: {c['cached']['setup_s']:.1f} s)."]
    aug = (results.get("preprocessing") or {}).get("train_augment")
    if aug:
        lines += ["", f"Train augmentation (teacher, KD student and baseline alike): {aug}."]
    if results.get("note"):
        lines += ["", results["note"]]
    lines += ["", "Target (≥ 97% of teacher top-1 at ≤ 25% of its MACs, above the baseline) reported as measured. "
                  "Data: FSDD, CC BY-SA 4.0 (Z. Jackson and contributors)."]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
