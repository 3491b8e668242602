"""Promotion: the finished build moves from ``DIR/.edgekd-work/`` into ``DIR`` in one short step.

Everything that can fail for a reason other than the disk is done first, inside the staging
folder: the config, report.json (strict JSON), report.md and report.html are rendered and
written, every file is hashed and the manifest written. Only then do files move, by
``os.replace`` within one file system: the old manifest first (into the staging folder, so
a folder caught mid-promotion never looks finished and its files stay accounted for), then
``artifacts/`` and ``deploy/``, the reports and the config, and the new manifest last. A failure before the
first move leaves ``DIR`` exactly as it was.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import atomic
from .outdir import PROMOTE_DIR, REPLACED_DIRS

if TYPE_CHECKING:
    from .config import BuildConfig
    from .stage import BuildContext

# The files a build writes next to artifacts/, in the order they are moved (manifest.json after them).
OUTPUT_FILES = ("config.resolved.yaml", "report.json", "report.md", "report.html")


def render_outputs(report: dict[str, Any], cfg: "BuildConfig") -> dict[str, str]:
    """Every output file's text, rendered in memory (raises before anything is written)."""
    from .config import dump_config
    from .report.html import render_html
    from .report.markdown import render_markdown

    return {
        "config.resolved.yaml": dump_config(cfg),
        # allow_nan=False: a NaN that escaped the report's scrubbing fails here, before any move.
        "report.json": json.dumps(report, indent=2, allow_nan=False) + "\n",
        "report.md": render_markdown(report),
        "report.html": render_html(report),
    }


def stage_outputs(ctx: "BuildContext", report: dict[str, Any], cfg: "BuildConfig") -> Path:
    """Write the outputs and the manifest into the staging folder; return that folder.

    The manifest lists ``artifacts/...`` and ``deploy/...`` (as staged) and the output files, with
    sha256 and size.
    """
    staging = ctx.work_dir / PROMOTE_DIR
    shutil.rmtree(staging, ignore_errors=True)
    texts = render_outputs(report, cfg)
    for name, text in texts.items():
        atomic.write_text(staging / name, text)
    files = sorted(p for name in REPLACED_DIRS for p in (ctx.work_dir / name).rglob("*") if p.is_file())
    entries = [{"path": str(p.relative_to(ctx.work_dir)), "sha256": atomic.sha256_of(p),
                "size_bytes": p.stat().st_size} for p in files]
    entries += [{"path": name, "sha256": atomic.sha256_of(staging / name),
                 "size_bytes": (staging / name).stat().st_size} for name in OUTPUT_FILES]
    write_manifest(staging / "manifest.json", {"edgekd_version": report["edgekd_version"], "files": entries})
    return staging


def write_manifest(path: Path, manifest: dict[str, Any]) -> None:
    """The last serialisation of a build (tests inject a failure here)."""
    atomic.write_json(path, manifest)


def promote(ctx: "BuildContext", report: dict[str, Any], cfg: "BuildConfig") -> None:
    """Stage every output, then move them into ``ctx.out_dir``; ``manifest.json`` last."""
    staging = stage_outputs(ctx, report, cfg)
    out = ctx.out_dir
    old_manifest = out / "manifest.json"
    if old_manifest.exists():
        os.replace(old_manifest, staging / "old-manifest.json")
    for name in REPLACED_DIRS:
        staged, final, old = ctx.work_dir / name, out / name, out / f".{name}.old"
        shutil.rmtree(old, ignore_errors=True)
        if final.exists():
            os.replace(final, old)
        if staged.exists():
            os.replace(staged, final)
        shutil.rmtree(old, ignore_errors=True)
    for name in OUTPUT_FILES:
        os.replace(staging / name, out / name)
    os.replace(staging / "manifest.json", out / "manifest.json")
    atomic.fsync_dir(out)
    shutil.rmtree(ctx.work_dir, ignore_errors=True)
