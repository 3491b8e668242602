"""SIGKILL a build at every stage, resume each time, and get the report of an uninterrupted run.

One chain of subprocesses covers both issue-6 checks at the cost of about two builds: the
build is killed as each stage starts (and once inside distillation, after epoch 1), the folder
is checked for anything that looks finished, then ``--resume`` continues. The last resume
must give the same report and the same artifact bytes as a build that was never killed.
One resume in the chain changes the quantize config, to prove a changed key reruns the stage.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.timeout(600)

FAST = ["--target", "raspberry-pi-4", "--set", "teacher.epochs=2", "--set", "distill.epochs=3",
        "--set", "bench.latency_mode=off", "--set", "export.formats=[onnx]", "--set", "teacher.width=8",
        "--set", "data.resolution=8", "--set", "distill.batch_size=256"]
# One BLAS/torch thread: on a shared 2-core machine extra threads only spin.
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "COLUMNS": "200", "PYTHONUNBUFFERED": "1"}
STAGE_LINE = re.compile(r"^\s*\d+\.\d+s (\w+)(.*)$")
WORK = ".edgekd-work"
# Report keys that are measurements of this run (time, host), not results.
VOLATILE = {"created_utc", "duration_s", "host", "host_peak_rss_bytes", "samples_per_s", "seconds", "wall_s"}


def run_build(out: Path, *extra: str, kill_at: str | None = None) -> tuple[int, list[str]]:
    """Run the CLI; with ``kill_at`` SIGKILL it when that stage starts (or that epoch line appears)."""
    cmd = [sys.executable, "-m", "edgekd.cli", "build", "--out", str(out), *FAST, *extra]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=ENV)
    seen = []
    killed = False
    for line in proc.stderr:
        seen.append(line.rstrip())
        match = STAGE_LINE.match(line)
        fresh_stage = match and match.group(1) == kill_at and "resumed" not in match.group(2)
        if kill_at and not killed and (fresh_stage or kill_at in line and "epoch" in kill_at):
            proc.send_signal(signal.SIGKILL)
            killed = True
    proc.wait(timeout=300)
    if kill_at:
        assert killed, f"never saw {kill_at!r}:\n" + "\n".join(seen)
        assert proc.returncode == -signal.SIGKILL
    return proc.returncode, seen


def assert_nothing_looks_complete(out: Path) -> None:
    """After a kill: no finished-looking output and no temp file outside the staging folder."""
    for name in ("manifest.json", "report.json", "report.md", "config.resolved.yaml", "artifacts"):
        assert not (out / name).exists(), f"{name} exists after a kill"
    outside = [p for p in out.rglob("*") if WORK not in p.relative_to(out).parts]
    assert outside == [], f"files outside {WORK}: {outside}"


def stages_run(lines: list[str]) -> dict[str, bool]:
    """Stage name -> True if it ran, False if it was restored (top-level stage lines only)."""
    out = {}
    for line in lines:
        match = STAGE_LINE.match(line)
        if match and match.group(1) not in out and not match.group(2).strip().startswith(("teacher", "student")):
            out[match.group(1)] = "resumed" not in match.group(2)
    return out


def normalise(obj):
    """The report without timings, host facts and paths of temporary folders."""
    if isinstance(obj, dict):
        out = {}
        for key, value in obj.items():
            if key in VOLATILE:
                continue
            if key == "latency_ms" and isinstance(value, dict):
                value = {k: v for k, v in value.items() if k != "host"}
            out[key] = normalise(value)
        return out
    if isinstance(obj, list):
        return [normalise(v) for v in obj]
    return obj


def manifest(out: Path) -> dict[str, str]:
    files = json.loads((out / "manifest.json").read_text())["files"]
    return {f["path"]: f["sha256"] for f in files if f["path"].startswith("artifacts/")}


def test_kill_at_every_stage_then_resume_matches_uninterrupted(tmp_path):
    reference = tmp_path / "reference"
    code, _ = run_build(reference)
    assert code in (0, 3)

    out = tmp_path / "killed"
    run_build(out, kill_at="teacher")
    assert_nothing_looks_complete(out)
    # Inside distillation, after its first epoch checkpoint.
    _, lines = run_build(out, "--resume", kill_at="student epoch 1/3")
    assert_nothing_looks_complete(out)
    assert (out / WORK / "checkpoints" / "student.ckpt").is_file()
    for stage in ("export", "quantize", "measure", "predict"):
        _, lines = run_build(out, "--resume", kill_at=stage)
        assert_nothing_looks_complete(out)
        ran = stages_run(lines)
        assert ran["teacher"] is False, lines  # restored, never retrained
        if stage == "export":
            # Distillation continued from its checkpoint: epochs 2 and 3 only.
            assert any("student epoch 2/3" in x for x in lines) and not any("student epoch 1/3" in x for x in lines)
        else:
            assert ran["distill"] is False, lines

    # A changed quantize config must not reuse the recorded INT8 model: quantize reruns.
    _, lines = run_build(out, "--resume", "--set", "quantize.per_channel=false", kill_at="measure")
    ran = stages_run(lines)
    assert ran["distill"] is False and ran["export"] is False and ran["quantize"] is True, lines

    code, lines = run_build(out, "--resume")
    assert code in (0, 3), "\n".join(lines)
    ran = stages_run(lines)
    assert ran["teacher"] is False and ran["distill"] is False and ran["quantize"] is True, lines
    assert not (out / WORK).exists()

    got = json.loads((out / "report.json").read_text())
    want = json.loads((reference / "report.json").read_text())
    assert normalise(got) == normalise(want)
    assert manifest(out) == manifest(reference)
    assert (out / "config.resolved.yaml").read_text() == (reference / "config.resolved.yaml").read_text()
