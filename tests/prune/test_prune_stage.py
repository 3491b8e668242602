"""The prune stage adds student-pruned (half the MACs, KD recovery curve); export then uses it."""

from __future__ import annotations

import torch

from edgekd.artifact import Artifact, final_student
from edgekd.config import load_config
from edgekd.data.bundle import DataBundle, Split
from edgekd.progress import NullReporter
from edgekd.prune.stage import run
from edgekd.stage import BuildContext
from edgekd.state import BuildState
from edgekd.targets import load_target

from .test_prune import CLASSES, SHAPE, ResDW


def _split(n: int, seed: int) -> Split:
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, CLASSES, (n,), generator=g)
    x = torch.randn(n, *SHAPE, generator=g) * 0.3
    x[torch.arange(n), y % 3] += 1.0  # class signal on one channel
    return Split(x=x, y=y)


def make_ctx(tmp_path, overrides) -> BuildContext:
    data = DataBundle(name="tiny", task="image", class_names=tuple("abcde"), input_shape=SHAPE,
                      train=_split(64, 1), val=_split(32, 2), test=_split(32, 3), representative=_split(16, 4))
    return BuildContext(config=load_config(None, overrides), target=load_target("pixel-8"), out_dir=tmp_path,
                        data=data, reporter=NullReporter(), threads=1)


def _artifacts() -> list[Artifact]:
    torch.manual_seed(0)
    teacher, student = ResDW().eval(), ResDW().eval()
    return [Artifact(name="teacher", role="teacher", format="torch", precision="fp32", model=teacher),
            Artifact(name="student", role="student", format="torch", precision="fp32", model=student,
                     input_shape=SHAPE, params=1, macs=1, parent="teacher")]


def test_structured_stage_records_before_after_and_curve(tmp_path):
    ctx = make_ctx(tmp_path, ["prune.enabled=true", "prune.recovery_epochs=2", "distill.batch_size=16"])
    out = list(run(BuildState(artifacts=tuple(_artifacts())), ctx).artifacts)
    pruned = out[-1]
    assert pruned.name == "student-pruned" and pruned.role == "student" and pruned.parent == "student"
    assert final_student(out) is pruned
    p = pruned.metrics["prune"]
    assert p["macs_after"] <= 0.5 * p["macs_before"] and pruned.macs == p["macs_after"]
    assert [e["epoch"] for e in p["recovery_curve"]] == [1, 2]
    assert {"val_top1_before_pruning", "val_top1_after_pruning", "val_top1_after_recovery"} <= set(p)
    assert (tmp_path / ".edgekd-work" / pruned.path).is_file()
    assert "structured pruning" in pruned.notes[0]


def test_unstructured_stage_says_it_does_not_reduce_dense_latency(tmp_path):
    ctx = make_ctx(tmp_path, ["prune.enabled=true", "prune.method=unstructured", "prune.recovery_epochs=1"])
    pruned = run(BuildState(artifacts=tuple(_artifacts())), ctx).artifacts[-1]
    assert "does not reduce dense latency" in pruned.notes[0]
    assert pruned.metrics["prune"]["weight_sparsity"] > 0.4
    assert pruned.macs == pruned.metrics["prune"]["macs_before"]
