"""One parameter/MAC counter for every model edgekd sees (students and teachers alike).

Convention (the one behind "MobileNetV2 1.0 = 300 M MACs"):

* params: every trainable and frozen parameter (``numel``), shared parameters once; buffers
  (BatchNorm running statistics) are not parameters.
* MACs: multiply-accumulates of ``Conv1d``/``Conv2d``/``Conv3d`` (grouped and depthwise included)
  and ``Linear`` layers for ONE sample, measured by forward hooks on a real forward pass, so
  every call of a reused layer is counted. Biases, BatchNorm, activations, pooling, element-wise
  adds/multiplies (residuals, SE gating) and functional matmuls (``torch.matmul``, attention
  inside ``F.scaled_dot_product_attention``) are not counted.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

_CONVS = (nn.Conv1d, nn.Conv2d, nn.Conv3d)


def count_params_macs(model: nn.Module, input_shape: Sequence[int]) -> tuple[int, int]:
    """Count parameters and per-sample MACs of any ``nn.Module``.

    The model runs once in eval mode under ``torch.no_grad()`` on a zero input of shape
    ``(1, *input_shape)`` (on the model's device and dtype); afterwards every submodule's
    ``training`` flag is restored and the hooks removed, so the model's state is unchanged
    (eval mode means BatchNorm statistics are not updated).

    Args:
        model: Any module whose forward takes one ``(N, *input_shape)`` tensor.
        input_shape: Shape of one sample without the batch dimension, e.g. ``(3, 32, 32)``.

    Returns:
        ``(params, macs)`` as integers.
    """
    params = sum(p.numel() for p in model.parameters())
    first = next(model.parameters(), None)
    device = first.device if first is not None else torch.device("cpu")
    dtype = first.dtype if first is not None and first.is_floating_point() else torch.float32
    x = torch.zeros((1, *input_shape), device=device, dtype=dtype)

    total = 0

    def conv_hook(m, _inp, out: torch.Tensor) -> None:  # an nn.Conv{1,2,3}d
        nonlocal total
        # Each output element needs (in_channels / groups) * prod(kernel) multiply-accumulates.
        per_output = (m.in_channels // m.groups) * math.prod(m.kernel_size)
        total += (out.numel() // out.shape[0]) * per_output

    def linear_hook(m: nn.Linear, _inp, out: torch.Tensor) -> None:
        nonlocal total
        total += (out.numel() // out.shape[0]) * m.in_features

    modes = {m: m.training for m in model.modules()}
    handles = []
    for m in model.modules():
        if isinstance(m, _CONVS):
            handles.append(m.register_forward_hook(conv_hook))
        elif isinstance(m, nn.Linear):
            handles.append(m.register_forward_hook(linear_hook))
    try:
        model.eval()
        with torch.no_grad():
            model(x)
    finally:
        for h in handles:
            h.remove()
        for m, mode in modes.items():
            m.training = mode
    return int(params), int(total)
