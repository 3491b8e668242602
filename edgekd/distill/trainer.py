"""A small, deterministic trainer with per-epoch checkpoints and resume.

The same loop trains the scratch teacher (cross-entropy), the KD student (Hinton loss
on cached teacher logits) and the hard-label baseline. Determinism across a resume:
every epoch reseeds torch from ``seed + epoch`` and shuffles with its own generator,
so an epoch replayed after a kill sees the same batches and dropout masks.

Under ``torchrun`` (see :mod:`edgekd.distill.ddp`) every rank draws the same order and
trains on its shard with a per-rank batch of ``ceil(batch_size / world)``, so the global
batch, the steps per epoch and hence the LR schedule match the one-process run; only
rank 0 writes checkpoints and reports progress.

Recipe options (:class:`TrainSpec`): ``mixing`` mixes each batch after its augmentation
(mixup/CutMix, labels become class probabilities, see :mod:`edgekd.distill.mixing`) with
draws from the epoch's generator; ``ema_decay`` keeps an exponential moving average of the
weights (:mod:`edgekd.distill.ema`) that is what gets evaluated, selected and returned, and
that the checkpoint carries, so a resumed run continues the same average.

A reporter may define ``epoch_model(label, epoch, model) -> dict``: it is called after each
epoch's validation with the evaluated weights (the EMA when on) and its figures are stored
in that epoch's history entry (the benchmarks record held-out curves this way; nothing in
training reads them).
"""

from __future__ import annotations

import io
import math
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

import torch
from torch import nn

from .. import atomic
from ..data.bundle import Split
from ..errors import ConfigError, TrainingDivergedError
from ..progress import NullReporter, Reporter
from . import ddp
from .ema import WeightEMA
from .mixing import MixSpec, mix_batch
from .precise_bn import recompute_bn_statistics

# loss_fn(logits, labels, batch_indices, inputs) -> scalar loss. The indices let KD look up
# cached teacher logits; the (possibly augmented) inputs let it run the teacher when it cannot cache.
LossFn = Callable[[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]


@dataclass(frozen=True)
class TrainSpec:
    """Optimisation settings for one training run."""

    epochs: int
    lr: float
    weight_decay: float
    batch_size: int
    optimizer: str = "adamw"
    warmup_epochs: int = 1
    patience: int | None = None  # early stopping on val top-1; None trains every epoch
    mixing: MixSpec | None = None  # mixup/CutMix of every train batch; None or inactive = off
    ema_decay: float | None = None  # EMA of the weights (evaluated and returned); None = off
    # Which weights to return: "best" = the best val epoch's; "last" = the last epoch's (a small or
    # shifted val can pick a noisy early epoch: on a held-out speaker that cost 10+ points, RESULTS).
    keep: str = "best"

    def __post_init__(self) -> None:
        if self.keep not in ("best", "last"):
            raise ValueError(f"keep must be 'best' or 'last', not {self.keep!r}")
        if self.keep == "last" and self.patience is not None:
            raise ValueError("patience stops after the best val epoch; with keep='last' it would return a stale "
                             "epoch")


def fit(model: nn.Module, train: Split, val: Split, spec: TrainSpec, loss_fn: LossFn, *, seed: int,
        label: str, checkpoint: Path | None = None, reporter: Reporter | None = None,
        extra: nn.Module | None = None, device: torch.device | str | None = None,
        on_epoch: Callable[[int, float], None] | None = None) -> dict:
    """Train ``model`` in place; keep the weights of the best validation epoch (or the last, ``spec.keep``).

    Args:
        model: The network to train.
        train: Training split.
        val: Validation split (selects the best epoch; drives early stopping).
        spec: Optimiser, schedule and batch size.
        loss_fn: Loss of a batch.
        seed: Seeds shuffling and initialisation-independent randomness.
        label: Name shown in progress and error messages.
        checkpoint: File written atomically after every epoch; if it exists, training resumes from it.
        reporter: Progress sink.
        extra: Trainable modules the loss uses besides the model (FitNets adapters): optimised,
            checkpointed and gradient-averaged across ranks with it.
        device: Where to train (default CPU); batches are moved there, the splits stay on the CPU.
        on_epoch: Called as ``on_epoch(epoch, val_top1)`` after each epoch (1-based); it may
            raise to stop training (the search's pruner does), which propagates to the caller.

    Returns:
        History: per-epoch loss and val top-1 (with EMA: of the average, and ``val_top1_raw`` of the
        trained weights), best epoch and its val top-1, the kept epoch and its val top-1 (``keep``:
        the same as the best, or the last epoch), the (global) batch size and the optimizer steps per
        epoch. The model ends with the kept epoch's weights (the average's, with EMA).

    Raises:
        TrainingDivergedError: the loss became NaN or infinite.
    """
    ddp.maybe_init()
    rank, world_size = ddp.world()
    device = torch.device(device or "cpu")
    reporter = (reporter or NullReporter()) if rank == 0 else NullReporter()
    model.to(device)
    if extra is not None:
        extra.to(device)
    batch = math.ceil(spec.batch_size / world_size)
    steps_per_epoch = math.ceil(math.ceil(len(train) / world_size) / batch)

    def fresh() -> tuple[torch.optim.Optimizer, Any, WeightEMA | None]:
        optimizer = _make_optimizer([*model.parameters(), *(extra.parameters() if extra is not None else [])], spec)
        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, _cosine_with_warmup(spec, steps_per_epoch))
        return optimizer, scheduler, (WeightEMA(model, spec.ema_decay) if spec.ema_decay else None)

    optimizer, scheduler, ema = fresh()
    # "best_state" holds the kept weights (the name predates spec.keep; checkpoints carry it).
    state: dict[str, Any] = {"epoch": 0, "history": [], "best_top1": -1.0, "best_epoch": -1,
             "best_state": _clone_state(model), "stale": 0, "kept_top1": -1.0, "kept_epoch": -1}
    extra_start = _clone_state(extra) if extra is not None else None
    if checkpoint is not None and checkpoint.exists():
        try:
            state = _load_checkpoint(checkpoint, model, optimizer, scheduler, extra, ema)
            state.setdefault("kept_top1", state["best_top1"])  # written before spec.keep: it kept the best
            state.setdefault("kept_epoch", state["best_epoch"])
        except ConfigError:
            raise
        except Exception as exc:  # noqa: BLE001 - a damaged file (disk, copy, hand edit): it must not block --resume
            reason = " ".join(str(exc).split())[:120]
            reporter.note(f"{label}: checkpoint {checkpoint.name} is damaged ({exc.__class__.__name__}: {reason}); "
                          "training restarts from epoch 1 and overwrites it")
            model.load_state_dict(state["best_state"])  # the weights before any of it was applied
            if extra is not None and extra_start is not None:
                extra.load_state_dict(extra_start)
            optimizer, scheduler, ema = fresh()
    probe = getattr(reporter, "epoch_model", None)
    layout = _fast_layout(train)
    model.to(memory_format=layout)  # type: ignore[call-overload]  # stubs omit memory_format
    net = ddp.wrap(model, device)
    for epoch in range(state["epoch"], spec.epochs):
        torch.manual_seed(seed * 1000 + epoch)
        started = time.perf_counter()
        loss = _train_one_epoch(net, train, spec, loss_fn, optimizer, scheduler, seed, epoch, label,
                                extra=extra, batch=batch, device=device,
                                after_step=(lambda: ema.update(model)) if ema is not None else None)
        loss = ddp.mean_scalar(loss, device)
        def precise_bn(bn_seed: int = seed * 1000 + epoch) -> None:
            """Fresh BatchNorm statistics for the weights in the model before val picks the best epoch."""
            recompute_bn_statistics(model, train, batch, seed=bn_seed, device=device, layout=layout)
            ddp.sync_buffers(model)

        precise_bn()
        entry = {"epoch": epoch + 1, "loss": loss}
        if ema is not None:
            entry["val_top1_raw"] = evaluate_top1(model, val, device=device)
        with ema.applied(model) if ema is not None else _as_is(model):
            if ema is not None:
                # The shadow's BN statistics average running statistics of many older weights, not
                # the statistics of the averaged weights: with them a CIFAR student scored 10% for two
                # epochs while its raw weights scored 16-19%.
                precise_bn()
            val_top1 = entry["val_top1"] = evaluate_top1(model, val, device=device)
            improved = val_top1 > state["best_top1"]
            if improved:
                state.update(best_top1=val_top1, best_epoch=epoch + 1, stale=0)
            else:
                state["stale"] += 1
            if improved or spec.keep == "last":
                state.update(kept_top1=val_top1, kept_epoch=epoch + 1, best_state=_clone_state(model))
            rate = len(train) / max(time.perf_counter() - started, 1e-9)  # training + validation, not the probe
            if probe is not None:
                entry.update(probe(label, epoch + 1, model) or {})
        state["history"].append(entry)
        state["epoch"] = epoch + 1
        if checkpoint is not None and rank == 0:
            _save_checkpoint(checkpoint, model, optimizer, scheduler, state, extra, ema)
        reporter.epoch(label, epoch + 1, spec.epochs, loss, val_top1, rate)
        if on_epoch is not None:
            on_epoch(epoch + 1, val_top1)
        if spec.patience is not None and state["stale"] >= spec.patience:
            break
    model.load_state_dict(state["best_state"])
    model.to(memory_format=torch.contiguous_format)  # type: ignore[call-overload]  # stubs omit memory_format
    model.eval()
    ddp.barrier()  # the last checkpoint is on disk before any rank moves on
    return {"epochs": state["history"], "best_epoch": state["best_epoch"], "best_val_top1": state["best_top1"],
            "keep": spec.keep, "kept_epoch": state["kept_epoch"], "kept_val_top1": state["kept_top1"],
            "epochs_run": state["epoch"], "world_size": world_size, "batch_size": spec.batch_size,
            "steps_per_epoch": steps_per_epoch}


@torch.inference_mode()
def predict_logits(model: nn.Module | Callable, x: torch.Tensor, batch_size: int = 256,
                   device: torch.device | str | None = None) -> torch.Tensor:
    """Logits of ``model`` on ``x`` in eval mode, in bounded-memory batches (returned on the CPU).

    ``device``: where to run the batches (the model must already be there); default: ``x``'s device.
    """
    if isinstance(model, nn.Module):
        was_training = model.training
        model.eval()
    outputs = [model(x[i:i + batch_size].to(device or x.device)).cpu() for i in range(0, len(x), batch_size)]
    if isinstance(model, nn.Module) and was_training:
        model.train()
    return torch.cat(outputs) if outputs else torch.empty(0)


def evaluate_top1(model: nn.Module, split: Split, device: torch.device | str | None = None) -> float:
    """Top-1 accuracy of ``model`` on ``split`` (run on ``device``, default the CPU)."""
    logits = predict_logits(model, split.x, device=device)
    return float((logits.argmax(1) == split.y).float().mean())


def _train_one_epoch(model, train: Split, spec: TrainSpec, loss_fn: LossFn, optimizer, scheduler,
                     seed: int, epoch: int, label: str, *, extra: nn.Module | None = None,
                     batch: int | None = None, device: torch.device | None = None,
                     after_step: Callable[[], None] | None = None) -> float:
    model.train()
    if extra is not None:
        extra.train()
    batch = batch or spec.batch_size
    layout = _fast_layout(train)
    generator = torch.Generator().manual_seed(seed * 1000 + epoch)
    rank, world_size = ddp.world()
    order = ddp.shard(torch.randperm(len(train), generator=generator), rank, world_size)
    total, count = 0.0, 0
    for step, start in enumerate(range(0, len(order), batch)):
        idx = order[start:start + batch]
        inputs = train.x[idx] if train.augment is None else train.augment(train.x[idx], generator)
        labels = train.y[idx]
        if spec.mixing is not None and spec.mixing.active:
            # After the per-sample augmentation, from the same generator: a replayed epoch mixes alike.
            inputs, labels = mix_batch(inputs, labels, spec.mixing, generator)
        inputs, labels = inputs.to(device or "cpu"), labels.to(device or "cpu")
        # The model sees channels-last images (about 2x faster for depthwise students on CPU); the loss
        # (and a black-box teacher inside it) gets the plain tensor.
        loss = loss_fn(model(inputs.contiguous(memory_format=layout)), labels, idx, inputs)
        if not torch.isfinite(loss):
            raise TrainingDivergedError(
                f"{label}: loss became {float(loss.detach())} at epoch {epoch + 1}, step {step + 1}",
                fix="lower the learning rate (e.g. --set distill.lr=1e-3) or check the data for NaN/huge values")
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if extra is not None:
            ddp.average_gradients(extra)
        optimizer.step()
        scheduler.step()
        if after_step is not None:
            after_step()
        total += float(loss.detach()) * len(idx)
        count += len(idx)
    return total / max(count, 1)


def _fast_layout(train: Split) -> torch.memory_format:
    """Channels-last for image batches (N, C, H, W), where oneDNN's depthwise kernels are much faster."""
    return torch.channels_last if train.x.dim() == 4 else torch.contiguous_format


def _make_optimizer(params: list, spec: TrainSpec) -> torch.optim.Optimizer:
    if spec.optimizer == "sgd":
        return torch.optim.SGD(params, lr=spec.lr, momentum=0.9, nesterov=True,
                               weight_decay=spec.weight_decay)
    return torch.optim.AdamW(params, lr=spec.lr, weight_decay=spec.weight_decay)


def _cosine_with_warmup(spec: TrainSpec, steps_per_epoch: int) -> Callable[[int], float]:
    total = max(spec.epochs * steps_per_epoch, 1)
    warmup = min(spec.warmup_epochs * steps_per_epoch, total - 1)

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / (warmup + 1)
        progress = (step - warmup) / max(total - warmup, 1)
        return 0.5 * (1.0 + math.cos(math.pi * min(progress, 1.0)))

    return factor


def _clone_state(model: nn.Module) -> dict:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


@contextmanager
def _as_is(model: nn.Module) -> Iterator[nn.Module]:
    yield model


def _save_checkpoint(path: Path, model, optimizer, scheduler, state: dict, extra=None, ema=None) -> None:
    buffer = io.BytesIO()
    torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                "scheduler": scheduler.state_dict(), "state": state,
                "extra": extra.state_dict() if extra is not None else None,
                "ema": ema.state_dict() if ema is not None else None}, buffer)
    atomic.write_bytes(path, buffer.getvalue())


def _load_checkpoint(path: Path, model, optimizer, scheduler, extra=None, ema=None) -> dict:
    saved = torch.load(path, weights_only=True, map_location="cpu")
    model.load_state_dict(saved["model"])
    if extra is not None and saved.get("extra") is not None:
        extra.load_state_dict(saved["extra"])
    if ema is not None:
        if saved.get("ema") is None:
            raise ConfigError(
                f"{path} was written by a run without distill.ema, so it has no average to continue",
                fix="delete that checkpoint (training restarts) or turn distill.ema off")
        ema.load_state_dict(saved["ema"])
    optimizer.load_state_dict(saved["optimizer"])
    scheduler.load_state_dict(saved["scheduler"])
    return saved["state"]
