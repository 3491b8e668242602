"""Shared pieces of the bring-your-own-teacher benchmark: paths, state files, metrics, timing.

Everything here is plain numpy/json so it can be imported without TensorFlow; the
TensorFlow parts live in ``tf_tools.py``.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Self

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

# Imported after the sys.path insert above: run as a script, the repo root is not on the path.
from edgekd import atomic  # noqa: E402

DATA = ROOT.parent / "shared" / "data"
CIFAR = DATA / "cifar10-jpg"
FSDD = DATA / "fsdd" / "recordings"
# BYO_WORK moves the outputs (smoke runs); the default is git-ignored.
WORK = Path(os.environ.get("BYO_WORK", ROOT / "benchmarks" / "work" / "byo"))
RESULTS = ROOT / "benchmarks" / "results" / "byo-teachers.json"
CIFAR_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
SEED = 0
# ECE convention shared with edgekd's calibration module: 15 equal-width bins, (lo, hi].
ECE_BINS = 15


def read_json(path: Path) -> dict | None:
    """The JSON object in ``path``, or None when the file does not exist yet."""
    return json.loads(path.read_text()) if path.exists() else None


def write_json(path: Path, obj: dict) -> None:
    """Write ``obj`` atomically (a crash never leaves half a file to resume from)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic.write_json(path, obj)


def save_npz(path: Path, **arrays) -> None:
    """Write a compressed npz atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic.atomic_path(path) as tmp, open(tmp, "wb") as handle:
        np.savez_compressed(handle, **arrays)


def save_npy(path: Path, array: np.ndarray) -> None:
    """Write one .npy atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic.atomic_path(path) as tmp, open(tmp, "wb") as handle:
        np.save(handle, array)


def write_bytes(path: Path, data: bytes) -> None:
    """Write a model file atomically."""
    atomic.write_bytes(path, data)


def probability_metrics(probs: np.ndarray, labels: np.ndarray, n_bins: int = ECE_BINS) -> dict:
    """Top-1, ECE, NLL and Brier of a model that outputs probabilities (softmax), computed directly.

    ECE (Guo et al. 2017): top-1 confidence into ``n_bins`` equal-width bins ``(i/n, (i+1)/n]``
    (confidence 0 in the first bin); ``ECE = sum_b |B_b|/N * |acc(B_b) - conf(B_b)|``.
    Rows are renormalised to sum to 1 first (INT8 outputs are quantised probabilities);
    NLL clips probabilities at 1e-12.
    """
    p = np.asarray(probs, dtype=np.float64)
    p = p / np.clip(p.sum(axis=1, keepdims=True), 1e-12, None)
    labels = np.asarray(labels).astype(np.int64)
    conf = p.max(axis=1)
    pred = p.argmax(axis=1)
    correct = pred == labels
    idx = np.clip(np.ceil(conf * n_bins).astype(np.int64) - 1, 0, n_bins - 1)
    ece = 0.0
    for b in range(n_bins):
        mask = idx == b
        if mask.any():
            ece += mask.mean() * abs(correct[mask].mean() - conf[mask].mean())
    rows = np.arange(len(labels))
    onehot = np.zeros_like(p)
    onehot[rows, labels] = 1.0
    return {"top1": float(correct.mean()), "correct": int(correct.sum()), "n": len(labels),
            "ece": float(ece), "nll": float(-np.log(np.clip(p[rows, labels], 1e-12, None)).mean()),
            "brier": float(((p - onehot) ** 2).sum(axis=1).mean()), "ece_bins": n_bins}


def agreement(probs_a: np.ndarray, probs_b: np.ndarray) -> dict:
    """How closely two models' outputs match: top-1 agreement and the largest probability gap."""
    a, b = np.asarray(probs_a, np.float64), np.asarray(probs_b, np.float64)
    return {"top1_agreement": float((a.argmax(1) == b.argmax(1)).mean()),
            "max_abs_prob_diff": float(np.abs(a - b).max())}


def machine() -> dict:
    """Where and with what the numbers were measured (TensorFlow versions added by the caller)."""
    cpu = platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "python": platform.python_version(),
            "os": platform.platform(), "load_avg_at_start": list(os.getloadavg()),
            "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")}


class Stopwatch:
    """Wall seconds of a block: ``with Stopwatch() as sw: ...; sw.seconds``."""

    def __enter__(self) -> Self:
        self.started = time.perf_counter()
        self.seconds = 0.0
        return self

    def __exit__(self, *exc) -> None:
        self.seconds = time.perf_counter() - self.started


def cifar_files(split: str) -> tuple[list[Path], np.ndarray]:
    """Files and labels of one split of the CIFAR-10 JPEG folders, in a fixed documented order.

    ``train``: in each class folder, files sorted by name, all but the last 100
    (``0000.jpg``-``0899.jpg``, 9,000 files). ``val``: the last 100 of each class
    (``0900.jpg``-``0999.jpg``, 1,000 files). ``test``: every file of ``test/`` (10,000).
    Labels are the alphabetical class index (airplane=0 ... truck=9). Order: class, then name.
    """
    folder = CIFAR / ("test" if split == "test" else "train")
    files, labels = [], []
    for label, name in enumerate(CIFAR_CLASSES):
        names = sorted((folder / name).glob("*.jpg"))
        if split == "train":
            names = names[:-100]
        elif split == "val":
            names = names[-100:]
        files += names
        labels += [label] * len(names)
    return files, np.asarray(labels, dtype=np.int64)


def fsdd_files(split: str) -> tuple[list[Path], np.ndarray]:
    """Files and labels of one FSDD split. Names are ``{digit}_{speaker}_{index}.wav``.

    ``test``: index 0-4 (the official test split, 300 files). ``val``: index 5-9 (300 files,
    held out from teacher training, used only to monitor it). ``train``: index 10-49
    (2,400 files). Order: sorted by file name. Label = the digit.
    """
    ranges = {"test": range(5), "val": range(5, 10), "train": range(10, 50)}[split]
    files = sorted(p for p in FSDD.glob("*.wav") if int(p.stem.split("_")[2]) in ranges)
    labels = np.asarray([int(p.stem.split("_")[0]) for p in files], dtype=np.int64)
    return files, labels


def rel(path: Path) -> str:
    """A path relative to the project root for the JSON (portable across checkouts)."""
    try:
        return str(Path(path).resolve().relative_to(ROOT))
    except ValueError:
        return os.path.relpath(path, ROOT)
