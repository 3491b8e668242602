"""Runners and host timing for artifacts (the runtime each format really runs in)."""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from ..artifact import Artifact


def open_artifact_runner(art: Artifact, ctx):
    """A Runner for ``art``, or ``None`` for Core ML (prediction needs macOS).

    The teacher is scored through its model as distillation saw it (its own input, its
    log-probabilities) and timed in its own runtime (:class:`edgekd.teachers.runner.TeacherRunner`).
    """
    from ..runtimes import TorchRunner, open_runner

    if art.role == "teacher" and art.model is not None:
        from ..teachers.runner import TeacherRunner

        timing = open_runner(ctx.resolve(art.path), art.format, ctx.threads) if art.format in ("onnx", "tflite") \
            else None
        return TeacherRunner(art.model, timing, ctx.threads)
    if art.format == "torch":
        return TorchRunner(art.model, ctx.threads)
    if art.format == "coreml":
        return None
    return open_runner(ctx.resolve(art.path), art.format, ctx.threads)


def measure_host_latency(runner, sample: np.ndarray, ctx) -> tuple[dict | None, int | None]:
    """Host latency of one-sample inference, and the process's peak RSS meanwhile."""
    from .latency import measure_latency
    from .rss import RssSampler

    mode = ctx.config.bench.latency_mode
    if runner is None or mode == "off":
        return None, None
    prepared = runner.prepare(sample)
    with RssSampler() as rss:
        stats = measure_latency(lambda: runner.run_once(prepared), mode=mode)
    host = {k: stats[k] for k in ("p50", "p90", "p99", "mean", "cv", "runs", "noisy", "noise")}
    host.update(threads=runner.threads, runtime=runner.name)
    return host, int(rss.peak_bytes)


def compare_side_by_side(fp32: Artifact, int8: Artifact, ctx) -> float:
    """p50(INT8) / p50(FP32), the two interleaved in one loop at steady state (back-to-back bursts)."""
    from .latency import STEADY_BURST, interleaved

    sample = ctx.data.test.numpy()[0][:1]
    runners = {"fp32": open_artifact_runner(fp32, ctx), "int8": open_artifact_runner(int8, ctx)}
    prepared = {k: r.prepare(sample) for k, r in runners.items()}
    stats = interleaved({k: _one_call(r, prepared[k]) for k, r in runners.items()}, burst=STEADY_BURST)
    return float(stats["int8"]["p50"] / stats["fp32"]["p50"])


def _one_call(runner, prepared) -> Callable[[], Any]:
    """A zero-argument call of one prepared inference (what the timing loop repeats)."""
    return lambda: runner.run_once(prepared)
