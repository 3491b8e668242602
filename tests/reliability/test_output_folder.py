"""The output folder: one build at a time, never a stranger's folder, never a half promotion.

Issue 17's defects 1-3 and its "no partial promotion" and "no NaN in reports" items. One
tiny finished build (module fixture) is copied into each test that needs an existing build.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import socket
import subprocess
from pathlib import Path

import pytest

from edgekd import api, cli, outdir, promote
from edgekd.errors import OutputDirError
from edgekd.outdir import LOCK_NAME, BuildLock
from edgekd.report.finite import scrub_report
from edgekd.report.schema import schema_errors

TINY = ["teacher.epochs=1", "distill.epochs=1", "bench.latency_mode=off", "export.formats=[onnx]", "teacher.width=8",
        "data.resolution=8", "distill.batch_size=256"]  # the same as conftest's tiny builds
TARGET = "raspberry-pi-4"
WORK = ".edgekd-work"


def cli_build(capsys, out: Path, *extra: str) -> tuple[int, str]:
    argv = ["build", "--out", str(out), "--target", TARGET, *[a for kv in TINY for a in ("--set", kv)], *extra]
    capsys.readouterr()
    with pytest.raises(SystemExit) as exc:
        cli.main(argv)
    return exc.value.code, capsys.readouterr().err


def error_line(err: str) -> str:
    lines = [x for x in err.splitlines() if x.startswith("error: ")]
    assert len(lines) == 1 and " — fix: " in lines[0], err
    return lines[0]


def snapshot(folder: Path) -> dict[str, str]:
    """sha256 of every file under ``folder`` outside the staging folder (and the lock)."""
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.rglob("*"))
            if p.is_file() and WORK not in p.relative_to(folder).parts and p.name != LOCK_NAME}


def fail_last_serialisation(path, manifest):
    raise RuntimeError("injected failure while serialising the manifest")


@pytest.fixture
def existing(tiny_finished_build, tmp_path) -> Path:
    out = tmp_path / "existing"
    shutil.copytree(tiny_finished_build, out)
    return out


# -- defect 1: one build per folder ---------------------------------------------------------------
def test_second_build_into_a_locked_folder_exits_2_naming_the_owner(existing, capsys):
    before = snapshot(existing)
    with BuildLock(existing):  # another build holds the folder
        code, err = cli_build(capsys, existing)
        assert code == 2
        line = error_line(err)
        assert f"in use by pid {os.getpid()} on {socket.gethostname()}" in line and "another --out" in line
        assert snapshot(existing) == before and (existing / LOCK_NAME).exists()
    assert not (existing / LOCK_NAME).exists()


def dead_pid() -> int:
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def test_stale_lock_of_a_killed_build_is_taken_over(tmp_path):
    stale = {"pid": dead_pid(), "host": socket.gethostname(), "since_utc": "2026-01-01T00:00:00+00:00"}
    (tmp_path / LOCK_NAME).write_text(json.dumps(stale))
    lock = BuildLock(tmp_path).acquire()
    assert lock.took_over == stale
    assert json.loads((tmp_path / LOCK_NAME).read_text())["pid"] == os.getpid()
    with pytest.raises(OutputDirError, match=f"in use by pid {os.getpid()}"):
        BuildLock(tmp_path).acquire()
    lock.release()
    assert not (tmp_path / LOCK_NAME).exists()


@pytest.mark.parametrize("owner,in_use", [
    ({"pid": os.getpid(), "host": socket.gethostname()}, True),  # a live process here
    ({"pid": "dead", "host": socket.gethostname()}, False),  # gone: stale
    ({"pid": 1, "host": "another-host"}, True),  # cannot be checked: assumed alive
])
def test_without_flock_the_recorded_pid_decides(owner, in_use, tmp_path, monkeypatch):
    monkeypatch.setattr(outdir, "_try_flock", lambda fd: None)  # a file system without flock
    if owner["pid"] == "dead":
        owner = {**owner, "pid": dead_pid()}
    (tmp_path / LOCK_NAME).write_text(json.dumps(owner))
    if in_use:
        with pytest.raises(OutputDirError, match=f"in use by pid {owner['pid']} on {owner['host']}"):
            BuildLock(tmp_path).acquire()
    else:
        BuildLock(tmp_path).acquire().release()


# -- defect 2: a folder edgekd did not make ------------------------------------------------------
def test_foreign_non_empty_folder_is_refused_without_force(tmp_path, capsys):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("mine\n")
    (out / "manifest.json").write_text('{"name": "a web app manifest"}')
    code, err = cli_build(capsys, out)
    assert code == 2
    assert "not written by edgekd" in error_line(err) and "--force" in error_line(err)
    assert sorted(p.name for p in out.iterdir()) == ["manifest.json", "notes.txt"]


def test_user_files_under_artifacts_are_never_deleted_without_force(existing, capsys):
    mine = existing / "artifacts" / "my-model.bin"
    mine.write_bytes(b"precious")
    before = snapshot(existing)
    code, err = cli_build(capsys, existing)
    assert code == 2
    line = error_line(err)
    assert "artifacts/my-model.bin" in line and "--force" in line
    assert snapshot(existing) == before


def test_user_files_under_deploy_are_never_deleted_without_force(existing, capsys):
    # deploy/ is replaced whole like artifacts/: the bundle edgekd wrote is listed, a user's file is not
    listed = {f["path"] for f in json.loads((existing / "manifest.json").read_text())["files"]}
    assert {str(p.relative_to(existing)) for p in (existing / "deploy").rglob("*") if p.is_file()} <= listed
    mine = existing / "deploy" / "firmware.c"
    mine.write_text("int main() { return 0; }\n")
    before = snapshot(existing)
    code, err = cli_build(capsys, existing)
    assert code == 2
    line = error_line(err)
    assert "deploy/firmware.c" in line and "--force" in line
    assert snapshot(existing) == before


def test_force_builds_into_a_foreign_folder_and_keeps_its_files(tmp_path, capsys):
    out = tmp_path / "mine"
    (out / "artifacts").mkdir(parents=True)
    (out / "notes.txt").write_text("mine\n")
    (out / "artifacts" / "old.bin").write_bytes(b"replaced")
    code, err = cli_build(capsys, out, "--force")
    assert code in (0, 3), err
    assert (out / "notes.txt").read_text() == "mine\n" and not (out / "artifacts" / "old.bin").exists()
    listed = {f["path"] for f in json.loads((out / "manifest.json").read_text())["files"]}
    assert {str(p.relative_to(out)) for p in (out / "artifacts").rglob("*") if p.is_file()} <= listed
    assert not (out / LOCK_NAME).exists() and not (out / WORK).exists()


# -- defect 3: check on a report with no student --------------------------------------------------
def test_check_fails_a_report_with_no_deployable_student(existing, capsys, tmp_path):
    report = json.loads((existing / "report.json").read_text())
    report["models"] = [m for m in report["models"] if m["role"] == "teacher"]
    path = tmp_path / "teacher-only.json"
    path.write_text(json.dumps(report))
    capsys.readouterr()
    with pytest.raises(SystemExit) as exc:
        cli.main(["check", str(path)])
    assert exc.value.code == 3
    result = api.check(path)
    assert not result["passed"]
    assert [b["metric"] for b in result["budgets"] if not b["passed"]] == ["deployable_student"]


# -- no partial promotion -------------------------------------------------------------------------
def test_failure_at_the_last_serialisation_promotes_nothing_into_a_new_folder(tiny_failed_build):
    # conftest's build into a new folder failed while serialising its manifest: only the staging
    # folder is there (kept for --resume, as after a kill); no lock, nothing promoted.
    assert sorted(p.name for p in tiny_failed_build.iterdir()) == [WORK]


def test_failure_at_the_last_serialisation_leaves_an_existing_build_unchanged(existing, capsys, monkeypatch):
    before = snapshot(existing)
    with monkeypatch.context() as patch:
        patch.setattr(promote, "write_manifest", fail_last_serialisation)
        code, err = cli_build(capsys, existing, "--set", "seed=5")  # a rebuild needs no --force
    assert code == 1 and "injected failure" in err
    assert snapshot(existing) == before  # the old build, byte for byte: nothing new, nothing lost
    assert not (existing / LOCK_NAME).exists()
    code, err = cli_build(capsys, existing, "--set", "seed=5", "--resume")
    assert code in (0, 3), err
    assert json.loads((existing / "report.json").read_text())["config"]["seed"] == 5
    assert not (existing / WORK).exists()


# -- reports never hold NaN/Inf -----------------------------------------------------------------------
def test_non_finite_metrics_become_null_with_a_note_and_fail_check(existing, tmp_path):
    report = json.loads((existing / "report.json").read_text())
    chosen = next(m for m in report["models"] if m["name"] == report["chosen"])
    chosen["accuracy"]["top1"] = float("nan")
    chosen["calibration"]["ece"] = float("inf")
    report["duration_s"] = float("nan")
    clean = scrub_report(report)
    model = next(m for m in clean["models"] if m["name"] == clean["chosen"])
    assert model["accuracy"]["top1"] is None and model["calibration"]["ece"] is None
    assert any("accuracy.top1 was nan" in n for n in model["notes"]) and any("inf" in n for n in model["notes"])
    assert any("duration_s" in n for n in clean["notes"]) and clean["duration_s"] is None
    text = json.dumps(clean, allow_nan=False)  # strict JSON: would raise on a NaN
    assert [e for e in schema_errors(json.loads(text)) if "duration_s" not in e] == []
    # Markdown and HTML render a null metric.
    assert "top1_drop_vs_teacher" in promote.render_outputs(clean, api.load_config(None))["report.md"]
    path = tmp_path / "report.json"
    clean["duration_s"] = 1.0
    path.write_text(json.dumps(clean))
    result = api.check(path)
    drop = next(b for b in result["budgets"] if b["metric"] == "top1_drop_vs_teacher")
    assert drop["value"] is None and drop["passed"] is False and result["passed"] is False


def test_nan_token_in_a_report_file_is_read_as_not_measured(existing, tmp_path):
    text = (existing / "report.json").read_text()
    report = json.loads(text)
    chosen = next(m for m in report["models"] if m["name"] == report["chosen"])
    chosen["accuracy"]["top1"] = float("nan")
    path = tmp_path / "report.json"
    path.write_text(json.dumps(report))  # Python writes the non-standard NaN token
    drop = next(b for b in api.check(path)["budgets"] if b["metric"] == "top1_drop_vs_teacher")
    assert drop["value"] is None and not drop["passed"]


def test_regression_against_a_baseline_fails_when_now_not_measured(existing, tmp_path):
    report = json.loads((existing / "report.json").read_text())
    chosen = next(m for m in report["models"] if m["name"] == report["chosen"])
    chosen["accuracy"]["top1"] = None
    now = tmp_path / "now.json"
    now.write_text(json.dumps(report))
    rows = api.check(now, baseline=existing / "report.json")["regressions"]
    top1 = next(r for r in rows if r["metric"] == "top1")
    assert top1["value"] is None and top1["passed"] is False
