"""Stage keys and the stage cache in-process (the subprocess kill/resume test covers a real build)."""

from __future__ import annotations

import io

import torch

from edgekd import atomic
from edgekd.artifact import Artifact
from edgekd.config import load_config
from edgekd.data.bundle import DataBundle, Split
from edgekd.pipeline import BuildContext
from edgekd.progress import NullReporter
from edgekd.resume import StageCache
from edgekd.targets import load_target


def _data() -> DataBundle:
    g = torch.Generator().manual_seed(0)
    split = Split(torch.randn(6, 1, 8, 8, generator=g), torch.tensor([0, 1, 0, 1, 0, 1]))
    return DataBundle(name="tiny", task="image", class_names=("a", "b"), input_shape=(1, 8, 8), train=split,
                      val=split, test=split, calibration=split)


def _ctx(tmp_path, *overrides, target="raspberry-pi-4", data=None) -> BuildContext:
    ctx = BuildContext(config=load_config(None, list(overrides)), target=load_target(target), out_dir=tmp_path,
                       data=data or _data(), reporter=NullReporter(), threads=1)
    ctx.work_dir.mkdir(parents=True, exist_ok=True)
    return ctx


def _keys(ctx) -> dict[str, str]:
    cache = StageCache(ctx)
    keys = {}
    for name in ("teacher", "distill", "export", "quantize", "bench"):
        keys[name] = cache.key = cache.stage_key(name)
    return keys


def test_keys_follow_what_each_stage_reads(tmp_path):
    base = _keys(_ctx(tmp_path))
    assert base == _keys(_ctx(tmp_path))  # deterministic
    lr = _keys(_ctx(tmp_path, "distill.lr=0.001"))
    assert lr["teacher"] == base["teacher"] and all(lr[s] != base[s] for s in ("distill", "export", "bench"))
    latency = _keys(_ctx(tmp_path, "bench.latency_mode=off"))
    assert [latency[s] == base[s] for s in base] == [True, True, True, True, False]
    assert _keys(_ctx(tmp_path, "seed=1"))["teacher"] != base["teacher"]
    assert _keys(_ctx(tmp_path, target="pixel-8"))["bench"] != base["bench"]
    other = _data()
    other.train.x[0, 0, 0, 0] += 1  # one pixel of the data
    assert _keys(_ctx(tmp_path, data=other))["teacher"] != base["teacher"]


def _record_teacher(ctx) -> torch.nn.Module:
    from edgekd.teachers.scratch import ScratchCNN

    torch.manual_seed(3)
    model = ScratchCNN(1, 2, ctx.config.teacher.width).eval()
    path, rel = ctx.artifact_file("teacher.pt")
    buffer = io.BytesIO()
    torch.save(model.state_dict(), buffer)
    atomic.write_bytes(path, buffer.getvalue())
    cache = StageCache(ctx)
    assert cache.begin("teacher") is None
    art = Artifact(name="teacher", role="teacher", format="torch", precision="fp32", path=rel, model=model,
                   input_shape=(1, 8, 8), params=1, macs=2)
    ctx.extras["teacher_history"] = {"best_epoch": 1}
    cache.finish("teacher", [art])
    return model


def test_restore_rebuilds_the_model_and_extras(tmp_path):
    ctx = _ctx(tmp_path, "teacher.width=4")
    model = _record_teacher(ctx)
    again = _ctx(tmp_path, "teacher.width=4")
    restored = StageCache(again).begin("teacher")
    assert restored is not None and restored[0].model is not model
    x = _data().test.x
    assert torch.equal(restored[0].model(x), model(x))
    assert again.extras == {"teacher_history": {"best_epoch": 1}}


def test_changed_config_or_damaged_file_reruns_the_stage(tmp_path):
    ctx = _ctx(tmp_path, "teacher.width=4")
    _record_teacher(ctx)
    (ctx.work_dir / "checkpoints").mkdir()
    (ctx.work_dir / "checkpoints" / "teacher.ckpt").write_bytes(b"old")
    changed = _ctx(tmp_path, "teacher.width=4", "teacher.lr=0.1")
    assert StageCache(changed).begin("teacher") is None
    assert not (ctx.work_dir / "stages" / "teacher.json").exists()
    assert not (ctx.work_dir / "artifacts" / "teacher.pt").exists()  # stale output removed
    assert not (ctx.work_dir / "checkpoints").exists()  # never resume training from another config

    ctx = _ctx(tmp_path / "b", "teacher.width=4")
    _record_teacher(ctx)
    (ctx.work_dir / "artifacts" / "teacher.pt").write_bytes(b"damaged")
    assert StageCache(_ctx(tmp_path / "b", "teacher.width=4")).begin("teacher") is None


def test_killed_temporaries_are_removed(tmp_path):
    ctx = _ctx(tmp_path)
    stray = ctx.work_dir / "artifacts" / f".student.pt{atomic.TMP_MARK}abc"
    stray.mkdir(parents=True)
    (stray / "student.pt").write_bytes(b"half")
    StageCache(ctx)
    assert not stray.exists()


def test_black_box_teacher_is_reloaded_from_its_file(tmp_path, teacher_files):
    g = torch.Generator().manual_seed(0)
    split = Split(torch.randn(10, 3, 8, 8, generator=g), torch.arange(10) % 5)
    data = DataBundle(name="tiny", task="image", class_names=tuple("abcde"), input_shape=(3, 8, 8), train=split,
                      val=split, test=split, calibration=split)
    onnx = tmp_path / "teacher.onnx"
    onnx.write_bytes(teacher_files["onnx"].read_bytes())
    args = ("teacher.kind=onnx", f"teacher.path={onnx}")
    from edgekd.teachers.stage import run as teacher_stage

    ctx = _ctx(tmp_path, *args, data=data)
    cache = StageCache(ctx)
    assert cache.begin("teacher") is None
    first = teacher_stage([], ctx)
    cache.finish("teacher", first)
    restored = StageCache(_ctx(tmp_path, *args, data=data)).begin("teacher")
    assert restored is not None and restored[0].path == first[0].path == str(onnx.resolve())
    assert restored[0].notes == first[0].notes and restored[0].format == "onnx"
    assert torch.allclose(restored[0].model(split.x), first[0].model(split.x))
    # The user's file changed: its sha256 is part of the key, so the stage reruns.
    onnx.write_bytes(onnx.read_bytes() + b"\0")
    assert StageCache(_ctx(tmp_path, *args, data=data)).begin("teacher") is None


def test_pruned_student_is_rebuilt_from_its_weights(tmp_path):
    """The prune stage saves a state dict (no pickle); resume resizes the registry's student to it."""
    from edgekd.prune.prune import prune_structured
    from edgekd.resume import rebuild_model
    from edgekd.students import build_student

    ctx = _ctx(tmp_path)
    data, student = ctx.data, ctx.config.student
    torch.manual_seed(0)
    pruned = build_student(student.name, data.num_classes, data.input_shape, **student.options).eval()
    prune_structured(pruned, data.input_shape, data.num_classes, 0.5)
    path, rel = ctx.artifact_file("student-pruned.pt")
    buffer = io.BytesIO()
    torch.save(pruned.state_dict(), buffer)
    atomic.write_bytes(path, buffer.getvalue())
    art = Artifact(name="student-pruned", role="student", format="torch", precision="fp32", path=rel,
                   input_shape=data.input_shape)
    rebuilt = rebuild_model(art, ctx)
    x = data.test.x
    with torch.no_grad():
        torch.testing.assert_close(rebuilt(x), pruned(x))
