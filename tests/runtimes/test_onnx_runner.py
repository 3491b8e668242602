"""OrtRunner: logits equal torch's, dynamic and fixed batch, chunking, latency hooks."""

from __future__ import annotations

import numpy as np
import pytest

from edgekd.runtimes import Runner, TorchRunner, open_runner
from edgekd.runtimes.onnx_runner import OrtRunner


def test_ort_logits_match_torch(model, x, exports):
    runner = open_runner(exports["onnx"], "onnx", threads=1)
    logits = runner.predict(x)
    assert isinstance(runner, Runner)
    assert runner.name == "onnxruntime" and runner.threads == 1
    assert logits.dtype == np.float32 and logits.shape == (len(x), 5)
    np.testing.assert_allclose(logits, TorchRunner(model, 1).predict(x), atol=1e-5, rtol=0)


def test_ort_fixed_batch_of_one_is_looped(model, x, exports):
    runner = OrtRunner(exports["onnx_b1"], threads=1)
    assert runner.fixed_batch == 1
    np.testing.assert_allclose(runner.predict(x), TorchRunner(model, 1).predict(x), atol=1e-5, rtol=0)


def test_ort_chunks_large_batches_and_keeps_order(model, exports, monkeypatch):
    import edgekd.runtimes.onnx_runner as mod

    monkeypatch.setattr(mod, "CHUNK", 4)  # 10 rows -> chunks of 4, 4, 2
    runner = OrtRunner(exports["onnx"], threads=1)
    seen = []
    real = runner._run
    runner._run = lambda xb: (seen.append(len(xb)), real(xb))[1]
    xs = np.random.default_rng(1).random((10, 3, 12, 10), dtype=np.float32)
    logits = runner.predict(xs)
    assert seen == [4, 4, 2]
    np.testing.assert_allclose(logits, TorchRunner(model, 1).predict(xs), atol=1e-5, rtol=0)


def test_ort_prepare_and_run_once(x, exports):
    runner = OrtRunner(exports["onnx"], threads=2)
    prepared = runner.prepare(x[:1].astype(np.float64))
    assert prepared["x"].dtype == np.float32 and prepared["x"].shape == (1, 3, 12, 10)
    assert runner.run_once(prepared) is None
    assert runner.session.get_session_options().intra_op_num_threads == 2


def test_ort_rejects_empty_batch(exports):
    with pytest.raises(ValueError):
        OrtRunner(exports["onnx"]).predict(np.zeros((0, 3, 12, 10), np.float32))
