"""A resumed build's ``duration_s`` counts the earlier runs it reused, not only the resumed part.

Two sources (``BuildState.resumed_s``): stages restored from an earlier run bring their
recorded seconds; a stage that was killed and continues from its checkpoints brings the
earlier runs' seconds up to their newest checkpoint. The tests plant recorded times and
checkpoint dates (no wall-clock asserts).
"""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path
from types import SimpleNamespace

from edgekd import api
from edgekd.resume import StageCache
from edgekd.stage import Stage

TINY = ["teacher.epochs=1", "distill.epochs=1", "bench.latency_mode=off", "export.formats=[onnx]", "teacher.width=8",
        "data.resolution=8", "distill.batch_size=256"]  # conftest's tiny build
EARLIER_S = 1000.0


def test_restored_stages_bring_their_recorded_seconds(tiny_failed_build, tmp_path):
    out = tmp_path / "out"
    shutil.copytree(tiny_failed_build, out)
    records = sorted((out / ".edgekd-work" / "stages").glob("*.json"))
    assert records, "the failed build recorded no stage"
    for path in records:  # as if the earlier run had spent 1000 s more before each record
        record = json.loads(path.read_text())
        record["state"]["elapsed_s"] += EARLIER_S
        path.write_text(json.dumps(record))
    result = api.build(None, "raspberry-pi-4", out, overrides=TINY, resume=True)
    assert result.report["duration_s"] >= EARLIER_S


def one_stage_cache(work: Path) -> tuple[StageCache, Stage]:
    stage = Stage(name="train", run=lambda state, ctx: state, reads=())
    ctx = SimpleNamespace(work_dir=work)
    return StageCache(ctx, (stage,)), stage  # type: ignore[arg-type]


def test_a_killed_stage_brings_its_seconds_up_to_the_newest_checkpoint(tmp_path):
    work = tmp_path / ".edgekd-work"
    cache, stage = one_stage_cache(work)
    assert cache.begin(stage) is None and cache.carried_s == 0.0  # first run: nothing earlier
    pending = json.loads((work / "stages" / "train.pending").read_text())
    checkpoint = work / "checkpoints" / "student.ckpt"
    checkpoint.parent.mkdir(parents=True)
    checkpoint.write_bytes(b"epoch 3")
    stamp = pending["started_unix"] + 42.0  # the run was killed 42 s in, after its last checkpoint
    os.utime(checkpoint, (stamp, stamp))

    cache, stage = one_stage_cache(work)  # --resume: same key, checkpoints kept
    assert cache.begin(stage) is None
    assert abs(cache.carried_s - 42.0) < 1e-6
    pending = json.loads((work / "stages" / "train.pending").read_text())
    assert abs(pending["carried_s"] - 42.0) < 1e-6 and pending["started_unix"] <= time.time()

    stamp = pending["started_unix"] + 8.0  # killed again, 8 s after its own start
    os.utime(checkpoint, (stamp, stamp))
    cache, stage = one_stage_cache(work)
    cache.begin(stage)
    assert abs(cache.carried_s - 50.0) < 1e-6  # both earlier runs


def test_checkpoints_older_than_the_stage_bring_nothing(tmp_path):
    work = tmp_path / ".edgekd-work"
    cache, stage = one_stage_cache(work)
    cache.begin(stage)
    pending = json.loads((work / "stages" / "train.pending").read_text())
    old = work / "checkpoints" / "teacher.ckpt"
    old.parent.mkdir(parents=True)
    old.write_bytes(b"written before this stage started")
    os.utime(old, (pending["started_unix"] - 100, pending["started_unix"] - 100))
    cache, stage = one_stage_cache(work)
    cache.begin(stage)
    assert cache.carried_s == 0.0
