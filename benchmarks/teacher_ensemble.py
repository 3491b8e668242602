"""Would an ensemble teacher generalise to a new speaker better than one teacher, and than hard labels?

On held-out speakers KD beat the hard-label student where the teacher itself did, and lost where it
did not (RESULTS.md, leave-one-speaker-out). ``teacher.members`` distils the mean logits of several
scratch teachers seeded ``seed``, ``seed+1``, ...; the teachers of ``kd_sweep.py`` runs that differ
only in ``seed`` are exactly such members. This script reads their weights from the runs' work
folders (the kept, best-val epoch's ``teacher.pt``, and the last epoch's from the checkpoint),
scores each teacher and their mean-logit ensemble on the run's val and test splits, and sets them
beside the hard-label students of the same runs. Inference only: nothing is trained.

Usage: ``python benchmarks/teacher_ensemble.py --config benchmarks/speech-aug.yaml --set ... --name N
--runs results/kd-heldout-seed1.json ... --work benchmarks/work/kd-heldout-a025-seed1 ...``
(``--runs`` gives each member's hard-label baseline; ``--work`` its teacher, in the same order.)
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

from vision_common import ROOT, atomic, machine, pct, write_section


def load_teachers(work: Path, ctx) -> dict:
    """One run's teacher at its kept (best val) epoch and at its last epoch."""
    import torch

    from edgekd.teachers.scratch import ScratchCNN

    cfg, data = ctx.config.teacher, ctx.data
    weights = {"best": torch.load(work / "teacher" / ".edgekd-work" / "artifacts" / "teacher.pt", weights_only=True),
               "last": torch.load(work / "teacher" / ".edgekd-work" / "checkpoints" / "teacher.ckpt",
                                  weights_only=True, map_location="cpu")["model"]}
    models = {}
    for epoch, state in weights.items():
        model = ScratchCNN(data.input_shape[0], data.num_classes, cfg.width)
        model.load_state_dict(state)
        models[epoch] = model.eval()
    return models


def scores(models: list, ctx) -> dict:
    """Val and test top-1 of each model and of the mean of their logits."""
    from edgekd.distill.trainer import evaluate_top1
    from edgekd.teachers.scratch import MeanLogits

    out = {"members": [{split: evaluate_top1(m, getattr(ctx.data, split)) for split in ("val", "test")}
                       for m in models]}
    ensemble = MeanLogits(models).eval()
    out["ensemble"] = {split: evaluate_top1(ensemble, getattr(ctx.data, split)) for split in ("val", "test")}
    return out


def baselines(run_files: list[Path]) -> dict:
    """The hard-label students of the member runs: test top-1 at the best val epoch and at the last."""
    rows = [next(r for r in json.loads(p.read_text())["rows"] if r["kind"] == "baseline") for p in run_files]
    return {"best": [r["test_top1"] for r in rows], "last": [r["last_epoch"]["test_top1"] for r in rows]}


def render(results: dict) -> str:
    """The RESULTS.md section."""
    m = results["machine"]
    lines = [f"### Teacher ensembles on a held-out speaker (`benchmarks/teacher_ensemble.py`, {results['name']})", "",
             f"{m['date']} · inference only · split `{' '.join(results['overrides'])}` · members: seeds "
             f"{', '.join(str(s) for s in results['seeds'])}", "",
             "| weights | teacher test, each member | mean of members | ensemble test | ensemble val | "
             "hard-label students' test (mean) | ensemble − baseline mean |", "|---|---|---|---|---|---|---|"]
    for epoch in ("best", "last"):
        s, base = results["scores"][epoch], results["baselines"][epoch]
        tests = [t["test"] for t in s["members"]]
        lines.append(f"| {epoch} {'val epoch (what a build ships)' if epoch == 'best' else 'epoch'} | "
                     f"{', '.join(pct(t) for t in tests)} | {pct(statistics.fmean(tests))} | "
                     f"{pct(s['ensemble']['test'])} | {pct(s['ensemble']['val'])} | {pct(statistics.fmean(base))} | "
                     f"{100 * (s['ensemble']['test'] - statistics.fmean(base)):+.2f} |")
    return "\n".join(lines)


def main() -> None:
    """Score the members and their ensemble; write ``results/<name>.json`` and the RESULTS.md section."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, required=True)
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--work", type=Path, nargs="+", required=True, help="kd_sweep.py work folders (members)")
    parser.add_argument("--runs", type=Path, nargs="+", required=True, help="their results (hard-label baselines)")
    parser.add_argument("--name", default="teacher-ensemble")
    args = parser.parse_args()
    if len(args.work) != len(args.runs):
        raise SystemExit(f"{len(args.work)} --work folders but {len(args.runs)} --runs files: give one of each "
                         "per member")
    from edgekd.config import load_config
    from edgekd.data import load_data

    cfg = load_config(args.config, args.overrides)
    ctx = argparse.Namespace(config=cfg, data=load_data(cfg))
    loaded = [load_teachers(w, ctx) for w in args.work]
    results = {"name": args.name, "machine": machine(), "overrides": args.overrides,
               "seeds": [int(next((o.split("=")[1] for o in json.loads(p.read_text())["overrides"]
                                   if o.startswith("seed=")), "0")) for p in args.runs],
               "work": [str(w) for w in args.work], "baselines": baselines(args.runs),
               "scores": {epoch: scores([t[epoch] for t in loaded], ctx) for epoch in ("best", "last")}}
    atomic.write_json(ROOT / "benchmarks" / "results" / f"{args.name}.json", results)
    write_section(args.name, render(results))
    print(render(results))


if __name__ == "__main__":
    main()
