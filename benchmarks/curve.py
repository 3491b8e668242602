"""Top-1-vs-epoch curves of a distillation benchmark, written as the run goes, resumable.

:class:`CurveReporter` is the progress reporter of a benchmark run. The trainer calls its
``epoch_model`` after each epoch's validation with the weights it evaluates (the EMA when
on); it measures, on fixed samples,

* ``val_agree`` / ``val_kl``: top-1 agreement with the teacher and KL(teacher ‖ student) at
  T = 1 on the validation split (what the student learned to copy, on unseen images);
* ``train_top1`` / ``train_agree`` / ``train_kl``: the same on a fixed subset of the *training*
  images, unaugmented (how well the student fits the teacher where it was taught). Train
  agreement near 100% with lower val agreement means the student can represent the teacher's
  function but 9,000 images do not pin it down (a data limit); train agreement that stalls
  well below 100% means the student cannot follow the teacher even there (a capacity limit);
* ``test_top1`` every ``test_every`` epochs and at the last one: the held-out test split,
  recorded for the curve only (nothing is chosen on it: the trainer keeps the best *val* epoch).

Every epoch rewrites the JSON (atomically) under ``curves[label]``; a resumed run reloads it,
so the curve spans the interruption. Validation figures come from the trainer's history.
"""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from vision_common import PrintReporter, atomic

TRAIN_PROBE = 1000  # training images in the fit probe (fixed, seeded)


class CurveReporter(PrintReporter):
    """Prints epochs like :class:`PrintReporter` and records the curves in ``results['curves']``.

    Args:
        out: JSON file rewritten after every epoch.
        results: The benchmark's results dict (kept and extended; ``curves`` is filled in).
        epochs: The run's epoch count (decides the test epochs).
        test_every: Score the test split every this many epochs (and at the last); 0 = never.
    """

    def __init__(self, out: Path, results: dict, epochs: int, test_every: int):
        self.out, self.results, self.epochs, self.test_every = out, results, epochs, test_every
        self.started = time.perf_counter()
        self.results.setdefault("curves", {})
        self.data = None
        self.teacher_logits: dict[str, torch.Tensor] = {}

    def attach(self, data, teacher) -> None:
        """Fix the probe samples and precompute the teacher's logits on them (once per process)."""
        from edgekd.distill.trainer import predict_logits

        self.data = data
        generator = torch.Generator().manual_seed(0)
        pick = torch.randperm(len(data.train), generator=generator)[:TRAIN_PROBE]
        train_x = data.train.x[pick] if data.train.augment is None or data.task == "image" else None
        self.samples = {"val": (data.val.x, data.val.y)}
        if train_x is not None:
            self.samples["train"] = (train_x, data.train.y[pick])
        self.teacher_logits = {k: predict_logits(teacher, x) for k, (x, _y) in self.samples.items()}

    def epoch(self, label, epoch, epochs, loss, val_top1, samples_per_s) -> None:  # noqa: D102
        super().epoch(label, epoch, epochs, loss, val_top1, samples_per_s)
        point = self._curve(label).setdefault(str(epoch), {})
        point.update(epoch=epoch, loss=loss, val_top1=val_top1, samples_per_s=samples_per_s,
                     finished_utc=time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime()))
        self.save()

    def epoch_model(self, label: str, epoch: int, model) -> dict:
        """Probe figures of the evaluated weights (stored by the trainer in its history, too)."""
        from edgekd.distill.trainer import predict_logits

        figures: dict = {}
        for name, (x, y) in self.samples.items():
            logits = predict_logits(model, x)
            teacher = self.teacher_logits[name]
            if name == "train":
                figures["train_top1"] = _top1(logits, y)
            figures[f"{name}_agree"] = float((logits.argmax(1) == teacher.argmax(1)).float().mean())
            figures[f"{name}_kl"] = float(F.kl_div(F.log_softmax(logits, 1), F.log_softmax(teacher, 1),
                                                   reduction="batchmean", log_target=True))
        if self.test_every and (epoch % self.test_every == 0 or epoch == self.epochs):
            figures["test_top1"] = _top1(predict_logits(model, self.data.test.x), self.data.test.y)
        self._curve(label).setdefault(str(epoch), {}).update(figures)
        return figures

    def save(self) -> None:
        """Rewrite the JSON now (with this session's wall time so far)."""
        if self.results.get("sessions"):
            self.results["sessions"][-1]["wall_s"] = time.perf_counter() - self.started
        atomic.write_json(self.out, self.results)

    def _curve(self, label: str) -> dict:
        return self.results["curves"].setdefault(label, {})


def _top1(logits: torch.Tensor, y: torch.Tensor) -> float:
    return float((logits.argmax(1) == y).float().mean())


def run_key(config_path: Path, overrides: list[str], extra: dict) -> str:
    """Hash of what decides a run's numbers: the config file's text, the overrides and ``extra``."""
    material = {"config": config_path.read_text(encoding="utf-8"), "overrides": list(overrides), **extra}
    return hashlib.sha256(json.dumps(material, sort_keys=True).encode()).hexdigest()[:16]


def claim_work_dir(work: Path, key: str, fresh: bool) -> bool:
    """Use ``work`` for a run keyed ``key``; True when it holds a run of that key to resume.

    Raises:
        SystemExit: ``work`` holds another run's checkpoints and ``fresh`` was not given.
    """
    stamp = work / "run-key.txt"
    if stamp.exists() and not fresh:
        if stamp.read_text().strip() == key:
            return True
        raise SystemExit(f"{work} holds checkpoints of another config (key {stamp.read_text().strip()} != {key}); "
                         "pass --fresh to discard them, or --work another folder")
    if fresh and work.exists():
        import shutil

        shutil.rmtree(work)
    work.mkdir(parents=True, exist_ok=True)
    atomic.write_text(stamp, key + "\n")
    return False


def load_partial(out: Path, key: str) -> dict | None:
    """The JSON of an interrupted or finished run with this key, if any.

    A finished one counts too: rerunning the command after one role finished (the other was
    interrupted) resumes that role at its last epoch, and it must keep the curve it recorded.
    """
    if not out.exists():
        return None
    try:
        saved = json.loads(out.read_text())
    except (OSError, ValueError):
        return None
    return saved if saved.get("run_key") == key and saved.get("status") in ("running", "done") else None


def curve_rows(curve: dict) -> list[dict]:
    """A curve's points in epoch order."""
    return [curve[k] for k in sorted(curve, key=int)]


def render_curves(results: dict, rows_wanted: int = 12) -> list[str]:
    """Markdown lines: the curve table (about ``rows_wanted`` epochs, always the last) and a reading aid."""
    curves = results.get("curves") or {}
    if not curves:
        return []
    labels = [k for k in ("student", "baseline") if k in curves]
    epochs = sorted({int(e) for label in labels for e in curves[label]})
    step = max(1, len(epochs) // rows_wanted)
    keep = [e for e in epochs if e % step == 0 or e == epochs[-1] or e == epochs[0]]
    pct = lambda x: "–" if x is None else f"{100 * x:.2f}%"  # noqa: E731
    head = ["epoch"]
    for label in labels:
        name = "KD" if label == "student" else "hard labels"
        head += [f"{name} val", f"{name} test", f"{name} train agree", f"{name} val agree"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for e in keep:
        cells = [str(e)]
        for label in labels:
            p = curves[label].get(str(e), {})
            cells += [pct(p.get("val_top1")), pct(p.get("test_top1")), pct(p.get("train_agree")),
                      pct(p.get("val_agree"))]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def plot_curves(results: dict, png: Path) -> Path | None:
    """Val (lines) and test (dots) top-1 per epoch for KD and the baseline, plus the teacher's test top-1."""
    curves = results.get("curves") or {}
    if not curves:
        return None
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    for label, colour, name in (("student", "tab:blue", "KD student"), ("baseline", "tab:orange", "hard labels")):
        points = curve_rows(curves.get(label, {}))
        if not points:
            continue
        ax.plot([p["epoch"] for p in points], [100 * p["val_top1"] for p in points], color=colour,
                label=f"{name} (val)")
        tested = [p for p in points if p.get("test_top1") is not None]
        ax.plot([p["epoch"] for p in tested], [100 * p["test_top1"] for p in tested], "o", color=colour,
                label=f"{name} (test)")
    teacher = (results.get("rows") or {}).get("teacher")
    if teacher:
        ax.axhline(100 * teacher["top1"], color="grey", ls="--", label="teacher (test)")
        ax.axhline(97 * teacher["top1"], color="grey", ls=":", label="97% of teacher")
    ax.set_xlabel("epoch")
    ax.set_ylabel("top-1 (%)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    atomic.write_bytes(png, buffer.getvalue())
    return png
