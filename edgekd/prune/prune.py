"""Pruning a torch student: structured channel pruning (torch-pruning) and unstructured masks.

Structured pruning removes whole channels, so the pruned network really is smaller: fewer
parameters, fewer MACs, smaller exported files, lower dense latency. torch-pruning's
``DependencyGraph`` finds every layer coupled to a pruned channel (the depthwise conv that
must lose the same channel, the BatchNorm after it, both branches of a residual add), so
the result stays a valid network. The classifier is never pruned: its outputs are the classes.

Unstructured magnitude pruning only zeroes weights (``torch.nn.utils.prune``): the tensors
keep their shape, so dense runtimes (ONNX Runtime, LiteRT, Core ML) run exactly as many MACs
as before. It is offered for sparse runtimes and experiments, and the report says so.
"""

from __future__ import annotations

from typing import Callable, Sequence

import torch
from torch import nn

from ..errors import ConfigError
from ..students import count_params_macs

IMPORTANCES = ("l2", "l1", "bn_scale", "lamp")
UNSTRUCTURED_NOTE = ("unstructured magnitude pruning only zeroes weights: the dense model keeps its shape, so it "
                     "does not reduce dense latency, MACs or file size (it needs a sparse runtime to pay off)")
_MAX_STEPS = 40


def classifier_layers(model: nn.Module, num_classes: int) -> list[nn.Module]:
    """The layers that produce the logits: never pruned (their outputs are the classes).

    Every ``Linear`` with ``num_classes`` outputs, plus the last ``Linear``/``Conv`` in the
    model (a 1×1-conv classifier head).
    """
    weighted: list[nn.Module] = [m for m in model.modules() if isinstance(m, (nn.Linear, nn.Conv1d, nn.Conv2d))]
    ignored: list[nn.Module] = [m for m in weighted if isinstance(m, nn.Linear) and m.out_features == num_classes]
    if weighted and weighted[-1] not in ignored:
        ignored.append(weighted[-1])
    return ignored


def _importance(name: str):
    import torch_pruning as tp

    if name == "l2":
        return tp.importance.MagnitudeImportance(p=2)
    if name == "l1":
        return tp.importance.MagnitudeImportance(p=1)
    if name == "bn_scale":
        return tp.importance.BNScaleImportance()
    if name == "lamp":
        return tp.importance.LAMPImportance(p=2)
    raise ConfigError(f"unknown pruning importance {name!r}", fix=f"use one of {', '.join(IMPORTANCES)}")


def prune_structured(model: nn.Module, input_shape: Sequence[int], num_classes: int, target_macs_ratio: float, *,
                     importance: str = "l2", round_to: int | None = None) -> dict:
    """Remove channels from ``model`` in place until its MACs are at most ``target_macs_ratio`` of the original.

    Pruning goes in small uniform steps (each step removes a further slice of every prunable
    layer's channels, ranked by ``importance``) and stops at the first step at or below the
    target, so the ratio reached is close to, and not above, the one asked for.

    Args:
        model: The student (modified in place; put in eval mode).
        input_shape: One sample, ``(C, H, W)``.
        num_classes: Logit count (the classifier keeps them all).
        target_macs_ratio: MACs after / MACs before, in (0, 1).
        importance: Channel ranking: ``l2``/``l1`` weight magnitude, ``bn_scale`` (|γ| of the
            following BatchNorm) or ``lamp``.
        round_to: Keep channel counts a multiple of this (SIMD-friendly); ``None`` = any count.

    Returns:
        ``dict(params_before, params_after, macs_before, macs_after, macs_ratio, steps)``.

    Raises:
        ConfigError: ``target_macs_ratio`` outside (0, 1), unknown importance, or the model
            cannot reach the target (too few prunable channels).
    """
    if not 0.0 < target_macs_ratio < 1.0:
        raise ConfigError(f"prune.target_macs_ratio must be in (0, 1), got {target_macs_ratio}",
                          fix="e.g. --set prune.target_macs_ratio=0.5 for half the MACs")
    macs0 = count_params_macs(model, input_shape)[1]

    def reached(pruned: nn.Module) -> bool:
        return count_params_macs(pruned, input_shape)[1] <= target_macs_ratio * macs0

    info = _prune_until(model, input_shape, num_classes, reached, importance, round_to)
    if not info.pop("reached"):
        raise ConfigError(f"structured pruning reached only {info['macs_ratio']:.2f} of the MACs, not "
                          f"{target_macs_ratio}", fix="raise prune.target_macs_ratio or use a wider student")
    return info


def prune_to_latency(model: nn.Module, input_shape: Sequence[int], num_classes: int,
                     latency_of: Callable[[nn.Module], float], target_ms: float, *, importance: str = "l2",
                     round_to: int | None = None, confirm: Callable[[nn.Module], float] | None = None) -> dict:
    """Remove channels from ``model`` in place until its predicted latency is at most ``target_ms``.

    The same uniform steps as :func:`prune_structured`. ``latency_of`` is the device predictor's
    upper bound for the model (the prune stage passes a fast float stand-in); ``confirm``, when
    given, is the figure the gate judges (the model exported and quantized as shipped): it is
    taken before pruning and at every step the stand-in fits, and pruning stops only when it fits.

    Returns:
        :func:`prune_structured`'s dict plus ``latency_before_ms``, ``latency_after_ms`` (the
        confirmed figures when ``confirm`` is given) and ``latency_per_step_ms`` (``latency_of``
        before pruning and after each step).

    Raises:
        ConfigError: the target cannot be reached within the steps (the closest prediction is named).
    """
    curve: list[float] = []  # latency_of before pruning, then after each step
    shipped: list[tuple[int, float]] = []  # (step, confirm(model)) where it was taken

    def reached(pruned: nn.Module) -> bool:
        curve.append(float(latency_of(pruned)))
        if confirm is not None and (len(curve) == 1 or curve[-1] <= target_ms):
            shipped.append((len(curve) - 1, float(confirm(pruned))))
            return shipped[-1][1] <= target_ms
        return curve[-1] <= target_ms

    info = _prune_until(model, input_shape, num_classes, reached, importance, round_to)
    last = shipped[-1][1] if shipped and shipped[-1][0] == len(curve) - 1 else curve[-1]
    info.update(latency_before_ms=shipped[0][1] if shipped else curve[0], latency_after_ms=last,
                latency_per_step_ms=curve)
    if not info.pop("reached"):
        raise ConfigError(f"structured pruning reached a predicted {last:.3g} ms at {info['macs_ratio']:.2f} of "
                          f"the MACs, not prune.target_latency_ms={target_ms:g}",
                          fix="raise prune.target_latency_ms, or start from a smaller student (student.options)")
    return info


def _prune_until(model: nn.Module, input_shape: Sequence[int], num_classes: int,
                 reached: Callable[[nn.Module], bool], importance: str, round_to: int | None) -> dict:
    """Uniform torch-pruning steps until ``reached(model)`` (checked before the first step too)."""
    import torch_pruning as tp

    model.eval()
    params0, macs0 = count_params_macs(model, input_shape)
    example = torch.zeros(1, *input_shape)
    pruner = tp.pruner.MetaPruner(model, example, importance=_importance(importance), pruning_ratio=0.95,
                                  iterative_steps=_MAX_STEPS, ignored_layers=classifier_layers(model, num_classes),
                                  round_to=round_to)
    steps = 0
    done = reached(model)
    while not done and steps < _MAX_STEPS:
        pruner.step()
        steps += 1
        done = reached(model)
    params, macs = count_params_macs(model, input_shape)
    return {"params_before": params0, "params_after": params, "macs_before": macs0, "macs_after": macs,
            "macs_ratio": macs / macs0, "steps": steps, "reached": done}


def prune_unstructured(model: nn.Module, amount: float, num_classes: int) -> list[tuple[nn.Module, str]]:
    """Zero the ``amount`` fraction of smallest-magnitude conv/linear weights (global L1), as masks.

    The masks stay attached (so fine-tuning keeps the zeros) until :func:`make_permanent`.

    Args:
        model: The student (modified in place).
        amount: Fraction of weights to zero, in (0, 1).
        num_classes: Logit count (the classifier is left dense).

    Returns:
        The ``(module, "weight")`` pairs that carry masks.
    """
    from torch.nn.utils import prune as torch_prune

    if not 0.0 < amount < 1.0:
        raise ConfigError(f"unstructured pruning amount must be in (0, 1), got {amount}",
                          fix="set prune.target_macs_ratio in (0, 1); 1 - ratio of the weights are zeroed")
    skip = {id(m) for m in classifier_layers(model, num_classes)}
    params: list[tuple[nn.Module, str]] = [(m, "weight") for m in model.modules()
                                           if isinstance(m, (nn.Linear, nn.Conv1d, nn.Conv2d)) and id(m) not in skip]
    torch_prune.global_unstructured(params, pruning_method=torch_prune.L1Unstructured, amount=amount)
    return params


def make_permanent(params: list[tuple[nn.Module, str]]) -> None:
    """Fold the masks of :func:`prune_unstructured` into the weights (plain tensors again)."""
    from torch.nn.utils import prune as torch_prune

    for module, name in params:
        torch_prune.remove(module, name)


def sparsity(model: nn.Module) -> float:
    """Fraction of exactly-zero weights over conv/linear layers."""
    total = zeros = 0
    for m in model.modules():
        if isinstance(m, (nn.Linear, nn.Conv1d, nn.Conv2d)):
            total += m.weight.numel()
            zeros += int((m.weight == 0).sum())
    return zeros / max(total, 1)
