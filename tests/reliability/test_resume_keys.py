"""Stage keys derived from each stage's declared reads, and the stage cache in-process.

The subprocess kill/resume test covers a real build; here the keys and records are checked
directly, for every stage and every path it declares.
"""

from __future__ import annotations

import io

import pytest
import torch

from edgekd import atomic
from edgekd.artifact import Artifact
from edgekd.config import load_config
from edgekd.data.bundle import DataBundle, Split
from edgekd.pipeline import load_stages
from edgekd.progress import NullReporter
from edgekd.resume import StageCache, read_value, stage_key
from edgekd.stage import BuildContext, Stage, undeclared
from edgekd.state import BuildState
from edgekd.targets import load_target

STAGES = load_stages()


def _data() -> DataBundle:
    g = torch.Generator().manual_seed(0)
    split = Split(torch.randn(6, 1, 8, 8, generator=g), torch.tensor([0, 1, 0, 1, 0, 1]))
    return DataBundle(name="tiny", task="image", class_names=("a", "b"), input_shape=(1, 8, 8), train=split,
                      val=split, test=split, representative=split)


def _ctx(tmp_path, *overrides, target="raspberry-pi-4", data=None) -> BuildContext:
    ctx = BuildContext(config=load_config(None, list(overrides)), target=load_target(target), out_dir=tmp_path,
                       data=data or _data(), reporter=NullReporter(), threads=1)
    ctx.work_dir.mkdir(parents=True, exist_ok=True)
    return ctx


def _keys(ctx) -> dict[str, str]:
    keys, upstream = {}, ""
    for stage in STAGES:
        keys[stage.name] = upstream = stage_key(stage, ctx, upstream)
    return keys


class _Dumped:
    """A config or profile whose ``model_dump`` returns edited data (the key is computed from it)."""

    def __init__(self, original, data):
        self._original, self._data = original, data

    def model_dump(self, **_kwargs):
        return self._data

    def __getattr__(self, name):
        return getattr(self._original, name)


def _changed(ctx: BuildContext, path: str, monkeypatch) -> tuple[BuildContext, str]:
    """``ctx`` with the value behind one declared read path changed, and the leaf path that changed.

    A mapping gets an extra key (the values below it stay the same); any other value is replaced.
    A whole-object path (``config``, ``target``) changes one leaf inside it.
    """
    from dataclasses import replace

    import edgekd.resume as resume

    root, _, rest = path.partition(".")
    if root == "inputs":
        original = resume._INPUTS[rest]
        monkeypatch.setitem(resume._INPUTS, rest, lambda c: ["changed", original(c)])
        return ctx, path
    holder = ctx.config if root == "config" else ctx.target
    parts = rest.split(".") if rest else (["seed"] if root == "config" else ["name"])
    dumped = holder.model_dump(mode="json")
    node = dumped
    for part in parts[:-1]:
        node = node[part]
    value = node[parts[-1]]
    node[parts[-1]] = {**value, "_changed": True} if isinstance(value, dict) else ["changed", value]
    edited = _Dumped(holder, dumped)
    leaf = ".".join([root, *parts])
    return (replace(ctx, config=edited) if root == "config" else replace(ctx, target=edited)), leaf


@pytest.mark.parametrize("stage_index,path", [(i, p) for i, s in enumerate(STAGES) for p in s.reads],
                         ids=lambda v: v if isinstance(v, str) else str(v))
def test_changing_a_declared_read_reruns_that_stage_and_its_successors(tmp_path, monkeypatch, stage_index, path):
    ctx = _ctx(tmp_path)
    base = _keys(ctx)
    edited, leaf = _changed(ctx, path, monkeypatch)
    changed = _keys(edited)
    names = [s.name for s in STAGES]
    # The first stage that reads the changed value (itself, or a section holding it) reruns, and every later one.
    first = min(i for i, s in enumerate(STAGES) if any(leaf == p or leaf.startswith(p + ".") for p in s.reads))
    assert first <= stage_index
    assert [changed[n] != base[n] for n in names] == [i >= first for i in range(len(names))], (path, leaf)


def test_keys_are_deterministic_and_data_is_hashed(tmp_path):
    base = _keys(_ctx(tmp_path))
    assert base == _keys(_ctx(tmp_path))
    other = _data()
    other.train.x[0, 0, 0, 0] += 1  # one pixel of the data
    assert _keys(_ctx(tmp_path, data=other))["teacher"] != base["teacher"]


def test_quantize_key_follows_the_targets_top1_budget(tmp_path):
    """The bug the declared reads fixed: accuracy-aware INT8 reads the target's max_top1_drop."""
    quantize = next(s for s in STAGES if s.name == "quantize")
    ctx = _ctx(tmp_path)
    tighter = ctx.target.model_copy(update={"budgets": ctx.target.budgets.model_copy(update={"max_top1_drop": 0.001})})
    from dataclasses import replace

    assert stage_key(quantize, ctx, "up") != stage_key(quantize, replace(ctx, target=tighter), "up")


def test_read_paths_resolve_and_undeclared_reads_are_found(tmp_path):
    ctx = _ctx(tmp_path)
    for stage in STAGES:
        for path in stage.reads:
            read_value(path, ctx)  # every declared path exists
    log: set[str] = set()
    recording = ctx.recording(log)
    _ = recording.config.distill.epochs, recording.target.runtime.name
    recording.target.peak_macs("fp32")  # a method reads the whole object
    stage = Stage(name="x", run=lambda s, c: s, reads=("config.distill",))
    assert undeclared(stage, log) == ["target", "target.runtime.name"]


def _scratch_record(ctx) -> tuple[StageCache, torch.nn.Module]:
    from edgekd.teachers.scratch import ScratchCNN

    torch.manual_seed(3)
    model = ScratchCNN(1, 2, ctx.config.teacher.width).eval()
    path, rel = ctx.artifact_file("teacher.pt")
    buffer = io.BytesIO()
    torch.save(model.state_dict(), buffer)
    atomic.write_bytes(path, buffer.getvalue())
    cache = StageCache(ctx, STAGES)
    teacher_stage = STAGES[0]
    assert cache.begin(teacher_stage) is None
    art = Artifact(name="teacher", role="teacher", format="torch", precision="fp32", path=rel, model=model,
                   input_shape=(1, 8, 8), params=1, macs=2)
    cache.finish(teacher_stage, BuildState(artifacts=(art,), training_curves={"teacher": {"best_epoch": 1}}))
    return cache, model


def test_restore_rebuilds_the_model_and_the_state(tmp_path):
    ctx = _ctx(tmp_path, "teacher.width=4")
    _, model = _scratch_record(ctx)
    restored = StageCache(_ctx(tmp_path, "teacher.width=4"), STAGES).begin(STAGES[0])
    assert restored is not None and restored.artifacts[0].model is not model
    x = _data().test.x
    assert torch.equal(restored.artifacts[0].model(x), model(x))
    assert restored.training_curves == {"teacher": {"best_epoch": 1}}


def test_changed_config_or_damaged_file_reruns_the_stage(tmp_path):
    ctx = _ctx(tmp_path, "teacher.width=4")
    _scratch_record(ctx)
    (ctx.work_dir / "checkpoints").mkdir()
    (ctx.work_dir / "checkpoints" / "teacher.ckpt").write_bytes(b"old")
    changed = _ctx(tmp_path, "teacher.width=4", "teacher.lr=0.1")
    assert StageCache(changed, STAGES).begin(STAGES[0]) is None
    assert not (ctx.work_dir / "stages" / "teacher.json").exists()
    assert not (ctx.work_dir / "artifacts" / "teacher.pt").exists()  # stale output removed
    assert not (ctx.work_dir / "checkpoints").exists()  # never resume training from another config

    ctx = _ctx(tmp_path / "b", "teacher.width=4")
    _scratch_record(ctx)
    (ctx.work_dir / "artifacts" / "teacher.pt").write_bytes(b"damaged")
    assert StageCache(_ctx(tmp_path / "b", "teacher.width=4"), STAGES).begin(STAGES[0]) is None


def test_a_model_no_stage_can_rebuild_is_not_recorded(tmp_path):
    ctx = _ctx(tmp_path)
    export = next(s for s in STAGES if s.name == "export")
    cache = StageCache(ctx, STAGES)
    assert cache.begin(export) is None
    orphan = Artifact(name="student", role="student", format="torch", precision="fp32", model=torch.nn.Linear(1, 1))
    cache.finish(export, BuildState(artifacts=(orphan,)))  # export creates no models: cannot rebuild it
    assert not (ctx.work_dir / "stages" / "export.json").exists()


def test_killed_temporaries_are_removed(tmp_path):
    ctx = _ctx(tmp_path)
    stray = ctx.work_dir / "artifacts" / f".student.pt{atomic.TMP_MARK}abc"
    stray.mkdir(parents=True)
    (stray / "student.pt").write_bytes(b"half")
    StageCache(ctx, STAGES)
    assert not stray.exists()


def test_black_box_teacher_is_reloaded_from_its_file(tmp_path, teacher_files):
    g = torch.Generator().manual_seed(0)
    split = Split(torch.randn(10, 3, 8, 8, generator=g), torch.arange(10) % 5)
    data = DataBundle(name="tiny", task="image", class_names=tuple("abcde"), input_shape=(3, 8, 8), train=split,
                      val=split, test=split, representative=split)
    onnx = tmp_path / "teacher.onnx"
    onnx.write_bytes(teacher_files["onnx"].read_bytes())
    # An untrained teacher on random data: the sanity check (teacher.min_val_top1) is not what this tests.
    args = ("teacher.kind=onnx", f"teacher.path={onnx}", "teacher.min_val_top1=0")
    teacher_stage = STAGES[0]

    ctx = _ctx(tmp_path, *args, data=data)
    cache = StageCache(ctx, STAGES)
    assert cache.begin(teacher_stage) is None
    first = teacher_stage.run(BuildState(), ctx)
    cache.finish(teacher_stage, first)
    restored = StageCache(_ctx(tmp_path, *args, data=data), STAGES).begin(teacher_stage)
    assert restored is not None
    (old,), (new,) = first.artifacts, restored.artifacts
    assert new.path == old.path == str(onnx.resolve()) and new.notes == old.notes and new.format == "onnx"
    assert torch.allclose(new.model(split.x), old.model(split.x))
    # The user's file changed: its sha256 is part of the key, so the stage reruns.
    onnx.write_bytes(onnx.read_bytes() + b"\0")
    assert StageCache(_ctx(tmp_path, *args, data=data), STAGES).begin(teacher_stage) is None


def test_pruned_student_is_rebuilt_from_its_weights(tmp_path):
    """The prune stage saves a state dict (no pickle); its rebuild resizes the registry's student to it."""
    from edgekd.prune.prune import prune_structured
    from edgekd.prune.stage import STAGE as PRUNE
    from edgekd.students import build_options, build_student

    ctx = _ctx(tmp_path)
    data, student = ctx.data, ctx.config.student
    torch.manual_seed(0)
    pruned = build_student(student.name, data.num_classes, data.input_shape,
                           **build_options(student.name, student.options)).eval()
    prune_structured(pruned, data.input_shape, data.num_classes, 0.5)
    path, rel = ctx.artifact_file("student-pruned.pt")
    buffer = io.BytesIO()
    torch.save(pruned.state_dict(), buffer)
    atomic.write_bytes(path, buffer.getvalue())
    art = Artifact(name="student-pruned", role="student", format="torch", precision="fp32", path=rel,
                   input_shape=data.input_shape)
    rebuilt = PRUNE.rebuild(art, ctx)
    x = data.test.x
    with torch.no_grad():
        torch.testing.assert_close(rebuilt(x), pruned(x))


def test_a_stage_that_adapts_the_context_is_applied_when_run_and_when_restored(tmp_path, monkeypatch):
    """The search hands later stages its chosen input size; on --resume its restored record does the same."""
    from dataclasses import replace

    from edgekd import pipeline

    seen: list[tuple[int, ...]] = []
    ran: list[str] = []

    def choose(state, ctx):
        ran.append("choose")
        return BuildState(artifacts=state.artifacts, search={"chosen": {"resolution": [4, 4]}})

    def resize(state, ctx):
        size = tuple(state.search["chosen"]["resolution"])
        return replace(ctx, data=replace(ctx.data, input_shape=(ctx.data.input_shape[0], *size)))

    def record(state, ctx):
        seen.append(tuple(ctx.data.input_shape))
        return state

    stages = (Stage(name="choose", run=choose, reads=(), adapts=resize),
              Stage(name="use", run=record, reads=("inputs.data",), cached=False))
    monkeypatch.setattr(pipeline, "load_stages", lambda: stages)
    ctx = _ctx(tmp_path)
    pipeline.run_pipeline(ctx)
    pipeline.run_pipeline(ctx)  # "choose" is restored from its record this time
    assert seen == [(1, 4, 4), (1, 4, 4)] and ran == ["choose"]
    assert (ctx.work_dir / "stages" / "choose.json").exists()
