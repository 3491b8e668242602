"""KD against hard labels over seeds: one table from several ``bench-kd-sweep`` results.

One run's test split resolves a few points at best, and on a held-out speaker two seeds of the same
recipe differed by 10 points. So the KD-vs-baseline question is answered over seeds: each seed is a
``kd_sweep.py`` run (its own teacher, the KD student at the chosen T/alpha, the hard-label baseline,
compared clip by clip), and this script puts them in one table with the mean difference and its 95%
t-interval over seeds (the seed is the unit: the clips are the same in every run).

Usage: ``python benchmarks/kd_seeds.py --name kd-heldout-seeds --temperature 2 --alpha 0.5
results/kd-sweep-a.json results/kd-heldout-seed1.json ...``
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

from vision_common import ROOT, atomic, paired, pct, write_section


def seed_row(results: dict, temperature: float, alpha: float) -> dict:
    """One seed: teacher, KD at (T, alpha) and baseline test top-1, and their paired comparison."""
    seed = next((int(o.split("=", 1)[1]) for o in results["overrides"] if o.startswith("seed=")), 0)
    kd = next(r for r in results["rows"]
              if r["kind"] == "kd" and (r["temperature"], r["alpha"]) == (temperature, alpha))
    base = next(r for r in results["rows"] if r["kind"] == "baseline")
    labels = results.get("test_labels")
    return {"seed": seed, "teacher": results["teacher_test_top1"], "kd": kd["test_top1"],
            "baseline": base["test_top1"], "kd_val": kd["val_top1"], "baseline_val": base["val_top1"],
            "diff": kd["test_top1"] - base["test_top1"],
            "paired": paired(kd["test_pred"], base["test_pred"], labels) if labels else None}


def over_seeds(diffs: list[float]) -> dict:
    """Mean of the per-seed differences and its 95% t-interval (None with one seed)."""
    from scipy import stats

    mean = statistics.fmean(diffs)
    if len(diffs) < 2:
        return {"mean": mean, "ci95": None, "seeds": len(diffs)}
    half = stats.t.ppf(0.975, len(diffs) - 1) * statistics.stdev(diffs) / len(diffs) ** 0.5
    return {"mean": mean, "ci95": [mean - half, mean + half], "seeds": len(diffs)}


def render(summary: dict) -> str:
    """The RESULTS.md section."""
    t, a = summary["temperature"], summary["alpha"]
    lines = [f"### KD (T={t:g}, alpha={a:g}) against hard labels over seeds (`benchmarks/kd_seeds.py`)", "",
             f"Split: {summary['split']}", "",
             "| seed | teacher test | KD val | baseline val | KD test | baseline test | KD − baseline | McNemar p |",
             "|---|---|---|---|---|---|---|---|"]
    for r in summary["rows"]:
        lines.append(f"| {r['seed']} | {pct(r['teacher'])} | {pct(r['kd_val'])} | {pct(r['baseline_val'])} | "
                     f"{pct(r['kd'])} | {pct(r['baseline'])} | {100 * r['diff']:+.2f} | "
                     f"{'–' if r['paired'] is None else format(r['paired']['mcnemar_p'], '.3f')} |")
    o = summary["over_seeds"]
    interval = "" if o["ci95"] is None else f" (95% t-interval over seeds {100 * o['ci95'][0]:+.2f} to " \
                                            f"{100 * o['ci95'][1]:+.2f})"
    means = {k: statistics.fmean(r[k] for r in summary["rows"]) for k in ("teacher", "kd", "baseline")}
    lines += [f"| **mean** | {pct(means['teacher'])} | | | {pct(means['kd'])} | {pct(means['baseline'])} | "
              f"**{100 * o['mean']:+.2f}** | |", "",
              f"KD − baseline over {o['seeds']} seeds: {100 * o['mean']:+.2f} points{interval}."]
    return "\n".join(lines)


def main() -> None:
    """Read the sweeps, write ``results/<name>.json`` and its RESULTS.md section."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", nargs="+", type=Path, help="kd_sweep.py results files, one per seed")
    parser.add_argument("--name", default="kd-seeds")
    parser.add_argument("--temperature", type=float, required=True)
    parser.add_argument("--alpha", type=float, required=True)
    args = parser.parse_args()
    loaded = [json.loads(p.read_text()) for p in args.results]
    rows = sorted((seed_row(r, args.temperature, args.alpha) for r in loaded), key=lambda r: r["seed"])
    split = " ".join(o for o in loaded[0]["overrides"] if o.startswith("data.split"))
    summary = {"temperature": args.temperature, "alpha": args.alpha, "split": split,
               "sources": [str(p) for p in args.results], "rows": rows,
               "over_seeds": over_seeds([r["diff"] for r in rows])}
    atomic.write_json(ROOT / "benchmarks" / "results" / f"{args.name}.json", summary)
    write_section(args.name, render(summary))
    print(render(summary))


if __name__ == "__main__":
    main()
