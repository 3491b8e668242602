"""KD against hard labels over runs: one table from several seeds or held-out speakers.

One run's test split resolves a few points at best, and on a held-out speaker two seeds of the same
recipe differed by 10 points. So the KD-vs-baseline question is answered over runs. A run is either
a ``kd_sweep.py`` result (its own teacher, the KD student at ``--temperature``/``--alpha``, the
hard-label baseline) or a ``speech.py`` result (each of its splits: teacher, KD student, baseline).
This script puts them in one table with the mean difference and its 95% t-interval over the runs'
groups: ``--by seed`` (the same test clips every time; the seed is the unit) or ``--by speaker``
(leave-one-speaker-out: each speaker's runs are averaged first, the speaker is the unit).

Usage: ``python benchmarks/kd_seeds.py --name kd-heldout-seeds [--by seed|speaker] [--temperature 2 --alpha 0.5]
results/a.json results/b.json ...``
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
from pathlib import Path

from vision_common import ROOT, atomic, p_value, paired, pct, write_section


def _setting(overrides: list[str], key: str, default: str) -> str:
    return next((o.split("=", 1)[1] for o in overrides if o.startswith(f"{key}=")), default)


def seed_row(results: dict, temperature: float, alpha: float, epoch: str = "best") -> dict:
    """One ``kd_sweep.py`` run: teacher, KD at (T, alpha) and baseline test top-1, and their paired comparison.

    ``epoch="last"`` reads every model's last-epoch weights instead of its best val epoch (no per-clip
    predictions are kept for those, so no McNemar).
    """
    kd = next(r for r in results["rows"]
              if r["kind"] == "kd" and (r["temperature"], r["alpha"]) == (temperature, alpha))
    base = next(r for r in results["rows"] if r["kind"] == "baseline")
    labels = results.get("test_labels")
    if epoch == "last":
        teacher = results["teacher_last_epoch"]
        kd, base = ({**r, **r["last_epoch"], "test_pred": None} for r in (kd, base))
        results = {**results, "teacher_test_top1": teacher["test_top1"]}
        labels = None
    return {"seed": int(_setting(results["overrides"], "seed", "0")),
            "speaker": _setting(results["overrides"], "data.split.test", "?").strip("[]"),
            "teacher": results["teacher_test_top1"], "kd": kd["test_top1"],
            "baseline": base["test_top1"], "kd_val": kd["val_top1"], "baseline_val": base["val_top1"],
            "diff": kd["test_top1"] - base["test_top1"],
            "paired": paired(kd["test_pred"], base["test_pred"], labels) if labels else None}


def speech_rows(results: dict) -> list[dict]:
    """Each held-out-speaker split of a ``speech.py`` run, in :func:`seed_row`'s form."""
    rows = []
    for name, entry in results["splits"].items():
        speaker = re.fullmatch(r"held-out speaker \((.+)\)", name)
        if not speaker:
            continue
        top1 = {role: entry["rows"][role]["top1"] for role in ("teacher", "student", "baseline")}
        rows.append({"seed": int(_setting(results["overrides"], "seed", "0")), "speaker": speaker.group(1),
                     "teacher": top1["teacher"], "kd": top1["student"], "baseline": top1["baseline"],
                     "kd_val": entry["val_top1"]["student_history"],
                     "baseline_val": entry["val_top1"]["baseline_history"],
                     "diff": top1["student"] - top1["baseline"], "paired": entry.get("paired_kd_vs_baseline")})
    return rows


def over_seeds(diffs: list[float]) -> dict:
    """Mean of the per-seed differences and its 95% t-interval (None with one seed)."""
    from scipy import stats

    mean = statistics.fmean(diffs)
    if len(diffs) < 2:
        return {"mean": mean, "ci95": None, "seeds": len(diffs)}
    half = stats.t.ppf(0.975, len(diffs) - 1) * statistics.stdev(diffs) / len(diffs) ** 0.5
    return {"mean": mean, "ci95": [mean - half, mean + half], "seeds": len(diffs)}


def by_group(rows: list[dict], key: str) -> list[float]:
    """Each group's mean difference (a group: one seed, or one speaker's seeds)."""
    groups: dict = {}
    for r in rows:
        groups.setdefault(r[key], []).append(r["diff"])
    return [statistics.fmean(d) for d in groups.values()]


def teacher_lead(rows: list[dict], key: str) -> dict | None:
    """Whether KD's gain follows the teacher's own lead over the baseline, group by group.

    Per group (seed or speaker): the mean teacher − baseline and the mean KD − baseline, and their
    Pearson correlation (None with fewer than 3 groups or no spread). Also the groups where the
    teacher beats the baseline and, of those, where KD does.
    """
    from scipy import stats

    groups: dict = {}
    for r in rows:
        groups.setdefault(r[key], []).append((r["teacher"] - r["baseline"], r["diff"]))
    lead = [statistics.fmean(t for t, _ in g) for g in groups.values()]
    gain = [statistics.fmean(d for _, d in g) for g in groups.values()]
    if len(lead) < 3 or len(set(lead)) < 2 or len(set(gain)) < 2:
        return None
    fit = stats.pearsonr(lead, gain)
    return {"groups": len(lead), "pearson_r": float(fit.statistic), "p": float(fit.pvalue),
            "teacher_ahead": sum(t > 0 for t in lead), "kd_ahead_where_teacher_ahead":
            sum(t > 0 and d > 0 for t, d in zip(lead, gain)), "kd_ahead_where_teacher_not":
            sum(t <= 0 and d > 0 for t, d in zip(lead, gain))}


def render(summary: dict) -> str:
    """The RESULTS.md section."""
    by = summary.get("by", "seed")
    title = (f"T={summary['temperature']:g}, alpha={summary['alpha']:g}" if summary.get("temperature") is not None
             else "the config's T and alpha")
    weights = "every model's last epoch" if summary.get("epoch") == "last" else "every model's best val epoch"
    lines = [f"### KD ({title}) against hard labels over {by}s, {weights} (`benchmarks/kd_seeds.py`)", "",
             f"Split: {summary['split']}", ""]
    if summary.get("recipe"):  # what sets these runs apart from the config as committed
        lines += [f"Recipe: the config with {', '.join(f'`{o}`' for o in summary['recipe'])}", ""]
    lines += ["| speaker | seed | teacher test | KD val | baseline val | KD test | baseline test | KD − baseline | "
             "McNemar p |", "|---|---|---|---|---|---|---|---|---|"]
    for r in summary["rows"]:
        lines.append(f"| {r.get('speaker', '?')} | {r['seed']} | {pct(r['teacher'])} | {pct(r['kd_val'])} | "
                     f"{pct(r['baseline_val'])} | {pct(r['kd'])} | {pct(r['baseline'])} | {100 * r['diff']:+.2f} | "
                     f"{'–' if r['paired'] is None else p_value(r['paired']['mcnemar_p']).removeprefix('= ')} |")
    o = summary["over_seeds"]
    interval = "" if o["ci95"] is None else f" (95% t-interval over {by}s {100 * o['ci95'][0]:+.2f} to " \
                                            f"{100 * o['ci95'][1]:+.2f})"
    means = {k: statistics.fmean(r[k] for r in summary["rows"]) for k in ("teacher", "kd", "baseline")}
    lines += [f"| **mean** | | {pct(means['teacher'])} | | | {pct(means['kd'])} | {pct(means['baseline'])} | "
              f"**{100 * o['mean']:+.2f}** | |", "",
              f"KD − baseline over {o['seeds']} {by}s: {100 * o['mean']:+.2f} points{interval}."]
    lead = summary.get("teacher_lead")
    if lead:
        behind = lead["groups"] - lead["teacher_ahead"]
        lines += ["", f"KD − baseline against teacher − baseline over the {lead['groups']} {by}s: Pearson r "
                  f"{lead['pearson_r']:+.2f} (p {p_value(lead['p'])}). The teacher beat the baseline in "
                  f"{lead['teacher_ahead']}, and KD did in {lead['kd_ahead_where_teacher_ahead']} of those; KD beat "
                  f"it in {lead['kd_ahead_where_teacher_not']} of the {behind} where the teacher did not."]
    return "\n".join(lines)


def main() -> None:
    """Read the runs, write ``results/<name>.json`` and its RESULTS.md section."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", nargs="+", type=Path, help="kd_sweep.py or speech.py results files")
    parser.add_argument("--name", default="kd-seeds")
    parser.add_argument("--by", choices=("seed", "speaker"), default="seed", help="the unit of the t-interval")
    parser.add_argument("--epoch", choices=("best", "last"), default="best",
                        help="kd_sweep.py runs: each model's best val epoch (what a build ships) or its last")
    parser.add_argument("--temperature", type=float, help="the kd_sweep.py point to read")
    parser.add_argument("--alpha", type=float, help="the kd_sweep.py point to read")
    args = parser.parse_args()
    loaded = [json.loads(p.read_text()) for p in args.results]
    rows = [row for r in loaded
            for row in (speech_rows(r) if "splits" in r else [seed_row(r, args.temperature, args.alpha, args.epoch)])]
    rows.sort(key=lambda r: (r["speaker"], r["seed"]))
    split = " ".join(o for o in loaded[0]["overrides"] if o.startswith("data.split")) or "held-out speaker, " \
        "val a random 10% of the training speakers' clips"
    recipe = [o for o in loaded[0]["overrides"] if not o.startswith(("data.split", "seed="))]
    summary = {"temperature": args.temperature, "alpha": args.alpha, "by": args.by, "epoch": args.epoch, "split": split,
               "recipe": recipe,
               "sources": [str(p) for p in args.results], "rows": rows,
               "over_seeds": over_seeds(by_group(rows, args.by)), "teacher_lead": teacher_lead(rows, args.by)}
    atomic.write_json(ROOT / "benchmarks" / "results" / f"{args.name}.json", summary)
    write_section(args.name, render(summary))
    print(render(summary))


if __name__ == "__main__":
    main()
