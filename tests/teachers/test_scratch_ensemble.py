"""teacher.members: several scratch teachers trained with consecutive seeds, distilled as the mean of their logits."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch

from edgekd.config import load_config
from edgekd.data.bundle import Split
from edgekd.errors import ConfigError
from edgekd.state import BuildState
from edgekd.teachers import stage
from edgekd.teachers.scratch import MeanLogits, ScratchCNN

SHAPE = (1, 8, 8)


def _split(n, seed):
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % 3
    return Split(torch.randn(n, *SHAPE, generator=g) + y[:, None, None, None].float(), y)


def _ctx(tmp_path, members):
    config = load_config(None, [f"teacher.members={members}", "teacher.epochs=2", "teacher.width=4",
                                "teacher.batch_size=16"])
    data = SimpleNamespace(input_shape=SHAPE, num_classes=3, name="toy", train=_split(48, 0), val=_split(24, 1))
    work = tmp_path / f"m{members}"
    return SimpleNamespace(config=config, data=data, work_dir=work, reporter=None, resolve=lambda p: work / p,
                           artifact_file=lambda f: (work / f, f))


def test_members_extend_the_single_teacher_and_average_logits(tmp_path):
    single = stage.run(BuildState(), _ctx(tmp_path, 1))
    ctx = _ctx(tmp_path, 3)
    state = stage.run(BuildState(), ctx)
    [teacher] = state.artifacts
    assert isinstance(teacher.model, MeanLogits) and len(teacher.model.members) == 3
    assert isinstance(single.artifacts[0].model, ScratchCNN)
    # Member 1 is the one-teacher build's teacher, weight for weight (seed, then seed + 1, seed + 2).
    for a, b in zip(teacher.model.members[0].state_dict().values(), single.artifacts[0].model.state_dict().values()):
        assert torch.equal(a, b)
    assert not torch.equal(teacher.model.members[0].classifier.weight, teacher.model.members[1].classifier.weight)
    x = ctx.data.val.x
    with torch.no_grad():
        expected = sum(m.eval()(x) for m in teacher.model.members) / 3
        assert torch.allclose(teacher.model(x), expected, atol=1e-6)
    assert set(state.training_curves) == {"teacher", "teacher-2", "teacher-3"}
    assert any(n.startswith("mean logits of 3 ScratchCNN(width=4)") and "(seeds 0..2)" in n for n in teacher.notes)
    # Resume rebuilds the same ensemble from teacher.pt.
    rebuilt = stage.rebuild(teacher, ctx)
    with torch.no_grad():
        assert torch.equal(rebuilt(x), teacher.model(x))


def test_an_ensemble_has_no_layers_to_hint_from():
    with pytest.raises(ConfigError, match="teacher.members=2 averages the logits"):
        load_config(None, ["teacher.members=2", "distill.method=fitnets"])
    with pytest.raises(ConfigError, match="rkd_on=logits"):
        load_config(None, ["teacher.members=2", "distill.method=rkd"])
    assert load_config(None, ["teacher.members=2", "distill.method=rkd", "distill.rkd_on=logits"]).teacher.members == 2


class _KillAt:
    """Records the epochs trained; interrupts training at one member's first epoch, like a kill."""

    def __init__(self, label=None):
        self.label, self.trained = label, []

    def epoch(self, label, epoch, *rest):
        if label == self.label:
            raise KeyboardInterrupt
        self.trained.append((label, epoch))

    def note(self, *a):
        pass


def test_a_kill_during_the_second_member_keeps_the_first(tmp_path):
    whole = stage.run(BuildState(), _ctx(tmp_path / "whole", 2)).artifacts[0].model
    ctx = _ctx(tmp_path / "killed", 2)
    ctx.reporter = _KillAt("teacher-2")
    with pytest.raises(KeyboardInterrupt):
        stage.run(BuildState(), ctx)
    assert (ctx.work_dir / "checkpoints" / "teacher.ckpt").is_file()
    ctx.reporter = _KillAt()
    resumed = stage.run(BuildState(), ctx).artifacts[0].model
    # The first member came whole from its checkpoint, the second from its epoch-1 checkpoint (the kill
    # came after it was written).
    assert ctx.reporter.trained == [("teacher-2", 2)]
    for a, b in zip(whole.state_dict().values(), resumed.state_dict().values()):
        assert torch.equal(a, b)
