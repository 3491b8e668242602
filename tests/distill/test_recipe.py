"""The function-matching recipe: the teacher labels the student's own (mixed) view, no cache,
the hard-label baseline takes mixed labels, EMA, and resume determinism with all of it on."""

from types import SimpleNamespace

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from edgekd.artifact import Artifact
from edgekd.config import DistillConfig, load_config
from edgekd.data.bundle import DataBundle, Split
from edgekd.data.images import ImageAugmenter
from edgekd.distill import stage
from edgekd.distill.methods import build_objective, mixing_of
from edgekd.distill.trainer import TrainSpec, fit
from edgekd.errors import ConfigError
from edgekd.state import BuildState

SHAPE = (3, 8, 8)
FM = DistillConfig(recipe="function_matching", mixup=1.0, cutmix=1.0, temperature=1.0, alpha=1.0)


class Spy(nn.Module):
    """A small conv net that records every batch it is called with."""

    def __init__(self, seed=3):
        super().__init__()
        torch.manual_seed(seed)
        self.conv = nn.Conv2d(3, 8, 3, padding=1)
        self.linear = nn.Linear(8, 3)
        self.seen: list[torch.Tensor] = []

    def forward(self, x):
        self.seen.append(x.detach().clone())
        return self.linear(torch.relu(self.conv(x)).mean((2, 3)))


def _augment():
    return ImageAugmenter(np.zeros(3, np.float32), np.ones(3, np.float32), 0, True, (0.5, 1.0))


def _split(n=40, seed=0, augment=None):
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % 3
    x = torch.randn(n, *SHAPE, generator=g) * 0.5 + y[:, None, None, None].float()
    return Split(x, y, augment)


def test_teacher_sees_exactly_the_students_mixed_view():
    teacher, student = Spy(3).eval(), Spy(4)
    train = _split(augment=_augment())
    objective = build_objective(teacher, student, train, FM, SHAPE, torch.device("cpu"))
    assert not objective.cached and "function matching" in objective.description
    spec = TrainSpec(epochs=1, lr=1e-2, weight_decay=0.0, batch_size=16, mixing=mixing_of(FM, 3))
    student.seen.clear()
    fit(student, train, _split(12, 1), spec, objective.loss, seed=0, label="s")
    steps = -(-len(train) // 16)
    assert len(teacher.seen) == steps
    for t_view, s_view in zip(teacher.seen, student.seen[:steps]):  # then the student's validation batches
        assert torch.equal(t_view, s_view.contiguous())
    # The views are mixed and augmented, not the stored images.
    assert not any(torch.equal(t_view, train.x[:len(t_view)]) for t_view in teacher.seen)


def test_cache_only_for_the_standard_recipe_without_any_change_to_batches():
    plain = _split()
    cases = [(DistillConfig(), True), (DistillConfig(mixup=0.2), False), (DistillConfig(cutmix=1.0), False),
             (FM, False)]
    for cfg, cached in cases:
        assert build_objective(Spy().eval(), Spy(), plain, cfg, SHAPE, torch.device("cpu")).cached is cached


def test_function_matching_needs_mixing_and_keys_validate():
    with pytest.raises(ConfigError, match="function_matching"):
        load_config(None, ["distill.recipe=function_matching"])
    cfg = load_config(None, ["distill.recipe=function_matching", "distill.cutmix=1.0", "distill.ema=0.99"])
    assert cfg.distill.ema == 0.99 and mixing_of(cfg.distill, 10).active
    for bad in ("distill.ema=1.0", "distill.mixup=-1", "distill.recipe=patient"):
        with pytest.raises(ConfigError):
            load_config(None, [bad])


class _KillAfter:
    def __init__(self, epochs):
        self.epochs = epochs

    def epoch(self, label, epoch, *rest):
        if epoch == self.epochs:
            raise KeyboardInterrupt

    def stage(self, *a):
        pass

    def note(self, *a):
        pass


def _fm_run(checkpoint=None, reporter=None):
    teacher, student = Spy(3).eval(), Spy(4)
    train = _split(augment=_augment())
    objective = build_objective(teacher, student, train, FM, SHAPE, torch.device("cpu"))
    spec = TrainSpec(epochs=4, lr=2e-2, weight_decay=1e-4, batch_size=16, optimizer="sgd",
                     mixing=mixing_of(FM, 3), ema_decay=0.8)
    history = fit(student, train, _split(12, 1), spec, objective.loss, seed=7, label="s", checkpoint=checkpoint,
                  reporter=reporter)
    return student, history


def test_kill_after_epoch_2_and_resume_gives_identical_weights(tmp_path):
    uninterrupted, full = _fm_run()
    ckpt = tmp_path / "s.ckpt"
    with pytest.raises(KeyboardInterrupt):
        _fm_run(ckpt, _KillAfter(2))
    saved = torch.load(ckpt, weights_only=True)
    assert saved["state"]["epoch"] == 2 and saved["ema"] is not None
    resumed, history = _fm_run(ckpt)
    assert [e["val_top1"] for e in history["epochs"]] == [e["val_top1"] for e in full["epochs"]]
    assert all("val_top1_raw" in e for e in history["epochs"])
    for (name, a), b in zip(uninterrupted.state_dict().items(), resumed.state_dict().values()):
        assert torch.equal(a, b), name


def test_ema_weights_are_what_fit_returns():
    student, history = _fm_run()
    best = history["best_epoch"]
    assert history["best_val_top1"] == history["epochs"][best - 1]["val_top1"]  # the EMA's score picks the epoch
    # The raw weights' scores differ from the average's somewhere (the average lags the weights).
    assert any(e["val_top1"] != e["val_top1_raw"] for e in history["epochs"])


def test_probe_records_figures_in_the_history():
    class Probe(_KillAfter):
        def epoch_model(self, label, epoch, model):
            return {"probe": float(epoch), "was_training": model.training}

    _student, history = _fm_run(reporter=Probe(99))
    assert [e["probe"] for e in history["epochs"]] == [1.0, 2.0, 3.0, 4.0]


def test_stage_trains_baseline_with_mixed_labels(tmp_path):
    cfg = load_config(None, ["distill.epochs=1", "distill.train_baseline=true", "distill.batch_size=16",
                             "distill.recipe=function_matching", "distill.mixup=1.0", "distill.ema=0.9",
                             "student.options={width: 0.25, depth: 0.5}"])
    data = DataBundle(name="toy", task="image", class_names=("a", "b", "c"), input_shape=SHAPE,
                      train=_split(augment=_augment()), val=_split(24, 1), test=_split(24, 2),
                      representative=_split(8, 3))
    ctx = SimpleNamespace(config=cfg, data=data, reporter=None, work_dir=tmp_path / "w",
                          artifact_file=lambda f: (tmp_path / "w" / "artifacts" / f, f"artifacts/{f}"))
    teacher = Artifact(name="teacher", role="teacher", format="torch", precision="fp32", path="t.pt",
                       model=Spy().eval(), input_shape=SHAPE, params=0, macs=0)
    state = stage.run(BuildState(artifacts=(teacher,)), ctx)
    out = state.artifacts
    assert [a.role for a in out] == ["teacher", "student", "baseline"]
    assert "mixup 1.0" in " ".join(out[2].notes) and "function matching" in " ".join(out[1].notes)
    assert all("val_top1_raw" in e for e in state.training_curves["baseline"]["epochs"])


def test_stage_ships_the_last_epoch_of_student_and_baseline_with_keep_last(tmp_path):
    cfg = load_config(None, ["distill.epochs=2", "distill.train_baseline=true", "distill.batch_size=16",
                             "distill.keep=last", "distill.ema=0.9", "student.options={width: 0.25, depth: 0.5}"])
    data = DataBundle(name="toy", task="image", class_names=("a", "b", "c"), input_shape=SHAPE,
                      train=_split(augment=_augment()), val=_split(24, 1), test=_split(24, 2),
                      representative=_split(8, 3))
    ctx = SimpleNamespace(config=cfg, data=data, reporter=None, work_dir=tmp_path / "w",
                          artifact_file=lambda f: (tmp_path / "w" / "artifacts" / f, f"artifacts/{f}"))
    teacher = Artifact(name="teacher", role="teacher", format="torch", precision="fp32", path="t.pt",
                       model=Spy().eval(), input_shape=SHAPE, params=0, macs=0)
    state = stage.run(BuildState(artifacts=(teacher,)), ctx)
    for name in ("student", "baseline"):
        curve = state.training_curves[name]
        assert (curve["keep"], curve["kept_epoch"]) == ("last", 2)
        assert curve["kept_val_top1"] == curve["epochs"][-1]["val_top1"] == curve["chance"]["top1"]


def test_keep_last_refuses_patience_and_bad_values():
    with pytest.raises(ConfigError, match="patience"):
        load_config(None, ["distill.keep=last", "distill.patience=3"])
    with pytest.raises(ConfigError, match="keep"):
        load_config(None, ["teacher.keep=final"])
    assert load_config(None, ["teacher.keep=last"]).teacher.keep == "last"


def test_cross_entropy_takes_mixed_labels():
    logits = torch.tensor([[2.0, 0.0, -1.0]])
    soft = torch.tensor([[0.25, 0.75, 0.0]])
    expected = 0.25 * F.cross_entropy(logits, torch.tensor([0])) + 0.75 * F.cross_entropy(logits, torch.tensor([1]))
    assert torch.allclose(F.cross_entropy(logits, soft), expected)



class _BNNet(nn.Module):
    def __init__(self):
        super().__init__()
        torch.manual_seed(5)
        self.conv, self.bn, self.linear = nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.Linear(8, 3)

    def forward(self, x):
        return self.linear(torch.relu(self.bn(self.conv(x))).mean((2, 3)))


def test_ema_model_carries_batchnorm_statistics_of_its_own_weights():
    """The averaged weights are evaluated and returned with precise statistics recomputed for them,
    not with the average of the running statistics the raw weights left behind."""
    from edgekd.distill.precise_bn import recompute_bn_statistics

    train = _split()
    spec = TrainSpec(epochs=2, lr=5e-2, weight_decay=0.0, batch_size=8, optimizer="sgd", ema_decay=0.9)
    student = _BNNet()
    history = fit(student, train, _split(12, 1), spec, lambda logits, y, *rest: F.cross_entropy(logits, y),
                  seed=1, label="s")
    assert history["best_epoch"] >= 1
    returned = {k: v.clone() for k, v in student.state_dict().items()}
    recompute_bn_statistics(student, train, 8, seed=1000 + history["best_epoch"] - 1)
    for key in ("bn.running_mean", "bn.running_var"):
        assert torch.allclose(returned[key], student.state_dict()[key], atol=1e-5), key
