"""Rebuild a structurally pruned student from its weights alone.

Structured pruning changes channel counts, so a pruned student's state dict does not fit the
network the registry builds. Saving the whole pickled module would fit, but loading it needs
``torch.load(weights_only=False)``, which runs code from the file. Instead the prune stage
saves the state dict, and :func:`fit_to_state_dict` resizes the registry's network to the
saved tensor shapes: the channel counts are all in the weights.
"""

from __future__ import annotations

import torch
from torch import nn


def fit_to_state_dict(model: nn.Module, state: dict[str, torch.Tensor]) -> nn.Module:
    """Resize ``model``'s convolutions, norms and linears to ``state``'s shapes, then load it.

    Args:
        model: A freshly built network of the same architecture (unpruned channel counts).
        state: The pruned network's ``state_dict()``.

    Returns:
        ``model``, resized in place, with ``state`` loaded (strictly).

    Raises:
        RuntimeError: ``state`` does not belong to this architecture (missing or extra keys,
            or a shape no channel count explains).
    """
    for name, module in model.named_modules():
        weight = state.get(f"{name}.weight" if name else "weight")
        if weight is None:
            continue
        if isinstance(module, nn.Conv2d):
            _fit_conv(module, weight)
        elif isinstance(module, nn.modules.batchnorm._BatchNorm):
            module.num_features = weight.shape[0]
        elif isinstance(module, nn.Linear):
            module.out_features, module.in_features = weight.shape
        else:
            continue
        _match_tensors(module, name, state)
    model.load_state_dict(state)
    return model


def _fit_conv(conv: nn.Conv2d, weight: torch.Tensor) -> None:
    depthwise = conv.groups > 1 and conv.groups == conv.in_channels == conv.out_channels
    conv.out_channels = weight.shape[0]
    if depthwise:  # pruning keeps depthwise convs depthwise: one group per channel
        conv.groups = conv.in_channels = weight.shape[0]
    else:
        conv.in_channels = weight.shape[1] * conv.groups


def _match_tensors(module: nn.Module, prefix: str, state: dict[str, torch.Tensor]) -> None:
    """Give every parameter and buffer of ``module`` the saved shape (values come from load_state_dict)."""
    for key, tensor in [*module.named_parameters(recurse=False), *module.named_buffers(recurse=False)]:
        saved = state.get(f"{prefix}.{key}" if prefix else key)
        if saved is None or saved.shape == tensor.shape:
            continue
        fresh = torch.empty(saved.shape, dtype=tensor.dtype)
        if isinstance(tensor, nn.Parameter):
            setattr(module, key, nn.Parameter(fresh, requires_grad=tensor.requires_grad))
        else:
            module.register_buffer(key, fresh)
