"""MACs of a TorchScript teacher, counted from the aten ops its forward runs.

A ScriptModule's layers cannot be hooked (``edgekd.students.counter`` hooks ``nn.Conv2d`` and
``nn.Linear``), but the TorchScript interpreter dispatches every aten op through the
dispatcher, where torch's :class:`~torch.utils.flop_counter.FlopCounterMode` sees it. That
counter gives FLOPs (2 per multiply-accumulate) for convolutions (grouped, depthwise,
transposed) and matrix products; half of it is the MACs, in the students' convention except
that a matmul between two activations (attention) is counted too.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch


def count_traced_macs(model: torch.nn.Module, input_shape: Sequence[int]) -> int | None:
    """Per-sample MACs of ``model`` on one zero input of ``input_shape``, or ``None`` if the forward fails.

    Args:
        model: Any callable module (a ScriptModule, or wrappers around one).
        input_shape: One sample's shape (no batch dimension).
    """
    from torch.utils.flop_counter import FlopCounterMode

    was_training = model.training
    model.eval()
    counter = FlopCounterMode(display=False)
    try:
        with torch.no_grad(), counter:
            model(torch.zeros(1, *input_shape))
    except Exception:  # noqa: BLE001 - the user's forward; an uncountable model is "unknown", not a failed build
        return None
    finally:
        model.train(was_training)
    return int(counter.get_total_flops()) // 2
