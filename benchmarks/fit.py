"""``make bench-fit``: the default student vs a small hand grid vs ``edgekd build --fit``, per device.

Four (data, target) pairs: FSDD speech on ``stm32h7a3`` and ``esp32-s3`` (INT8 TFLite, TFLite
Micro), CIFAR-10 JPEGs on ``raspberry-pi-4`` and ``pixel-4``. For each pair:

1. **default**: a full build of the benchmark config's student against the stock profile. Its
   deployable model's predicted latency upper bound and peak RAM set the pair's budgets:
   ``--tighten`` (default 0.6) times each, so the default student misses both by construction.
   The tight profile keeps only the device budgets (latency, peak RAM, model bytes): the
   accuracy budgets cannot be screened before training, and accuracy is reported side by side.
   The default build is then re-judged against the tight profile (``edgekd check``).
2. **grid**: one build per hand-grid student (smaller widths of the same family), each with the
   default's distillation epochs and the default's trained teacher loaded, not retrained; the
   best val top-1 among those that meet the tight budgets is reported.
3. **search**: ``edgekd build --fit`` against the tight profile, with ``budget_minutes`` set to
   half the default build's measured wall time and the default's distillation epochs for the
   winner; on CIFAR-10 the search may also shrink the input to 24x24 (``SEARCH_EXTRA``).

Every side's wall time is reported and stays within the default build's (which includes the
teacher's training): the same time budget. An earlier run gave the grid and the winner half the
default's epochs: a 2.7k-parameter DS-CNN is still at 26-35% after 6 epochs where the default
(width 0.75) reaches 97% after 12, so the comparison measured the schedule, not the student.

Every figure comes from the builds' own report.json (test top-1 on the held-out test split; val
top-1 is the best epoch of the student's training). Resumable: each finished build is recorded
in ``benchmarks/results/fit.json`` and skipped on a rerun; a killed build resumes (``--resume``).

Usage: ``python benchmarks/fit.py [--pairs fsdd:stm32h7a3,...] [--tighten 0.6] [--render-only]``
"""

from __future__ import annotations

import argparse
import json
import threading
import time
from pathlib import Path
from typing import Any

import yaml
from vision_common import ROOT, PrintReporter, atomic, machine, pct, write_section

from edgekd import api
from edgekd.errors import BadInputError
from edgekd.targets import load_target

OUT = ROOT / "benchmarks" / "results" / "fit.json"
WORK = ROOT / "benchmarks" / "work" / "fit"
SPEECH = ["quantize.enabled=true", "teacher.epochs=15", "distill.epochs=12", "distill.train_baseline=false"]
# CIFAR-10: 500 images per class (5,000 for train+val), no augmentation so the teacher's logits are
# cached once; the pretrained resnet56 teacher is not trained.
VISION = ["quantize.enabled=true", "data.limit_per_class=500", "data.augment.random_crop_padding=0",
          "data.augment.horizontal_flip=false", "distill.epochs=8", "distill.train_baseline=false"]
# What the search may change besides the student: CIFAR-10's 32x32 inputs may shrink to 24x24 (the hand
# grid keeps 32x32, as a user picking widths by hand would); FSDD's log-mel inputs are not resizable.
SEARCH_EXTRA = {"vision.yaml": ["student.search.space.resolutions=[[32,32],[24,24]]"], "speech.yaml": []}
PAIRS = {
    "fsdd:stm32h7a3": ("speech.yaml", SPEECH, "ds-cnn", [0.25, 0.5]),
    "fsdd:esp32-s3": ("speech.yaml", SPEECH, "ds-cnn", [0.25, 0.5]),
    "cifar10:raspberry-pi-4": ("vision.yaml", VISION, "mobilenetv2", [0.25, 0.35]),
    "cifar10:pixel-4": ("vision.yaml", VISION, "mobilenetv2", [0.25, 0.35]),
}


def main() -> None:
    """Run every pair (skipping finished builds) and write the results."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", default=",".join(PAIRS), help="comma-separated data:target pairs")
    parser.add_argument("--tighten", type=float, default=0.6, help="budget = this x the default student's figure")
    parser.add_argument("--render-only", action="store_true", help="rewrite RESULTS.md from the existing JSON")
    parser.add_argument("--note", default=None, help="the reading shown under the table (kept in the JSON)")
    args = parser.parse_args()
    results = json.loads(OUT.read_text()) if OUT.exists() else {"benchmark": "fit", "pairs": {}}
    results["machine"] = machine()
    if args.note is not None:  # kept in the JSON, so a later run's render keeps the reading
        results["note"] = args.note
        save(results)
    if not args.render_only:
        for pair in args.pairs.split(","):
            run_pair(pair, results, args.tighten)
    write_section("fit", render(results))
    print("rewrote the fit section of benchmarks/RESULTS.md" if args.render_only else f"wrote {OUT}")


def run_pair(pair: str, results: dict[str, Any], tighten: float) -> None:
    """The three sides of one pair; each finished build is saved before the next starts."""
    config_name, overrides, student, widths = PAIRS[pair]
    config = ROOT / "benchmarks" / config_name
    _data, target = pair.split(":")
    entry = results["pairs"].setdefault(pair, {"config": f"benchmarks/{config_name}", "overrides": overrides})
    entry["teacher"] = "trained by the default build; the grid and the search load its weights (torch teacher)" \
        if config_name == "speech.yaml" else "pretrained resnet56, loaded by every build"
    folder = WORK / pair.replace(":", "-")
    if "default" not in entry:
        entry["default"] = build_side(config, target, folder / "default", overrides)
        save(results)
    tight = tight_profile(folder, target, entry["default"], tighten)
    reused = reuse_teacher(config, folder)
    if reused != config:  # the teacher.* overrides belonged to the scratch teacher
        config, overrides = reused, [o for o in overrides if not o.startswith("teacher.")]
    entry["budgets"] = load_target(str(tight)).budgets.model_dump(mode="json")
    verdict = api.check(folder / "default" / "report.json", target=str(tight))
    entry["default"]["tight_verdict"] = verdict["passed"]
    entry["default"]["tight_missed"] = [b["metric"] for b in verdict["budgets"] if not b["passed"]]
    epochs = _int_override(overrides, "distill.epochs")
    grid = entry.setdefault("grid", {})
    for width in widths:
        key = f"{student}(width={width})"
        if key not in grid:
            grid[key] = build_side(config, str(tight), folder / f"grid-{width}", overrides + [
                f"student.name={student}", f"student.options={{width: {width}}}", f"distill.epochs={epochs}"])
            save(results)
    if "search" not in entry:
        minutes = max(1.0, entry["default"]["wall_s"] / 120)
        entry["search"] = build_side(config, str(tight), folder / "search", overrides + [
            "student.search.enabled=true", f"student.search.budget_minutes={minutes:.1f}",
            "student.search.trial_epochs=2", f"distill.epochs={epochs}", *SEARCH_EXTRA[config_name]])
        save(results)


def build_side(config: Path, target: str, out: Path, overrides: list[str]) -> dict[str, Any]:
    """One full build (resumed if a previous run was killed); the figures the comparison needs."""
    print(f"### {out.relative_to(WORK)}: {target} {' '.join(overrides)}", flush=True)
    resume = (out / ".edgekd-work").exists()
    with ElapsedClock(out.parent / f"{out.name}.elapsed_s", resume) as clock:
        try:
            result = api.build(config, target=target, out_dir=out, overrides=overrides, resume=resume,
                               reporter=PrintReporter())
        except BadInputError as exc:
            return {"error": exc.one_line(), "wall_s": clock.total()}
    return summarize(result.report, clock.total())


class ElapsedClock:
    """A build's wall time across interruptions: every process adds its own time to a file.

    The file is rewritten every few seconds while the build runs, so a killed build's time is
    kept (to within that interval) and a resumed build reports the whole, not its last process
    (an earlier run recorded 307 s for a resumed 40-minute build and derived the search budget from it).
    """

    EVERY_S = 10.0

    def __init__(self, path: Path, resume: bool):
        self.path = path
        self.before = float(path.read_text()) if resume and path.exists() else 0.0
        self.started = time.perf_counter()
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._tick, daemon=True)

    def total(self) -> float:
        return self.before + time.perf_counter() - self.started

    def _tick(self) -> None:
        while not self.stop.wait(self.EVERY_S):
            atomic.write_text(self.path, f"{self.total():.1f}")

    def __enter__(self) -> ElapsedClock:
        atomic.write_text(self.path, f"{self.before:.1f}")
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join()
        atomic.write_text(self.path, f"{self.total():.1f}")


def summarize(report: dict[str, Any], wall_s: float) -> dict[str, Any]:
    """Student, accuracy, predicted latency and memory of the deployable model, the verdict, wall time."""
    models = {m["name"]: m for m in report["models"]}
    chosen = models.get(report["chosen"] or "", {})
    budgets = {b["metric"]: b for b in report["budgets"]}
    history = (report.get("training") or {}).get("student_history") or {}
    search = report.get("search")
    return {"student": report["config"]["student"]["name"] if not search else search["chosen"]["key"],
            "options": report["config"]["student"]["options"] if not search else search["chosen"]["options"],
            "macs": chosen.get("macs"), "params": chosen.get("params"),
            "test_top1": (models.get("student", {}).get("accuracy") or {}).get("top1"),
            "deployable_test_top1": (chosen.get("accuracy") or {}).get("top1"),
            "val_top1": history.get("kept_val_top1"),
            "predicted_latency_ms": (chosen.get("latency_ms") or {}).get("predicted"),
            "peak_ram_bytes": (budgets.get("peak_ram_bytes") or budgets.get("peak_ram_bytes_vs_device_ram") or {})
            .get("value"),
            "model_bytes": chosen.get("size_bytes"), "passed": report["passed"],
            "missed": [b["metric"] for b in report["budgets"] if not b["passed"]],
            "search": None if not search else {k: search[k] for k in ("space_size", "feasible", "trials_run",
                                                                       "chosen_reason")},
            "wall_s": round(wall_s, 1)}


def reuse_teacher(config: Path, folder: Path) -> Path:
    """A scratch teacher is trained once, by the default build; the other sides load its saved weights.

    Every side would train the identical teacher (same seed, data and recipe); loading it keeps
    that cost out of the grid's and the search's wall time. The default's wall time includes it.
    """
    raw = yaml.safe_load(config.read_text(encoding="utf-8"))
    if raw["teacher"].get("kind") != "scratch-cnn":
        return config
    raw["teacher"] = {"kind": "torch", "factory": "benchmarks/models/scratch_cnn.py:make_model",
                      "factory_kwargs": {"in_channels": 1, "num_classes": 10, "width": raw["teacher"]["width"]},
                      "weights": str(folder / "default" / "artifacts" / "teacher.pt")}
    path = folder / f"reused-teacher-{config.name}"
    atomic.write_text(path, yaml.safe_dump(raw, sort_keys=False))
    return path


def tight_profile(folder: Path, target: str, default: dict[str, Any], tighten: float) -> Path:
    """The stock profile with only device budgets, at ``tighten`` x the default student's figures."""
    data = load_target(target).model_dump(mode="json")
    data["name"] = f"{target}-tight"
    data["budgets"] = {"max_latency_p90_ms": round(tighten * default["predicted_latency_ms"]["high"], 4),
                       "max_peak_ram_bytes": int(tighten * default["peak_ram_bytes"]),
                       "max_model_bytes": data["budgets"].get("max_model_bytes")}
    path = folder / f"{target}-tight.yaml"
    atomic.write_text(path, yaml.safe_dump(data, sort_keys=False))
    return path


def save(results: dict[str, Any]) -> None:
    """Write the results so far (a killed run resumes from them)."""
    atomic.write_json(OUT, results)


def _int_override(overrides: list[str], key: str) -> int:
    return int(next(o.split("=", 1)[1] for o in overrides if o.startswith(key + "=")))


def render(results: dict[str, Any]) -> str:
    """The fit section of RESULTS.md."""
    lines = ["## Fit the student to the device (`make bench-fit`)", "",
             "Budgets: 0.6 x the default student's predicted latency upper bound and peak RAM on each target "
             "(so the default misses by construction). test top-1 on the held-out test split; val top-1: best "
             "epoch of the student's distillation. Wall time: the whole build (teacher, training, export, "
             "measurement); the grid's is the sum of its builds.", "",
             "| data:target | side | student | MACs | val top-1 | test top-1 | predicted ms (high) | peak RAM "
             "| meets budgets | wall s |", "|---|---|---|---:|---:|---:|---:|---:|---|---:|"]
    for pair in PAIRS:
        entry = results.get("pairs", {}).get(pair, {})
        sides = [("default", entry.get("default"))]
        _config, _overrides, student, widths = PAIRS[pair]
        sides += [(f"grid {student}(width={w})", (entry.get("grid") or {}).get(f"{student}(width={w})"))
                  for w in widths]
        sides += [("search", entry.get("search"))]
        for side, row in sides:
            if not row:
                lines.append(f"| {pair} | {side} | (not run yet) | | | | | | | |")
                continue
            if "error" in row:
                lines.append(f"| {pair} | {side} | error: {row['error']} | | | | | | | {row['wall_s']:.0f} |")
                continue
            pred = row.get("predicted_latency_ms") or {}
            verdict = row.get("tight_verdict", row["passed"]) if side == "default" else row["passed"]
            missed = row.get("tight_missed", row["missed"]) if side == "default" else row["missed"]
            lines.append(f"| {pair} | {side} | {row['student']} | {row['macs'] or 0:,} | {pct(row['val_top1'])} "
                         f"| {pct(row['test_top1'])} | {pred.get('high', 0):.3g} | {row['peak_ram_bytes'] or 0:,.0f} "
                         f"| {'yes' if verdict else 'no: ' + ', '.join(missed)} | {row['wall_s']:.0f} |")
    lines += ["", results.get("note") or "Reading: written when every pair has finished."]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
