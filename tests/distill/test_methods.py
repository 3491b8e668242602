"""distill.method in the build: FitNets and RKD objectives, the cache rule, clear errors, patience."""

from types import SimpleNamespace

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from edgekd.artifact import Artifact
from edgekd.config import DistillConfig, load_config
from edgekd.data.bundle import DataBundle, Split
from edgekd.distill import stage
from edgekd.distill.methods import build_objective
from edgekd.distill.trainer import TrainSpec, fit
from edgekd.errors import ConfigError
from edgekd.state import BuildState
from edgekd.students import build_student
from edgekd.teachers.blackbox import BlackBoxTeacher

SHAPE = (3, 8, 8)
CPU = torch.device("cpu")


class Teacher(nn.Module):
    """A tiny torch teacher with named stages (like a ResNet's layer1/layer2)."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(3)
        self.layer1 = nn.Sequential(nn.Conv2d(3, 12, 3, padding=1), nn.ReLU())
        self.layer2 = nn.Sequential(nn.Conv2d(12, 20, 3, stride=2, padding=1), nn.ReLU())
        self.linear = nn.Linear(20, 3)

    def forward(self, x):
        return self.linear(self.layer2(self.layer1(x)).mean((2, 3)))


def _split(n=48, seed=0, augment=None):
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % 3
    x = torch.randn(n, *SHAPE, generator=g) * 0.5 + y[:, None, None, None].float()
    return Split(x, y, augment)


def _student():
    torch.manual_seed(1)
    return build_student("mobilenetv2", 3, SHAPE, width=0.25, depth=0.5, dropout=0.0)


def _train(cfg, teacher, train):
    student = _student()
    objective = build_objective(teacher.eval(), student, train, cfg, SHAPE, CPU)
    before = None if objective.extra is None else [p.detach().clone() for p in objective.extra.parameters()]
    spec = TrainSpec(epochs=2, lr=5e-3, weight_decay=0.0, batch_size=16)
    history = fit(student, train, _split(24, 1), spec, objective.loss, seed=0, label="s", extra=objective.extra)
    return student, objective, before, history


def test_fitnets_trains_adapters_and_pairs_layers_by_size():
    cfg = DistillConfig(method="fitnets", hint_layers={"teacher": ["layer1", "layer2"]})
    student, objective, before, history = _train(cfg, Teacher(), _split())
    assert all(torch.isfinite(torch.tensor(e["loss"])) for e in history["epochs"])
    after = list(objective.extra.parameters())
    assert len(after) == 2 and any(not torch.equal(a, b) for a, b in zip(after, before))
    assert not objective.cached  # features are needed every step
    assert "layer1" in objective.description and "layer2" in objective.description
    objective.close()
    assert all(not m._forward_hooks for m in student.modules())


def test_fitnets_loss_is_larger_than_hinton_alone():
    teacher, train = Teacher().eval(), _split()
    logits_inputs = train.x[:8]
    losses = {}
    for method in ("hinton", "fitnets"):
        cfg = DistillConfig(method=method, hint_layers={"teacher": ["layer2"]}, hint_weight=5.0)
        student = _student()
        objective = build_objective(teacher, student, train, cfg, SHAPE, CPU)
        losses[method] = float(objective.loss(student(logits_inputs), train.y[:8], torch.arange(8),
                                              logits_inputs).detach())
        objective.close()
    assert losses["fitnets"] > losses["hinton"] > 0


@pytest.mark.parametrize("rkd_on", ["embedding", "logits"])
def test_rkd_objective_trains(rkd_on):
    cfg = DistillConfig(method="rkd", rkd_on=rkd_on)
    _student_model, objective, _before, history = _train(cfg, Teacher(), _split())
    assert all(torch.isfinite(torch.tensor(e["loss"])) for e in history["epochs"])
    assert objective.cached == (rkd_on == "logits")  # logits only and no augmentation: cache
    assert f"RKD on {rkd_on}" in objective.description


def test_augmentation_turns_the_cache_off():
    aug = _split(augment=lambda x, g: x.flip(3))
    objective = build_objective(Teacher().eval(), _student(), aug, DistillConfig(), SHAPE, CPU)
    assert not objective.cached
    assert build_objective(Teacher().eval(), _student(), _split(), DistillConfig(), SHAPE, CPU).cached


class _Counting(Teacher):
    calls = 0

    def forward(self, x):
        self.calls += 1
        return super().forward(x)


@pytest.mark.parametrize("augment", [None, lambda x, g: x.flip(3)])
def test_alpha_zero_is_cross_entropy_and_never_runs_the_teacher(augment):
    train, student = _split(augment=augment), _student()
    logits = student(train.x[:8])
    calls = {}
    for alpha in (0.0, 0.1):
        teacher = _Counting().eval()
        objective = build_objective(teacher, student, train, DistillConfig(alpha=alpha), SHAPE, CPU)
        got = objective.loss(logits, train.y[:8], torch.arange(8), train.x[:8])
        calls[alpha] = teacher.calls
    assert not torch.equal(got, F.cross_entropy(logits, train.y[:8]))  # alpha 0.1 adds the soft term
    assert calls[0.0] == 0 and calls[0.1] >= 1
    hard = build_objective(_Counting().eval(), student, train, DistillConfig(alpha=0.0), SHAPE, CPU)
    assert torch.equal(hard.loss(logits, train.y[:8], torch.arange(8), train.x[:8]),
                       F.cross_entropy(logits, train.y[:8]))
    assert not hard.cached and "the teacher is not run" in hard.description


class _BlackBox(BlackBoxTeacher):
    def __init__(self):
        nn.Module.__init__(self)

    def forward(self, x):
        return torch.zeros(len(x), 3)


@pytest.mark.parametrize("cfg", [DistillConfig(method="fitnets", hint_layers={"teacher": ["layer1"]}),
                                 DistillConfig(method="rkd")])
def test_feature_methods_need_a_torch_teacher(cfg):
    with pytest.raises(ConfigError, match="black box") as info:
        build_objective(_BlackBox(), _student(), _split(), cfg, SHAPE, CPU, teacher_name="t.onnx")
    assert "torch" in info.value.fix


def test_rkd_on_logits_works_with_a_black_box():
    objective = build_objective(_BlackBox(), _student(), _split(), DistillConfig(method="rkd", rkd_on="logits"),
                                SHAPE, CPU)
    assert objective.cached


def test_bad_hint_layers_are_clear_errors():
    with pytest.raises(ConfigError, match="hint_layers.teacher"):
        build_objective(Teacher(), _student(), _split(), DistillConfig(method="fitnets"), SHAPE, CPU)
    with pytest.raises(ConfigError, match="no module named 'layer9'"):
        build_objective(Teacher(), _student(), _split(),
                        DistillConfig(method="fitnets", hint_layers={"teacher": ["layer9"]}), SHAPE, CPU)
    with pytest.raises(ConfigError, match="not a feature layer"):
        build_objective(Teacher(), _student(), _split(),
                        DistillConfig(method="fitnets", hint_layers={"teacher": ["layer1"], "student": ["x"]}),
                        SHAPE, CPU)


def test_config_keys_validate():
    cfg = load_config(None, ["distill.method=fitnets", "distill.hint_layers.teacher=[layer2,layer3]",
                             "distill.patience=3", "distill.optimizer=sgd", "distill.device=cpu"])
    assert cfg.distill.hint_layers.teacher == ["layer2", "layer3"] and cfg.distill.patience == 3
    with pytest.raises(ConfigError, match="distill.method"):
        load_config(None, ["distill.method=crd"])


def test_patience_stops_early():
    model = nn.Sequential(nn.Flatten(), nn.Linear(192, 3))
    spec = TrainSpec(epochs=8, lr=1e-9, weight_decay=0.0, batch_size=16, patience=2)
    history = fit(model, _split(), _split(24, 1), spec, lambda lg, y, _i, _x: F.cross_entropy(lg, y), seed=0,
                  label="p")
    assert history["epochs_run"] == 3  # epoch 1 is best, two stale epochs, stop


def test_distill_stage_runs_fitnets_and_the_baseline(tmp_path):
    cfg = load_config(None, ["distill.method=fitnets", "distill.hint_layers.teacher=[layer2]", "distill.epochs=1",
                             "distill.train_baseline=true", "distill.batch_size=16",
                             "student.options={width: 0.25, depth: 0.5}"])
    train = _split()
    data = DataBundle(name="toy", task="image", class_names=("a", "b", "c"), input_shape=SHAPE, train=train,
                      val=_split(24, 1), test=_split(24, 2), representative=_split(8, 3))
    ctx = SimpleNamespace(config=cfg, data=data, reporter=None, work_dir=tmp_path / "w",
                          artifact_file=lambda f: (tmp_path / "w" / "artifacts" / f, f"artifacts/{f}"))
    teacher = Artifact(name="teacher", role="teacher", format="torch", precision="fp32", path="t.pt",
                       model=Teacher().eval(), input_shape=SHAPE, params=0, macs=0)
    state = stage.run(BuildState(artifacts=(teacher,)), ctx)
    out = list(state.artifacts)
    roles = [a.role for a in out]
    assert roles == ["teacher", "student", "baseline"]
    assert "FitNets" in " ".join(out[1].notes)
    assert (tmp_path / "w" / "artifacts" / "student.pt").is_file()
    assert state.distill_method["method"] == "fitnets"
    assert set(state.training_curves) == {"student", "baseline"}
