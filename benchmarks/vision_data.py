"""``make bench-vision-data``: the vision KD student's test top-1 against the training-set size, at equal compute.

bench-vision's KD recipe (``benchmarks/vision.yaml``: 20 epochs on the 9,000 training JPEGs the shared
CIFAR-10 copy has, 1,000 per class before the 10% val split) is rerun on the first 250 and 500 JPEGs
of each class (``benchmarks/vision-data{250,500}.yaml``) for 80 and 40 epochs: the same 180,000
training samples, so a gain from more data is not a gain from more steps. The 1,000-per-class point is
bench-vision's own run (``results/vision.json``). The test split (10,000 JPEGs) is the same for all.

The Makefile target trains the two students side by side (``vision.py --role student``, resumable);
this script then gathers the three points into ``results/vision-data.json`` and the ``vision-data``
section of RESULTS.md. Usage: ``python benchmarks/vision_data.py [--note TEXT]``.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

from vision_common import ROOT, atomic, load_config, pct, write_section

RESULTS = ROOT / "benchmarks" / "results"
POINTS = ((250, RESULTS / "vision-data250-student.json"), (500, RESULTS / "vision-data500-student.json"),
          (1000, RESULTS / "vision.json"))


def point(per_class: int, path: Path) -> dict:
    """One learning-curve point: train size, epochs and test top-1 (``None`` until the run is done)."""
    if not path.exists():
        return {"per_class": per_class, "source": path.name, "status": "not started", "student_top1": None,
                "teacher_top1": None}
    run = json.loads(path.read_text())
    curve = (run.get("curves") or {}).get("student") or {}
    last = curve[max(curve, key=int)] if curve else {}
    rows = run.get("rows") or {}
    status = run.get("status") or ("done" if "student" in rows else "running")  # vision.json predates "status"
    done = status == "done" and "student" in rows
    epochs = run.get("epochs") or load_config(ROOT / run["config"], run.get("overrides") or []).distill.epochs
    return {"per_class": per_class, "source": path.name, "status": status,
            "train_samples": (run.get("samples") or {}).get("train"), "epochs": epochs,
            "epochs_done": last.get("epoch"), "last_val_top1": last.get("val_top1"),
            "last_train_top1": last.get("train_top1"),
            "student_top1": rows["student"]["top1"] if done else None,
            "teacher_top1": rows["teacher"]["top1"] if done else None}


def gains_per_doubling(points: list[dict]) -> list[float]:
    """Test top-1 gained per doubling of the training set between consecutive finished points."""
    done = [p for p in points if p["student_top1"] is not None]
    return [(b["student_top1"] - a["student_top1"]) / math.log2(b["per_class"] / a["per_class"])
            for a, b in zip(done, done[1:])]


def render(results: dict) -> str:
    lines = ["## Vision KD: test top-1 against training-set size at equal compute (`make bench-vision-data`)", "",
             "bench-vision's KD recipe (MobileNetV2-0.5 from the pretrained resnet56) on the first N JPEGs of each "
             "class, epochs scaled so every run sees 180,000 training samples; test/ (10,000 JPEGs) for all.", "",
             "| JPEGs per class (train + val) | train samples | epochs | KD student test top-1 | /teacher top-1 | "
             "train top-1 (1,000 imgs, last epoch) | status |", "|---:|---:|---:|---:|---:|---:|---|"]
    for p in results["points"]:
        ratio = (p["student_top1"] / p["teacher_top1"]) if p["student_top1"] is not None else None
        status = p["status"] if p["status"] == "done" else f"{p['status']} ({p.get('epochs_done') or 0}/" \
                                                            f"{p.get('epochs') or '?'} epochs)"
        samples = f"{p['train_samples']:,}" if p.get("train_samples") else "–"
        lines.append(f"| {p['per_class']:,} | {samples} | {p.get('epochs') or '–'} | "
                     f"{pct(p['student_top1'])} | {pct(ratio)} | {pct(p.get('last_train_top1'))} | {status} |")
    gains = results["gain_per_doubling"]
    if gains:
        lines += ["", "Test top-1 gained per doubling of the data: "
                  + ", ".join(f"{100 * g:+.2f} pts" for g in gains) + "."]
    if results.get("note"):
        lines += ["", results["note"]]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--note", default=None, help="the reading shown under the table (kept for later renders)")
    args = parser.parse_args()
    out = RESULTS / "vision-data.json"
    note = args.note if args.note is not None else (json.loads(out.read_text()).get("note", "") if out.exists() else "")
    points = [point(n, path) for n, path in POINTS]
    results = {"benchmark": "vision-data", "points": points, "gain_per_doubling": gains_per_doubling(points),
               "note": note}
    atomic.write_json(out, results)
    write_section("vision-data", render(results))
    print(render(results))


if __name__ == "__main__":
    main()
