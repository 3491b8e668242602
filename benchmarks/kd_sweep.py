"""``make bench-kd-sweep``: pick Hinton KD's temperature and alpha on the validation split.

``make bench-speech`` distils with one fixed (T, alpha). When KD loses to the hard-label
baseline, the first question is whether the recipe or the idea is at fault. This trains the
benchmark's teacher once, then the same student with each (T, alpha) of a small grid (the
baseline too), on the same split and budget; the setting with the best **validation** top-1
is chosen, and only then are test numbers read, so the choice never sees the test split.
Writes ``benchmarks/results/kd-sweep-<name>.json`` and a section of RESULTS.md.

Usage: ``python benchmarks/kd_sweep.py [--config benchmarks/speech.yaml] [--set key=value ...]``
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import tempfile
import time
from pathlib import Path

from vision_common import ROOT, PrintReporter, atomic, evaluate_top1, machine, pct, write_section

GRID = ((1.0, 0.5), (2.0, 0.5), (4.0, 0.5), (2.0, 0.9), (4.0, 0.9), (4.0, 0.7))  # (T, alpha); (4, 0.7) was the first default


def main() -> None:
    """Train the teacher once, every grid point and the baseline, pick by validation, score on test."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, default=ROOT / "benchmarks" / "speech.yaml")
    parser.add_argument("--set", dest="overrides", action="append", default=[], help="config override key=value")
    args = parser.parse_args()
    from edgekd.config import load_config
    from edgekd.data import load_data
    from edgekd.pipeline import run_stages
    from edgekd.stage import BuildContext
    from edgekd.targets import load_target

    started = time.perf_counter()
    cfg = load_config(args.config, args.overrides)
    data = load_data(cfg)
    ctx = BuildContext(config=cfg, target=load_target("host"), out_dir=Path(tempfile.mkdtemp(prefix="edgekd-sweep-")),
                       data=data, reporter=PrintReporter(), threads=1)
    teacher = run_stages(("teacher",), ctx)
    rows = [train_one(ctx, teacher, t, a, baseline=False) for t, a in GRID]
    rows.append(train_one(ctx, teacher, cfg.distill.temperature, 0.0, baseline=True))
    chosen = max((r for r in rows if r["kind"] == "kd"), key=lambda r: r["val_top1"])
    name = args.config.stem
    results = {"benchmark": f"kd-sweep-{name}", "config": str(args.config.relative_to(ROOT)),
               "overrides": args.overrides, "machine": machine(), "samples": data.summary()["samples"],
               "teacher_test_top1": evaluate_top1(teacher.artifacts[0].model, data.test), "rows": rows,
               "chosen_by_val": {"temperature": chosen["temperature"], "alpha": chosen["alpha"]},
               "wall_s": time.perf_counter() - started}
    atomic.write_json(ROOT / "benchmarks" / "results" / f"kd-sweep-{name}.json", results)
    write_section(f"kd-sweep-{name}", render(results))
    print(json.dumps({k: v for k, v in results.items() if k != "rows"}, indent=1, default=str))


def train_one(ctx, teacher_state, temperature: float, alpha: float, baseline: bool) -> dict:
    """One student trained by the distill stage: KD at (T, alpha), or with alpha 0 the hard-label baseline.

    (Alpha 0 leaves only the cross-entropy term: the same loss, seed and budget as the build's baseline.)
    """
    from edgekd.pipeline import run_stages

    distill = ctx.config.distill.model_copy(update={"temperature": temperature, "alpha": alpha,
                                                    "train_baseline": False})
    run_ctx = dataclasses.replace(ctx, config=ctx.config.model_copy(update={"distill": distill}),
                                  out_dir=Path(tempfile.mkdtemp(prefix="edgekd-sweep-")))
    run_ctx.work_dir.mkdir(parents=True, exist_ok=True)
    state = run_stages(("distill",), run_ctx, teacher_state)
    model = next(a for a in state.artifacts if a.role == "student").model
    return {"kind": "baseline" if baseline else "kd", "temperature": None if baseline else temperature,
            "alpha": None if baseline else alpha, "val_top1": state.training_curves["student"]["best_val_top1"],
            "test_top1": evaluate_top1(model, ctx.data.test)}


def render(results: dict) -> str:
    """The RESULTS.md section."""
    m = results["machine"]
    chosen = results["chosen_by_val"]
    lines = [f"### KD temperature/alpha chosen on validation (`make bench-kd-sweep`, {results['config']})", "",
             f"{m['date']} · {m['cpu']} · {m['cores']} cores · wall {results['wall_s'] / 60:.1f} min · teacher test "
             f"top-1 {pct(results['teacher_test_top1'])} · samples {results['samples']}", "",
             "| student | T | alpha | val top-1 | test top-1 |", "|---|---|---|---|---|"]
    for r in results["rows"]:
        mark = " **(chosen on val)**" if r["kind"] == "kd" and (r["temperature"], r["alpha"]) == (
            chosen["temperature"], chosen["alpha"]) else ""
        label = "hard labels only" if r["kind"] == "baseline" else f"KD{mark}"
        lines.append(f"| {label} | {r['temperature'] or '–'} | {r['alpha'] if r['alpha'] is not None else '–'} | "
                     f"{pct(r['val_top1'])} | {pct(r['test_top1'])} |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
