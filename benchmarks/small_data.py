"""``make bench-small-data``: does a small image folder with default settings end above chance?

A newcomer's first dataset (issue 18): 3 classes x 100 real photos (the first 100 CIFAR-10 JPEGs
of airplane, automobile and bird from ``../shared/data``), an ``image_folder`` config with nothing
but ``root``, default settings, target raspberry-pi-4. Two full builds through ``edgekd.build``:

* **auto** — the defaults: ``batch_size: auto`` (>= 20 optimizer steps per epoch);
* **fixed** — the old defaults, ``distill.batch_size=128`` and ``teacher.batch_size=64`` set
  explicitly (2 and 4 steps per epoch on 210 training images).

For each: the effective batch sizes, the best val top-1 per trained model, the deployable model's
test top-1, the better-than-chance threshold of the exact binomial test, what ended at chance and
whether the gate passed. Writes ``benchmarks/results/small_data.json`` and its RESULTS.md section.

Usage: ``python benchmarks/small_data.py [--render-only] [--note TEXT]``
"""

from __future__ import annotations

import argparse
import json
import time

from vision_common import ROOT, PrintReporter, atomic, machine, pct, rerender, write_section

import edgekd

DATA = ROOT.parent / "shared" / "data" / "cifar10-jpg" / "train"
CLASSES = ("airplane", "automobile", "bird")
PER_CLASS = 100
WORK = ROOT / "benchmarks" / "work" / "small-data"
OUT = ROOT / "benchmarks" / "results" / "small_data.json"
RUNS = {"auto": [], "fixed": ["distill.batch_size=128", "teacher.batch_size=64"]}


def make_folder() -> str:
    """``WORK/images/<class>/NNNN.jpg``: links to the first ``PER_CLASS`` images of each class."""
    root = WORK / "images"
    for name in CLASSES:
        (root / name).mkdir(parents=True, exist_ok=True)
        for i in range(PER_CLASS):
            link, source = root / name / f"{i:04d}.jpg", DATA / name / f"{i:04d}.jpg"
            if not link.exists():
                link.symlink_to(source)
    return str(root)


def summarize(report: dict, seconds: float) -> dict:
    """What one build says about training on small data."""
    training = {k.removesuffix("_history"): {"batch_size": h["batch_size"], "steps_per_epoch": h["steps_per_epoch"],
                                             "batch_size_rule": h.get("batch_size_rule"),
                                             "best_val_top1": h["best_val_top1"],
                                             "val_top1": [e["val_top1"] for e in h["epochs"]],
                                             "chance": h.get("chance")}
                for k, h in report["training"].items() if h}
    chance = next(b for b in report["budgets"] if b["metric"] == "top1_above_chance")
    chosen = next(m for m in report["models"] if m["name"] == chance["model"])
    return {"seconds": round(seconds, 1), "samples": report["data"]["samples"], "training": training,
            "deployable": report["chosen"], "test_top1": chosen["accuracy"]["top1"],
            "test_chance_threshold": chance["limit"], "at_chance": report["at_chance"], "passed": report["passed"],
            "missed": [b["metric"] for b in report["budgets"] if not b["passed"]]}


def main() -> None:
    """Run both builds and write the results."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--render-only", action="store_true", help="re-render RESULTS.md from the JSON")
    parser.add_argument("--note", default="", help="a remark stored with the results")
    args = parser.parse_args()
    if args.render_only:
        rerender(OUT, args.note, "small-data", render)
        return
    root = make_folder()
    results = {"benchmark": "small-data", "dataset": f"CIFAR-10 JPEGs, {', '.join(CLASSES)} x {PER_CLASS}",
               "machine": machine(), "runs": {}}
    for name, overrides in RUNS.items():
        print(f"### {name}: {overrides or 'defaults'}", flush=True)
        started = time.perf_counter()
        result = edgekd.build(None, target="raspberry-pi-4", out_dir=WORK / f"run-{name}",
                              overrides=["data.kind=image_folder", f"data.root={root}", *overrides],
                              reporter=PrintReporter())
        results["runs"][name] = {"overrides": overrides, **summarize(result.report, time.perf_counter() - started)}
        print(json.dumps(results["runs"][name], indent=1, default=str), flush=True)
    results["note"] = args.note
    atomic.write_json(OUT, results)
    write_section("small-data", render(results))
    print(f"wrote {OUT}")


def render(results: dict) -> str:
    """The RESULTS.md section."""
    lines = ["## Small data: 3 classes x 100 images with default settings (`make bench-small-data`)", "",
             f"{results['dataset']} (real photos; {results['machine']['cpu']}, {results['machine']['date']}). "
             "Both runs are full `edgekd build`s on raspberry-pi-4; val and test are held out (stratified).", "",
             "| run | teacher batch (steps/epoch) | student batch (steps/epoch) | teacher best val | student best val "
             "| deployable test top-1 | better than chance needs | at chance | gate |",
             "|---|---:|---:|---:|---:|---:|---:|---|---|"]
    for name, run in results["runs"].items():
        t, s = run["training"]["teacher"], run["training"]["student"]
        at_chance = ", ".join(f"{r['model']} ({r['split']})" for r in run["at_chance"]) or "none"
        lines.append(f"| {name} | {t['batch_size']} ({t['steps_per_epoch']}) | {s['batch_size']} "
                     f"({s['steps_per_epoch']}) | {pct(t['best_val_top1'])} | {pct(s['best_val_top1'])} "
                     f"| {pct(run['test_top1'])} | {pct(run['test_chance_threshold'])} | {at_chance} "
                     f"| {'pass' if run['passed'] else 'FAIL: ' + ', '.join(run['missed'])} |")
    lines += ["", "Reading: with the old fixed batches a 210-image training split gives the student 2 optimizer "
              "steps per epoch; the `auto` rule gives at least 20. The chance threshold is the smallest top-1 an "
              "exact one-sided binomial test (5%) on the test split calls better than guessing the most "
              "frequent class; a model below it fails the `top1_above_chance` gate line and is never called "
              "deployable."]
    if results.get("note"):
        lines += ["", f"Note: {results['note']}"]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
