"""torchrun: 2 CPU processes (gloo) train like 1 process; only rank 0 writes checkpoints."""

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from edgekd.distill import ddp

WORKER = Path(__file__).with_name("ddp_worker.py")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_shard_covers_the_order_like_distributed_sampler():
    order = torch.arange(7)
    shards = [ddp.shard(order, r, 2) for r in range(2)]
    assert [len(s) for s in shards] == [4, 4]
    assert set(torch.cat(shards).tolist()) == set(range(7))  # one sample repeated to pad, none lost
    assert ddp.shard(order, 0, 1) is order
    assert ddp.world() == (0, 1) and ddp.is_main()


@pytest.mark.slow  # two torchrun workers + a reference run, ~16 s: make test-all
def test_two_process_torchrun_matches_one_process(tmp_path):
    single_dir, multi_dir = tmp_path / "one", tmp_path / "two"
    single_dir.mkdir()
    multi_dir.mkdir()
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(WORKER.parent)}
    for key in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        env.pop(key, None)
    subprocess.run([sys.executable, str(WORKER), str(single_dir)], env=env, check=True, timeout=120)
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", "--master_addr=127.0.0.1",
           f"--master_port={_free_port()}", str(WORKER), str(multi_dir)]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    one = json.loads((single_dir / "rank0.json").read_text())
    ranks = [json.loads((multi_dir / f"rank{r}.json").read_text()) for r in range(2)]
    assert one["world"] == 1 and [r["world"] for r in ranks] == [2, 2]
    assert ranks[0]["history_world"] == 2
    # DDP keeps the replicas identical: same weights, same accuracy on every rank.
    assert abs(ranks[0]["checksum"] - ranks[1]["checksum"]) < 1e-6
    assert ranks[0]["test_top1"] == ranks[1]["test_top1"]
    # Same task, same global batch and schedule: the same accuracy within noise.
    assert one["test_top1"] > 0.8
    assert abs(ranks[0]["test_top1"] - one["test_top1"]) <= 0.03
    # Only rank 0 writes: one checkpoint, and no temp files left by a second writer.
    assert [p.name for p in sorted(multi_dir.iterdir()) if "ckpt" in p.name] == ["tiny.ckpt"]
