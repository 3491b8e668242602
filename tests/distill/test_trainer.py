"""The trainer: learns, keeps the best epoch, resumes to identical weights, stops on NaN."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from edgekd.data.bundle import Split
from edgekd.distill.trainer import TrainSpec, evaluate_top1, fit
from edgekd.errors import TrainingDivergedError


def _blobs(n=240, seed=0):
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, 3, (n,), generator=g)
    centres = torch.tensor([[2.0, 0.0], [-2.0, 0.0], [0.0, 2.5]])
    x = centres[y] + 0.6 * torch.randn(n, 2, generator=g)
    return Split(x[:, :, None, None].contiguous(), y)


def _model():
    torch.manual_seed(0)
    return nn.Sequential(nn.Flatten(), nn.Linear(2, 16), nn.ReLU(), nn.Linear(16, 3))


SPEC = TrainSpec(epochs=6, lr=1e-2, weight_decay=0.0, batch_size=32)


def ce(logits, y, _idx, _x):
    return F.cross_entropy(logits, y)


def test_fit_learns_a_separable_task():
    train, val = _blobs(), _blobs(seed=1)
    model = _model()
    before = evaluate_top1(model, val)
    history = fit(model, train, val, SPEC, ce, seed=0, label="t")
    assert evaluate_top1(model, val) > max(0.9, before)
    assert len(history["epochs"]) == SPEC.epochs
    assert history["best_val_top1"] == max(e["val_top1"] for e in history["epochs"])


class _KillAfter:
    """A reporter that interrupts training after N epochs, like a kill between epochs."""

    def __init__(self, epochs):
        self.epochs = epochs

    def epoch(self, label, epoch, epochs, loss, val_top1, samples_per_s):
        if epoch == self.epochs:
            raise KeyboardInterrupt

    def stage(self, *a):
        pass

    def note(self, *a):
        pass


def test_resume_from_checkpoint_gives_identical_weights(tmp_path):
    train, val = _blobs(), _blobs(seed=1)
    uninterrupted = _model()
    fit(uninterrupted, train, val, SPEC, ce, seed=3, label="t")

    ckpt = tmp_path / "t.ckpt"
    with pytest.raises(KeyboardInterrupt):
        fit(_model(), train, val, SPEC, ce, seed=3, label="t", checkpoint=ckpt, reporter=_KillAfter(3))
    assert torch.load(ckpt, weights_only=True)["state"]["epoch"] == 3
    # A new process rebuilds the model from scratch and finds the checkpoint.
    resumed = _model()
    history = fit(resumed, train, val, SPEC, ce, seed=3, label="t", checkpoint=ckpt)
    assert len(history["epochs"]) == SPEC.epochs
    for a, b in zip(uninterrupted.state_dict().values(), resumed.state_dict().values()):
        assert torch.equal(a, b)


def test_nan_loss_stops_with_step_and_fix():
    train, val = _blobs(), _blobs(seed=1)

    def exploding(logits, y, _idx, _x):
        return F.cross_entropy(logits, y) * float("nan")

    with pytest.raises(TrainingDivergedError) as info:
        fit(_model(), train, val, SPEC, exploding, seed=0, label="student")
    text = info.value.one_line()
    assert "epoch 1, step 1" in text and "learning rate" in text
    assert info.value.exit_code == 2


class _Notes(_KillAfter):
    def __init__(self):
        super().__init__(epochs=-1)
        self.notes = []

    def note(self, text):
        self.notes.append(text)


@pytest.mark.parametrize("damage", ["garbage", "truncated", "other_model"])
def test_a_damaged_checkpoint_restarts_training_instead_of_blocking_resume(tmp_path, damage):
    """--resume must never be blocked by a bad checkpoint: training restarts and gives the uninterrupted weights."""
    train, val = _blobs(), _blobs(seed=1)
    uninterrupted = _model()
    fit(uninterrupted, train, val, SPEC, ce, seed=3, label="t")
    ckpt = tmp_path / "t.ckpt"
    if damage == "other_model":  # a readable checkpoint whose weights do not fit this model
        torch.save({"model": nn.Linear(5, 5).state_dict(), "optimizer": {}, "scheduler": {}, "state": {}}, ckpt)
    else:
        with pytest.raises(KeyboardInterrupt):
            fit(_model(), train, val, SPEC, ce, seed=3, label="t", checkpoint=ckpt, reporter=_KillAfter(3))
        data = ckpt.read_bytes()
        ckpt.write_bytes(b"not a checkpoint" * 8 if damage == "garbage" else data[: len(data) // 2])
    reporter = _Notes()
    restarted = _model()
    history = fit(restarted, train, val, SPEC, ce, seed=3, label="t", checkpoint=ckpt, reporter=reporter)
    assert len(history["epochs"]) == SPEC.epochs
    assert any("checkpoint t.ckpt is damaged" in n and "restarts from epoch 1" in n for n in reporter.notes)
    for a, b in zip(uninterrupted.state_dict().values(), restarted.state_dict().values()):
        assert torch.equal(a, b)
    assert torch.load(ckpt, weights_only=True)["state"]["epoch"] == SPEC.epochs  # overwritten by the new run


def _misleading_val():
    """A val split whose labels are the train mapping shifted by one class: learning lowers its top-1."""
    val = _blobs(seed=1)
    return Split(val.x, (val.y + 1) % 3)


@pytest.mark.parametrize("keep", ["best", "last"])
def test_keep_returns_the_best_or_the_last_epochs_weights(keep):
    train, val = _blobs(), _misleading_val()
    model = _model()
    history = fit(model, train, val, TrainSpec(epochs=6, lr=1e-2, weight_decay=0.0, batch_size=32, keep=keep),
                  ce, seed=0, label="t")
    tops = [e["val_top1"] for e in history["epochs"]]
    assert history["best_epoch"] < 6 and max(tops) > tops[-1]  # the case where the two rules differ
    kept_epoch = history["best_epoch"] if keep == "best" else 6
    assert (history["keep"], history["kept_epoch"], history["kept_val_top1"]) == (keep, kept_epoch,
                                                                                   tops[kept_epoch - 1])
    assert evaluate_top1(model, val) == tops[kept_epoch - 1]  # the weights returned are that epoch's
    assert history["best_val_top1"] == max(tops)  # the best is still reported


def test_keep_last_resumes_to_the_same_weights(tmp_path):
    train, val = _blobs(), _misleading_val()
    spec = TrainSpec(epochs=6, lr=1e-2, weight_decay=0.0, batch_size=32, keep="last")
    uninterrupted = _model()
    fit(uninterrupted, train, val, spec, ce, seed=3, label="t")
    ckpt = tmp_path / "t.ckpt"
    with pytest.raises(KeyboardInterrupt):
        fit(_model(), train, val, spec, ce, seed=3, label="t", checkpoint=ckpt, reporter=_KillAfter(3))
    resumed = _model()
    history = fit(resumed, train, val, spec, ce, seed=3, label="t", checkpoint=ckpt)
    assert history["kept_epoch"] == 6
    for a, b in zip(uninterrupted.state_dict().values(), resumed.state_dict().values()):
        assert torch.equal(a, b)


def test_keep_last_with_patience_is_refused():
    with pytest.raises(ValueError, match="patience"):
        TrainSpec(epochs=6, lr=1e-2, weight_decay=0.0, batch_size=32, keep="last", patience=2)
