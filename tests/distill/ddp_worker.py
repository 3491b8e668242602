"""A tiny training run for the torchrun test: ``python ddp_worker.py OUT_DIR``.

Every rank writes ``rank{N}.json`` (its final weights' checksum and test accuracy); only
rank 0 may write the checkpoint. Run without torchrun it is the one-process reference.
"""

import json
import sys
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from edgekd.data.bundle import Split
from edgekd.distill import ddp
from edgekd.distill.trainer import TrainSpec, evaluate_top1, fit


def blobs(n: int, seed: int) -> Split:
    """Four noisy 2-D clusters as (N, 2, 1, 1) inputs."""
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, 4, (n,), generator=g)
    centres = torch.tensor([[2.0, 0.0], [-2.0, 0.0], [0.0, 2.0], [0.0, -2.0]])
    x = centres[y] + 0.9 * torch.randn(n, 2, generator=g)
    return Split(x[:, :, None, None].contiguous(), y)


def run(out: Path) -> dict:
    """Train the tiny net; return (and write, per rank) what the test compares."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(2, 32), nn.BatchNorm1d(32), nn.ReLU(), nn.Linear(32, 4))
    spec = TrainSpec(epochs=5, lr=2e-2, weight_decay=0.0, batch_size=32)
    history = fit(model, blobs(501, 0), blobs(200, 1), spec, lambda lg, y, _i, _x: F.cross_entropy(lg, y),
                  seed=0, label="tiny", checkpoint=out / "tiny.ckpt")
    rank, world = ddp.world()
    result = {"rank": rank, "world": world, "test_top1": evaluate_top1(model, blobs(400, 2)),
              "checksum": float(sum(p.double().sum() for p in model.state_dict().values())),
              "history_world": history["world_size"]}
    (out / f"rank{rank}.json").write_text(json.dumps(result))
    return result


if __name__ == "__main__":
    run(Path(sys.argv[1]))
