"""Random fitting networks and their timing in a runtime (onnxruntime only: fast)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from edgekd.fitting.runtime_timing import fit_runtime_models, measure_networks, time_in_blocks
from edgekd.fitting.synthetic import random_network
from edgekd.predict.runtime_model import FEATURES


def test_a_seed_gives_the_same_network():
    (a, spec_a), (b, spec_b) = random_network(7), random_network(7)
    assert spec_a == spec_b
    x = torch.randn(1, *spec_a.input_shape)
    torch.testing.assert_close(a(x), b(x))


def test_seeds_cover_the_kernel_mix():
    specs = [random_network(seed)[1] for seed in range(1000, 1024)]
    text = " ".join(" ".join(s.layers) for s in specs)
    for kind in ("inverted", "separable", "conv3x3", "+res", "s2"):
        assert kind in text
    assert len({s.input_shape for s in specs}) >= 5
    model, spec = random_network(1000)
    assert model(torch.randn(2, *spec.input_shape)).shape == (2, 10)


def test_blocks_time_each_variant_alone():
    order = []
    stats = time_in_blocks({"a": lambda: order.append("a"), "b": lambda: order.append("b")},
                           block_s=0.0, rounds=2, settle_s=0.0)
    assert set(stats) == {"a", "b"} and stats["a"]["runs"] == 30 and stats["a"]["mode"] == "blocks"
    # round 1: 3 warm-up + 15 timed calls of a, then of b; round 2 reversed
    assert order == ["a"] * 18 + ["b"] * 36 + ["a"] * 18
    assert len(stats["a"]["block_p50s"]) == 2 and stats["a"]["quiet_p50"] == min(stats["a"]["block_p50s"])


def test_the_quiet_figure_leaves_out_a_slow_period():
    import time

    calls = {"n": 0}

    def run():  # the machine slows down 4x for the second block
        calls["n"] += 1
        time.sleep(0.002 if 18 < calls["n"] <= 36 else 0.0005)

    stats = time_in_blocks({"a": run}, block_s=0.0, rounds=3, settle_s=0.0)["a"]
    assert stats["block_p50s"][1] > 3 * stats["quiet_p50"]
    assert stats["quiet_p50"] < 1.0


def test_measured_networks_fit_an_onnxruntime_model():
    lines = []
    records = measure_networks(14, ("onnxruntime",), ("fp32",), 1, block_s=0.01, rounds=1, progress=lines.append)
    assert len(records) == 14 and len(lines) == 28 and records[0]["seed"] == 1000
    assert all(r["seconds"]["onnxruntime/fp32"] > 0 and len(r["features"]["fp32"]["16/4"]) == len(FEATURES)
               for r in records)
    models = fit_runtime_models(records, threads=1)
    model = models["onnxruntime"]["fp32"]
    assert model["fit"]["networks"] == 14 and model["about"]["threads"] == 1
    assert "onnxruntime" in model["about"]["versions"]
    # a model fitted on these networks explains them: the run cost alone cannot
    loo = model["fit"]["loo_median_abs_error"]
    assert np.isfinite(loo) and loo < 1.0


def test_export_refuses_a_non_empty_folder_and_time_refuses_a_missing_runtime(tmp_path):
    from edgekd.errors import ConfigError, OutputDirError
    from edgekd.fitting.runtime_timing import export_networks, time_networks

    (tmp_path / "used").mkdir()
    (tmp_path / "used" / "x").write_text("")
    with pytest.raises(OutputDirError, match="not empty"):
        export_networks(tmp_path / "used", 14, ("onnxruntime",), ("fp32",))
    folder = tmp_path / "nets"
    folder.mkdir()
    (folder / "manifest.json").write_text('{"runtimes": ["onnxruntime"], "precisions": ["fp32"], "networks": []}')
    with pytest.raises(ConfigError, match="no litert files"):
        time_networks(folder, 1, ("litert",))
