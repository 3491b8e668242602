"""Shared helpers of the distillation benchmarks (``benchmarks/vision.py``, ``benchmarks/speech.py``).

They drive the build's own stages (config → data → teacher stage → distill stage) so a
benchmark exercises exactly what ``edgekd build`` runs, then score every model on test/.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import re
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from edgekd import atomic  # noqa: E402
from edgekd.config import load_config  # noqa: E402
from edgekd.data import load_data  # noqa: E402
from edgekd.distill.trainer import evaluate_top1, predict_logits  # noqa: E402
from edgekd.pipeline import run_stages  # noqa: E402
from edgekd.stage import BuildContext  # noqa: E402
from edgekd.targets import load_target  # noqa: E402


class PrintReporter:
    """One line per epoch on stdout (the benchmarks run unattended, logs are kept)."""

    def stage(self, name: str, detail: str = "") -> None:  # noqa: D102
        print(f"== {name} {detail}", flush=True)

    def epoch(self, label, epoch, epochs, loss, val_top1, samples_per_s) -> None:  # noqa: D102
        print(f"  {label} {epoch}/{epochs} loss {loss:.4f} val {val_top1:.4f} ({samples_per_s:.0f}/s)", flush=True)

    def note(self, text: str) -> None:  # noqa: D102
        print(f"  note: {text}", flush=True)


def machine() -> dict:
    """Where the numbers were measured."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    from edgekd.report.build_report import cpu_features

    return {"cpu": cpu, "cpu_features": cpu_features(), "cores": os.cpu_count(),
            "torch_threads": torch.get_num_threads(),
            "python": platform.python_version(), "torch": torch.__version__, "os": platform.platform(),
            "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")}


def distill_run(config_path: Path, overrides: list[str], reporter=None, work: Path | None = None,
                before_distill=None, distill_stage=None) -> dict:
    """Run the teacher and distill stages of a build; score teacher, student and baseline on test/.

    Args:
        config_path: The benchmark's build config.
        overrides: ``key=value`` config overrides.
        reporter: Progress sink (default: print each epoch).
        work: Output folder of the build; its ``.edgekd-work/checkpoints`` hold the trainer's per-epoch
            checkpoints, so a rerun with the same folder resumes training. Default: a new temp folder.
        before_distill: ``f(data, teacher_model)`` called between the teacher and distill stages.
        distill_stage: A stage ``f(state, ctx) -> state`` run instead of the build's distill stage.

    Returns:
        ``{"ctx", "artifacts", "rows": {role: {top1, params, macs}}, "seconds"}``.
    """
    started = time.perf_counter()
    cfg = load_config(config_path, overrides)
    data = load_data(cfg)
    work = work or Path(tempfile.mkdtemp(prefix="edgekd-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    ctx = BuildContext(config=cfg, target=load_target("host"), out_dir=work, data=data,
                       reporter=reporter or PrintReporter(), threads=torch.get_num_threads())
    state = run_stages(("teacher",), ctx)
    if before_distill is not None:
        before_distill(data, next(a for a in state.artifacts if a.role == "teacher").model)
    state = distill_stage(state, ctx) if distill_stage is not None else run_stages(("distill",), ctx, state)
    arts = list(state.artifacts)
    rows = {}
    for art in arts:
        role = "baseline" if art.role == "baseline" else art.role
        rows[role] = {"top1": evaluate_top1(art.model, data.test), "params": art.params, "macs": art.macs,
                      "notes": list(art.notes)}
    return {"ctx": ctx, "state": state, "artifacts": arts, "rows": rows, "seconds": time.perf_counter() - started,
            "overrides": list(overrides),
            "history": {f"{k}_history": v for k, v in state.training_curves.items()}}


def bench_parser(doc: str, out: Path):
    """The options every distillation benchmark takes (``--set``, ``--out``, ``--note``, ``--render-only``)."""
    import argparse

    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--set", dest="overrides", action="append", default=[], help="config override key=value")
    parser.add_argument("--out", type=Path, default=out)
    parser.add_argument("--note", default="", help="a remark shown under the table (e.g. a shortened budget)")
    parser.add_argument("--render-only", action="store_true", help="rewrite RESULTS.md from the existing JSON")
    return parser


def save_student(run: dict, path: Path) -> None:
    """Keep a run's KD student (weights, recipe, config overrides) for ``benchmarks/compress.py``."""
    import io

    student = next(a for a in run["artifacts"] if a.role == "student")
    buffer = io.BytesIO()
    torch.save({"state_dict": student.model.state_dict(), "student": run["ctx"].config.student.model_dump(mode="json"),
                "input_shape": list(student.input_shape), "num_classes": run["ctx"].data.num_classes,
                "overrides": run["overrides"]}, buffer)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic.write_bytes(path, buffer.getvalue())


def ratios(rows: dict) -> dict:
    """Student/teacher ratios of accuracy and MACs, and KD's gain over the baseline."""
    t, s = rows["teacher"], rows["student"]
    out = {"student_over_teacher_top1": s["top1"] / t["top1"],
           "student_over_teacher_macs": (s["macs"] / t["macs"]) if t.get("macs") else None}
    if "baseline" in rows:
        out["kd_gain_over_baseline"] = s["top1"] - rows["baseline"]["top1"]
    out["meets_target"] = bool(out["student_over_teacher_top1"] >= 0.97
                               and (out["student_over_teacher_macs"] or 1) <= 0.25
                               and out.get("kd_gain_over_baseline", 1) > 0)
    return out


def rerender(out: Path, note: str, name: str, render) -> None:
    """Rewrite a benchmark's RESULTS.md section from its existing JSON (``--render-only``)."""
    results = json.loads(out.read_text())
    results["note"] = note or results.get("note", "")
    atomic.write_json(out, results)
    write_section(name, render(results))


def write_section(name: str, markdown: str) -> Path:
    """Replace this benchmark's section of ``benchmarks/RESULTS.md`` (other sections untouched)."""
    path = ROOT / "benchmarks" / "RESULTS.md"
    begin, end = f"<!-- {name}:begin -->", f"<!-- {name}:end -->"
    block = f"{begin}\n{markdown.rstrip()}\n{end}"
    text = path.read_text(encoding="utf-8") if path.exists() else "# Benchmark results\n"
    pattern = re.compile(re.escape(begin) + r".*?" + re.escape(end), re.S)
    text = pattern.sub(lambda _m: block, text) if pattern.search(text) else text.rstrip() + "\n\n" + block + "\n"
    atomic.write_text(path, text)
    return path


def pct(x: float | None) -> str:
    """``0.8312`` → ``83.12%``."""
    return "–" if x is None else f"{100 * x:.2f}%"


def mmacs(x: int | None) -> str:
    """MACs in millions."""
    return "–" if not x else f"{x / 1e6:.1f} M"


def cache_speedup(ctx, teacher_model, epochs: int = 1) -> dict:
    """Epoch time of KD with the soft-label cache vs running the teacher at every step.

    Both runs train a fresh copy of the configured student for ``epochs`` epochs on the
    same (unaugmented) split; the per-step run gets an identity ``augment`` so the
    objective cannot cache. The one-off cost of filling the cache is reported apart.
    """
    from dataclasses import replace

    from edgekd.distill.methods import build_objective
    from edgekd.distill.trainer import TrainSpec, fit
    from edgekd.students import build_student

    cfg, data = ctx.config.distill, ctx.data
    spec = TrainSpec(epochs=epochs, lr=cfg.lr, weight_decay=cfg.weight_decay, batch_size=cfg.batch_size,
                     optimizer=cfg.optimizer, warmup_epochs=0)
    plain = replace(data.train, augment=None)
    per_step = replace(data.train, augment=lambda x, _g: x)
    out = {}
    for name, split in (("cached", plain), ("per_step", per_step)):
        torch.manual_seed(0)
        student = build_student(ctx.config.student.name, data.num_classes, data.input_shape,
                                **ctx.config.student.options)
        t0 = time.perf_counter()
        objective = build_objective(teacher_model, student, split, cfg, data.input_shape, torch.device("cpu"))
        t1 = time.perf_counter()
        fit(student, split, data.val, spec, objective.loss, seed=0, label=f"speed-{name}")
        t2 = time.perf_counter()
        objective.close()
        out[name] = {"setup_s": t1 - t0, "epoch_s": (t2 - t1) / epochs, "cached": objective.cached}
    out["epoch_speedup"] = out["per_step"]["epoch_s"] / out["cached"]["epoch_s"]
    out["epochs_timed"] = epochs
    return out


def predictions(model, split) -> list[int]:
    """The model's class for every sample of ``split``."""
    return predict_logits(model, split.x).argmax(1).tolist()


def paired(kd_pred: list[int], base_pred: list[int], labels: list[int]) -> dict:
    """KD against the baseline on the same clips: the difference, its 95% interval and McNemar's exact p.

    Only the discordant clips (one right, the other wrong) carry information about which is better.
    """
    from edgekd.stats import paired_accuracy

    versus = paired_accuracy(kd_pred, base_pred, labels)
    return {"diff": versus["difference"], "ci95": versus["interval"], "kd_only_right": versus["only_first_right"],
            "baseline_only_right": versus["only_second_right"], "mcnemar_p": versus["mcnemar_p"]}


def p_value(p: float) -> str:
    """A p-value as printed in RESULTS.md: ``= 0.123``, or ``< 0.001``."""
    return "< 0.001" if p < 0.001 else f"= {p:.3f}"


def paired_sentence(what: str, versus: dict) -> str:
    """One line of RESULTS.md for a :func:`paired` comparison, e.g. ``what`` = "KD − baseline on test"."""
    lo, hi = versus["ci95"]
    return (f"{what}, clip by clip: {100 * versus['diff']:+.2f} points (95% interval {100 * lo:+.2f} to "
            f"{100 * hi:+.2f}); right only with KD {versus['kd_only_right']} clips, only with hard labels "
            f"{versus['baseline_only_right']}; McNemar exact p {p_value(versus['mcnemar_p'])}.")
