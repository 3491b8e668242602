"""Data-parallel training under ``torchrun``: process group, sharding, device choice.

``torchrun --nproc_per_node=N`` starts N copies of the program with ``RANK``, ``WORLD_SIZE``,
``MASTER_ADDR`` and ``MASTER_PORT`` set. :func:`maybe_init` joins them into one process group
(gloo on CPU, nccl on CUDA). Without those variables every helper here is a no-op, so
the same trainer code runs in one process.

Sharding follows ``torch.utils.data.DistributedSampler``: every rank draws the same seeded
permutation, pads it by wrapping around to a multiple of the world size, and keeps every
``world``-th index starting at its rank.
"""

from __future__ import annotations

import os

import torch
import torch.distributed as dist
from torch import nn


def maybe_init() -> None:
    """Join the process group when launched by torchrun with more than one process."""
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1 or not dist.is_available() or dist.is_initialized():
        return
    backend = "nccl" if torch.cuda.is_available() else "gloo"
    dist.init_process_group(backend)


def world() -> tuple[int, int]:
    """``(rank, world_size)``; ``(0, 1)`` outside a process group."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def is_main() -> bool:
    """True on the process that writes checkpoints, artifacts and progress (rank 0)."""
    return world()[0] == 0


def shard(order: torch.Tensor, rank: int, world_size: int) -> torch.Tensor:
    """This rank's share of a global sample order (DistributedSampler's rule)."""
    if world_size <= 1:
        return order
    pad = (-len(order)) % world_size
    padded = torch.cat([order, order[:pad]]) if pad else order
    return padded[rank::world_size]


def select_device(requested: str = "auto") -> torch.device:
    """The training device: ``cuda`` when present (``auto``) or asked for, else the CPU.

    Under torchrun on CUDA each process takes the GPU of its ``LOCAL_RANK``.
    """
    if requested == "cpu" or (requested == "auto" and not torch.cuda.is_available()):
        return torch.device("cpu")
    if not torch.cuda.is_available():
        from ..errors import ConfigError
        raise ConfigError("distill.device is cuda but no CUDA device is available",
                          fix="set distill.device=auto (uses CUDA when present) or cpu")
    index = int(os.environ.get("LOCAL_RANK", "0")) % torch.cuda.device_count()
    torch.cuda.set_device(index)
    return torch.device("cuda", index)


def wrap(model: nn.Module, device: torch.device) -> nn.Module:
    """``DistributedDataParallel(model)`` in a process group, else the model itself."""
    if world()[1] <= 1:
        return model
    from torch.nn.parallel import DistributedDataParallel

    ids = [device.index] if device.type == "cuda" else None
    return DistributedDataParallel(model, device_ids=ids)


def sync_buffers(model: nn.Module) -> None:
    """Copy rank 0's buffers (BatchNorm running stats) to every rank.

    DDP broadcasts buffers at the start of each forward, but the last training step updates
    each rank's copy from its own shard; evaluating with rank 0's copy everywhere gives every
    rank the same val accuracy, hence the same best-epoch and early-stopping decisions.
    """
    if world()[1] <= 1:
        return
    for buffer in model.buffers():
        dist.broadcast(buffer.data, src=0)


def average_gradients(module: nn.Module) -> None:
    """All-reduce (mean) the gradients of a module that is not wrapped in DDP (e.g. hint adapters)."""
    _rank, size = world()
    if size <= 1:
        return
    for p in module.parameters():
        if p.grad is not None:
            dist.all_reduce(p.grad)
            p.grad /= size


def mean_scalar(value: float, device: torch.device) -> float:
    """The mean of ``value`` over ranks (for progress lines)."""
    _rank, size = world()
    if size <= 1:
        return value
    t = torch.tensor([value], dtype=torch.float64, device=device)
    dist.all_reduce(t)
    return float(t) / size


def barrier() -> None:
    """Wait for every rank (no-op in one process)."""
    if world()[1] > 1:
        dist.barrier()
