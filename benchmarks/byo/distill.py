"""Bring-your-own teachers, phase B (`make bench-byo`): distil each third-party-style teacher through edgekd.

Phase A (`make bench-byo-teachers`, ``teachers.py``) trained three Keras teachers the way their
authors would and scored them directly in TF/LiteRT. Here each is handed to ``edgekd build``
as a user would — once as the FP32 ``.tflite`` from TensorFlow's converter and once as the
``.keras`` file — with only the keys the teacher's own documentation would tell a user:

* ``resnet8``: ``teacher.input: {scale: 255}`` (raw 0..255 pixels); the student keeps the CIFAR
  mean/std normalisation at 32x32. MCU profile.
* ``mobilenet_v1_025_96``: ``teacher.input: {scale: 255, size: [96, 96], resample: tf}`` (its frames
  were made with ``tf.image.resize``); the student trains
  at 64x64 on [0, 1] (issue 11's README example). Phone profile.
* ``ds_cnn``: ``teacher.features`` = TensorFlow MFCCs (``preset: tensorflow-kws``, 40 mel bands,
  10 coefficients, 20-4000 Hz, peak normalisation); the student trains on log-mel of the same
  clips. FSDD's official split (index 0-4 test, 5-9 val, as the teacher's). MCU profile.

Each build runs in its own process (``edgekd build``, resumable: a killed run continues with
``--resume``; a finished one, with ``report.json``, is skipped). Per run the JSON records the exit
code, wall time, teacher top-1/ECE/MACs through edgekd against the direct figures of phase A, and
the deployable student's top-1, MACs and precision. Results: ``benchmarks/results/byo.json``.

Usage: ``python benchmarks/byo/distill.py [--teachers DIR] [--epochs N] [--only NAME ...]``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

from common import CIFAR, FSDD, ROOT, WORK, machine, read_json, rel, write_json

RESULTS = ROOT / "benchmarks" / "results" / "byo.json"
RESULTS_MD = ROOT / "benchmarks" / "RESULTS.md"
BEGIN, END = "<!-- byo:begin -->", "<!-- byo:end -->"
EDGEKD = [sys.executable, "-m", "edgekd.cli"]
CIFAR_NORM = "mean: [0.4914, 0.4822, 0.4465], std: [0.2470, 0.2435, 0.2616]"
TF_MFCC = "{preset: tensorflow-kws, type: mfcc, n_mels: 40, n_mfcc: 10, fmin: 20, fmax: 4000, peak_normalize: true}"
STUDENT_LOGMEL = "{preset: tensorflow-kws, type: logmel, n_mels: 40, fmin: 20, fmax: 4000, peak_normalize: true}"

SETUPS = {
    "ds_cnn": {
        "target": "stm32h7a3",
        "data": f"{{kind: audio_folder, root: '{FSDD}', layout: flat, "
                "label_pattern: '{label}_{speaker}_{index}.wav', "
                "sample_rate: 8000, clip_seconds: 1.0, "
                "split: {method: pattern, field: index, test: '0-4', val: '5-9'}, "
                f"features: {STUDENT_LOGMEL}, augment: {{time_shift_ms: 100}}}}",
        "teacher_features": TF_MFCC,
        "student": "{name: ds-cnn, options: {width: 0.35}}",
    },
    "resnet8": {
        "target": "stm32h7a3",
        "data": f"{{kind: image_folder, root: '{CIFAR / 'train'}', test_root: '{CIFAR / 'test'}', {CIFAR_NORM}, "
                "split: {val_fraction: 0.1}, augment: {random_crop_padding: 4, horizontal_flip: true}}",
        "teacher_input": "{scale: 255}",
        "student": "{name: mobilenetv2, options: {width: 0.25}}",
    },
    "mobilenet_v1_025_96": {
        "target": "pixel-8",
        "data": f"{{kind: image_folder, root: '{CIFAR / 'train'}', test_root: '{CIFAR / 'test'}', size: [64, 64], "
                "mean: [0, 0, 0], std: [1, 1, 1], split: {val_fraction: 0.1}, "
                "augment: {random_crop_padding: 8, horizontal_flip: true}}",
        "teacher_input": "{scale: 255, size: [96, 96], resample: tf}",
        "student": "{name: mobilenetv2, options: {width: 0.35}}",
    },
}
FILES = {"tflite": "model_fp32.tflite", "keras": "model.keras"}


def overrides(name: str, fmt: str, teachers: Path, epochs: int) -> list[str]:
    """The ``--set`` list of one run: the data, the teacher file with its own input, a bounded epoch budget."""
    setup = SETUPS[name]
    teacher = f"{{kind: {fmt}, path: '{teachers / name / FILES[fmt]}'"
    if fmt == "keras":
        teacher += ", trust_code: true"  # made by benchmarks/byo/teachers.py from the authors' code
    if "teacher_input" in setup:
        teacher += f", input: {setup['teacher_input']}"
    if "teacher_features" in setup:
        teacher += f", features: {setup['teacher_features']}"
    teacher += "}"
    return [f"data={setup['data']}", f"teacher={teacher}", f"student={setup['student']}",
            f"distill.epochs={epochs}", "distill.batch_size=64", "seed=0"]


def run_one(name: str, fmt: str, teachers: Path, epochs: int, out_root: Path, log, build: bool = True) -> dict:
    """Run (or resume, or skip) one build and return its row; ``build=False`` only reads what is finished."""
    out = out_root / f"{name}-{fmt}"
    report_path = out / "report.json"
    seconds = None
    code = None
    if build and not report_path.is_file():
        args = [*EDGEKD, "build", "--target", SETUPS[name]["target"], "--out", str(out)]
        if (out / ".edgekd-work").is_dir():
            args.append("--resume")
        for item in overrides(name, fmt, teachers, epochs):
            args += ["--set", item]
        print(f"[{time.strftime('%H:%M:%S')}] {name} from .{fmt}: {' '.join(args[3:6])}", file=log, flush=True)
        started = time.perf_counter()
        code = subprocess.run(args, cwd=ROOT, stdout=log, stderr=log, check=False).returncode
        seconds = time.perf_counter() - started
    return summarise(name, fmt, teachers, out, code, seconds)


def summarise(name: str, fmt: str, teachers: Path, out: Path, code: int | None, seconds: float | None) -> dict:
    """One row: teacher through edgekd vs direct, the deployable student, exit code and time."""
    row = {"teacher": name, "from": fmt, "out": rel(out), "exit_code": code, "this_invocation_s": seconds}
    report = read_json(out / "report.json")
    if report is None:
        return {**row, "finished": False}
    direct = read_json(teachers / name / "eval.json") or {}
    pil = (direct.get("pil_decoded_test") or {}).get("top1") or {}
    which = "keras" if fmt == "keras" else "tflite_fp32"
    direct_top1 = pil.get(which, (direct.get("test") or {}).get(which, {}).get("top1"))
    models = {m["name"]: m for m in report["models"]}
    teacher = models["teacher"]
    chosen = models.get(report.get("chosen") or "", {})
    return {**row, "finished": True, "exit_code": 0 if report["passed"] else 3,
            "build_duration_s": report["duration_s"],
            "teacher_top1_edgekd": teacher["accuracy"]["top1"], "teacher_top1_direct": direct_top1,
            "teacher_ece_edgekd": teacher["calibration"]["ece"],
            "teacher_ece_direct": (direct.get("test") or {}).get(which, {}).get("ece"),
            "teacher_macs_edgekd": teacher["macs"], "teacher_macs_graph": (direct.get("counts") or {}).get("macs"),
            "student": chosen.get("name"), "student_precision": chosen.get("precision"),
            "student_top1": (chosen.get("accuracy") or {}).get("top1"), "student_macs": chosen.get("macs"),
            "student_fp32_top1": (models.get("student", {}).get("accuracy") or {}).get("top1"),
            "budgets_missed": [b["metric"] for b in report["budgets"] if not b["passed"]]}


def _pct(value) -> str:
    return "—" if value is None else f"{100 * value:.2f}%"


def _int(value) -> str:
    return "unknown" if value is None else f"{value:,}"


def render(results: dict) -> str:
    """The RESULTS.md section: one row per build, teacher through edgekd vs direct, the student."""
    lines = [BEGIN, "## Bring your own teacher: edgekd builds from third-party-style Keras teachers (`make bench-byo`)",
             "", f"{results['machine']['date']} · {results['epochs']} distillation epochs per build · teachers from "
             "`make bench-byo-teachers` (phase A)", "",
             "| teacher | from | exit | teacher top-1 edgekd / direct | teacher ECE edgekd / direct "
             "| teacher MACs edgekd / graph | deployed student | student top-1 | student MACs | build wall |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in results["runs"]:
        if not r.get("finished"):
            lines.append(f"| {r['teacher']} | .{r['from']} | not finished | | | | | | | |")
            continue
        lines.append(f"| {r['teacher']} | .{r['from']} | {r['exit_code']} | {_pct(r['teacher_top1_edgekd'])} / "
                     f"{_pct(r['teacher_top1_direct'])} | {r['teacher_ece_edgekd']:.4f} / "
                     f"{r['teacher_ece_direct'] or float('nan'):.4f} | {_int(r['teacher_macs_edgekd'])} / "
                     f"{_int(r['teacher_macs_graph'])} | {r['student']} ({r['student_precision']}) | "
                     f"{_pct(r['student_top1'])} | {_int(r['student_macs'])} | {r['build_duration_s'] / 60:.1f} min |")
    done = [r for r in results["runs"] if r.get("finished")]
    same = [r for r in done if r["teacher_top1_edgekd"] == r["teacher_top1_direct"]]
    exact = [r for r in done if r["teacher_macs_edgekd"] == r["teacher_macs_graph"]]
    lines += ["", f"Reading ({len(done)} of {len(SETUPS) * 2} builds finished): what is measured is whether a "
              "third-party teacher goes through a whole edgekd build given only the keys its own documentation "
              "names (`teacher.input`, `teacher.features`; the 96x96 teacher's frames were made with "
              "`tf.image.resize`, so its input says `resample: tf`). Teacher top-1 through edgekd equals the direct "
              "TF/LiteRT "
              f"figure (on the same decoded test files) in {len(same)} of {len(done)}; teacher MACs equal the "
              f"graph count in {len(exact)} of {len(done)}. The teacher ECE through edgekd is computed from its "
              "softmax probabilities. The direct ECE is the one phase A stored: for the image teachers on TF's own "
              "JPEG decode (edgekd decodes with PIL; the direct top-1 above is on the PIL-decoded files, and "
              "matches), and "
              "for the speech teacher on TF's features (edgekd computes the MFCCs itself); so the two ECEs differ "
              "slightly while top-1 matches. The test suite checks ECE through edgekd against the teacher's own "
              "probabilities on identical inputs (equal within 1e-6). "
              "Student figures are from a bounded budget (the epochs above, on a 2-core machine shared with other "
              "jobs) and say nothing about what the students reach with a real budget. Everything is held-out "
              "test data (CIFAR-10 test/, FSDD index 0-4); nothing was tuned on it."]
    return "\n".join([*lines, END])


def write_section(section: str) -> None:
    """Replace (or append) the byo section of RESULTS.md."""
    from edgekd import atomic

    text = RESULTS_MD.read_text(encoding="utf-8")
    if BEGIN in text and END in text:
        text = text[:text.index(BEGIN)] + section + text[text.index(END) + len(END):]
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    atomic.write_text(RESULTS_MD, text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--teachers", type=Path, default=WORK, help="phase A's output folder (model files)")
    parser.add_argument("--out", type=Path, default=None, help="build folders (default: TEACHERS/distill)")
    parser.add_argument("--epochs", type=int, default=3, help="distillation epochs per build (bounded budget)")
    parser.add_argument("--only", nargs="*", default=None, help="teacher names to run")
    parser.add_argument("--formats", nargs="*", default=["tflite", "keras"])
    parser.add_argument("--render-only", action="store_true", help="rewrite the RESULTS.md section from the JSON")
    parser.add_argument("--no-build", action="store_true",
                        help="collect the finished builds in --out (while another invocation runs the rest)")
    args = parser.parse_args()
    if args.render_only:
        write_section(render(json.loads(RESULTS.read_text(encoding="utf-8"))))
        return
    teachers = args.teachers.resolve()
    out_root = (args.out or teachers / "distill").resolve()
    out_root.mkdir(parents=True, exist_ok=True)
    # Runs of other teachers (an --only rerun) stay in the JSON; a rerun replaces its own rows in place.
    rows = list((read_json(RESULTS) or {}).get("runs", [])) if RESULTS.exists() else []
    with open(out_root / "run.log", "a", encoding="utf-8") as log:
        for name in args.only or list(SETUPS):
            for fmt in args.formats:
                row = run_one(name, fmt, teachers, args.epochs, out_root, log, build=not args.no_build)
                same = [i for i, r in enumerate(rows) if (r["teacher"], r["from"]) == (name, fmt)]
                if same:
                    rows[same[0]] = row
                else:
                    rows.append(row)
                write_json(RESULTS, {"machine": machine(), "epochs": args.epochs, "teachers": rel(teachers),
                                     "runs": rows})
                print(json.dumps(row), flush=True)
    write_section(render(read_json(RESULTS)))


if __name__ == "__main__":
    main()
