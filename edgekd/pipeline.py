"""Runs the stages in order: teacher → distill → export → quantize → bench.

Each stage is a function ``run(artifacts, ctx) -> artifacts`` that receives every record
built so far and returns the list with its new records appended. Stages are imported
lazily by dotted path (so ``import edgekd`` stays light and a stage's heavy backend is
only loaded when that stage runs). Quantization follows export because ONNX Runtime's
static INT8 works on the exported ONNX graph and TFLite's on the traced torch graph.
"""

from __future__ import annotations

import importlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from .artifact import Artifact
from .config import BuildConfig
from .data.bundle import DataBundle
from .progress import Reporter
from .targets import TargetProfile

WORK_DIR_NAME = ".edgekd-work"

Stage = Callable[[list[Artifact], "BuildContext"], list[Artifact]]

STAGES: tuple[tuple[str, str], ...] = (
    ("teacher", "edgekd.teachers.stage:run"),
    ("distill", "edgekd.distill.stage:run"),
    ("prune", "edgekd.prune.stage:run"),
    ("calibrate", "edgekd.calibrate.temperature:run"),
    ("export", "edgekd.export.stage:run"),
    ("quantize", "edgekd.quantize.stage:run"),
    ("bench", "edgekd.measure.stage:run"),
)


@dataclass
class BuildContext:
    """Everything a stage may read. Stages write only under ``work_dir``.

    Attributes:
        config: The validated build config.
        target: The device profile the build is judged against.
        out_dir: The user's output folder (receives the finished outputs at the end).
        data: The dataset with its fixed splits.
        reporter: Progress sink.
        threads: Threads for host runtimes (config override or the profile's).
    """

    config: BuildConfig
    target: TargetProfile
    out_dir: Path
    data: DataBundle
    reporter: Reporter
    threads: int
    extras: dict = field(default_factory=dict)

    @property
    def work_dir(self) -> Path:
        """Staging folder inside ``out_dir``; promoted into place when the build finishes."""
        return self.out_dir / WORK_DIR_NAME

    def artifact_file(self, filename: str) -> tuple[Path, str]:
        """Where a stage writes an artifact: (absolute staging path, path relative to out_dir)."""
        rel = f"artifacts/{filename}"
        return self.work_dir / rel, rel

    def resolve(self, rel: str) -> Path:
        """Absolute path of an artifact recorded as ``rel`` (staged or already promoted)."""
        staged = self.work_dir / rel
        return staged if staged.exists() else self.out_dir / rel

    def formats(self) -> list[str]:
        """Formats to export: the config's, else the target's."""
        return list(self.config.export.formats or self.target.formats)


def load_stage(dotted: str) -> Stage:
    """Import ``package.module:function`` lazily."""
    module_name, _, attr = dotted.partition(":")
    return getattr(importlib.import_module(module_name), attr)


def run_pipeline(ctx: BuildContext) -> list[Artifact]:
    """Run every enabled stage and return all artifacts.

    Each finished stage is recorded in ``work_dir`` (see :mod:`edgekd.resume`); on
    ``--resume`` a stage whose inputs and config are unchanged is restored, not rerun.
    """
    from .resume import StageCache

    cache = StageCache(ctx)
    artifacts: list[Artifact] = []
    for name, dotted in STAGES:
        if name == "quantize" and not ctx.config.quantize.enabled:
            ctx.reporter.note("quantize: off (quantize.enabled=false)")
            continue
        if name == "prune" and not ctx.config.prune.enabled:
            continue  # off by default: no note for the common case
        restored = cache.begin(name)
        if restored is not None:
            ctx.reporter.stage(name, "(resumed: reused from .edgekd-work)")
            artifacts = restored
            continue
        ctx.reporter.stage(name)
        artifacts = load_stage(dotted)(artifacts, ctx)
        cache.finish(name, artifacts)
    return artifacts


def default_threads(ctx_threads: int | None, target: TargetProfile) -> int:
    """Threads for host measurements: never more than this machine has."""
    wanted = ctx_threads or target.runtime.threads
    return max(1, min(wanted, os.cpu_count() or 1))
