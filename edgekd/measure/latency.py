"""Host latency of one-sample inference, with the statistics to tell when it is noise.

Each call of ``run_once`` is timed on its own with ``time.perf_counter_ns`` (or an
injected ``clock`` returning nanoseconds, which is how the tests check the logic without
timing anything). Results are in milliseconds.

Modes:
    ``short`` (default, for builds): 5 warm-up calls, then measure until at least 30 runs
    **and** at least 0.5 s have been collected, stopping early at 3 s whatever the count
    (a slow model gets fewer runs rather than a slow build).
    ``full`` (MLPerf Mobile-like, for benchmarks): 5 warm-up calls, then at least 1,024
    queries **and** at least 60 s, with no time cap, so the query count is never cut.

Noise rule: a measurement is flagged ``noisy`` when the coefficient of variation
(sample std / mean) is above 0.25, when the tail is long (p99 / p50 above 3), or when it
has fewer than ``MIN_RUNS`` = 10 timed runs: below 10 samples the p90 is the slowest run
(or an interpolation towards it) and the CV of a handful of runs says nothing, so a
single slow call (a first oneDNN call, a cap of ``max_seconds`` hit after one run) would
otherwise pass as a clean figure. ``noise`` lists the reasons in words. On a
shared 2-core host single runs vary by about ±40 %: compare variants with
:func:`interleaved` (A B A B ... in one loop) and report ratios of their medians.
"""

from __future__ import annotations

import math
import time
from typing import Callable

import numpy as np

NOISY_CV = 0.25
STEADY_BURST = 8  # calls per turn when comparing variants at steady state (see interleaved)
NOISY_TAIL = 3.0
MIN_RUNS = 10

MODES = {
    "short": {"warmup": 5, "min_runs": 30, "min_seconds": 0.5, "max_seconds": 3.0},
    "full": {"warmup": 5, "min_runs": 1024, "min_seconds": 60.0, "max_seconds": math.inf},
}

Clock = Callable[[], int]


def _settings(mode: str, warmup, min_runs, min_seconds, max_seconds) -> dict:
    if mode not in MODES:
        raise ValueError(f"latency mode must be one of {sorted(MODES)}, got {mode!r}")
    s = dict(MODES[mode])
    # None means "the mode's default" for every override.
    for key, value in (("warmup", warmup), ("min_runs", min_runs), ("min_seconds", min_seconds),
                       ("max_seconds", max_seconds)):
        if value is not None:
            s[key] = value
    if s["warmup"] < 0 or s["min_runs"] < 1:
        raise ValueError("warmup must be >= 0 and min_runs >= 1")
    return s


def time_calls(run_once: Callable[[], None], *, warmup: int, min_runs: int, min_seconds: float,
               max_seconds: float = math.inf, max_runs: int | None = None, clock: Clock = time.perf_counter_ns
               ) -> list[int]:
    """The one timing loop: nanoseconds of each call of ``run_once``.

    ``warmup`` untimed calls, then timed calls until at least ``min_runs`` **and**
    ``min_seconds`` are reached, stopping early at ``max_seconds`` of measuring (after at
    least one call) or at ``max_runs`` calls (after at least ``min_runs``).
    """
    for _ in range(warmup):
        run_once()
    samples: list[int] = []
    start = clock()
    while True:
        t0 = clock()
        run_once()
        t1 = clock()
        samples.append(t1 - t0)
        runs, elapsed = len(samples), (t1 - start) / 1e9
        if runs >= min_runs and (elapsed >= min_seconds or (max_runs is not None and runs >= max_runs)):
            return samples
        if elapsed >= max_seconds:
            return samples


def summarize(samples_ms, *, seconds: float = 0.0, mode: str = "short") -> dict:
    """Statistics of latency samples in milliseconds.

    Args:
        samples_ms: One latency per run, in milliseconds.
        seconds: Wall time the measurement took (reported as is).
        mode: The mode label to report.

    Returns:
        ``{"p50", "p90", "p99", "mean", "min", "cv", "runs", "seconds", "noisy", "noise", "mode"}``.
        Percentiles use linear interpolation; ``cv`` uses the sample std (ddof=1, 0 for a
        single run); ``noisy`` follows the rule in the module docstring and ``noise`` gives
        its reasons (empty when not noisy).
    """
    a = np.asarray(samples_ms, dtype=np.float64)
    if a.size == 0:
        raise ValueError("no latency samples")
    p50, p90, p99 = (float(v) for v in np.percentile(a, [50, 90, 99]))
    mean = float(a.mean())
    cv = float(a.std(ddof=1) / mean) if a.size > 1 and mean > 0 else 0.0
    noise = noise_reasons(cv, p50, p99, int(a.size))
    return {"p50": p50, "p90": p90, "p99": p99, "mean": mean, "min": float(a.min()), "cv": cv,
            "runs": int(a.size), "seconds": float(seconds), "noisy": bool(noise), "noise": noise, "mode": mode}


def noise_reasons(cv: float, p50: float, p99: float, runs: int) -> list[str]:
    """Why a measurement is too noisy to judge (empty when it is not), each reason in words."""
    reasons = []
    if runs < MIN_RUNS:
        reasons.append(f"{runs} timed run{'s' if runs != 1 else ''} < {MIN_RUNS}")
    if cv > NOISY_CV:
        reasons.append(f"CV {cv:.2f} > {NOISY_CV}")
    if p50 > 0 and p99 / p50 > NOISY_TAIL:
        reasons.append(f"p99/p50 {p99 / p50:.1f} > {NOISY_TAIL:g}")
    return reasons


def measure_latency(run_once: Callable[[], None], *, mode: str = "short", warmup: int | None = None,
                    min_runs: int | None = None, min_seconds: float | None = None,
                    max_seconds: float | None = None, clock: Clock = time.perf_counter_ns) -> dict:
    """Time ``run_once`` repeatedly and summarise the per-call latency.

    Args:
        run_once: One inference on an already-prepared input (no data conversion inside).
        mode: ``"short"`` or ``"full"`` (see the module docstring); the other arguments
            override the mode's defaults.
        warmup: Untimed calls before measuring.
        min_runs: Measure at least this many runs ...
        min_seconds: ... and at least this long.
        max_seconds: Stop at this much measuring time even if ``min_runs`` is not reached
            (``math.inf``: no cap).
        clock: Monotonic nanosecond clock; injectable for tests.

    Returns:
        The :func:`summarize` dict, times in milliseconds.
    """
    s = _settings(mode, warmup, min_runs, min_seconds, max_seconds)
    samples = time_calls(run_once, warmup=s["warmup"], min_runs=s["min_runs"], min_seconds=s["min_seconds"],
                         max_seconds=s["max_seconds"], clock=clock)
    return summarize(np.asarray(samples, dtype=np.float64) / 1e6, seconds=sum(samples) / 1e9, mode=mode)


def interleaved(runs: dict[str, Callable[[], None]], *, mode: str = "short", warmup: int | None = None,
                min_runs: int | None = None, min_seconds: float | None = None,
                max_seconds: float | None = None, burst: int = 1,
                clock: Clock = time.perf_counter_ns) -> dict[str, dict]:
    """Measure several variants side by side: A B, B A, A B, ... in one loop.

    Host load drifts over seconds, so timing variants in separate loops mixes that drift
    into their ratio; interleaving exposes every variant to the same drift. The order is
    reversed every round so that no variant always runs right after another.

    With ``burst`` > 1 each turn is ``burst`` back-to-back calls of one variant and its
    first call is not timed: it reloads the caches the other variants evicted. That gives
    the steady-state latency a device benchmark measures (one model run back to back).
    With one call per turn every call starts cold, which adds about the same time to
    every variant and pulls their ratio towards 1: with eight ONNX sessions interleaved
    call by call, a MobileNetV2 INT8/FP32 ratio of 0.62 measured 0.74 on this project's
    2-core host (2026-11-30).

    Args:
        runs: Variant name -> zero-argument callable doing one inference.
        mode: ``"short"`` or ``"full"``; run and time limits apply per round (one call of
            every variant), the time counting all variants together.
        warmup: Untimed calls of each variant before measuring.
        min_runs: Rounds to measure at least.
        min_seconds: Total measuring time at least.
        max_seconds: Total measuring time at most (``math.inf``: no cap).
        burst: Calls per turn; all but the first are timed when it is above 1.
        clock: Monotonic nanosecond clock; injectable for tests.

    Returns:
        Variant name -> :func:`summarize` dict (``runs`` counts timed calls: ``burst - 1``
        per round when ``burst`` > 1); ``seconds`` is the shared loop's wall time.
    """
    if not runs:
        raise ValueError("interleaved needs at least one variant")
    if burst < 1:
        raise ValueError("burst must be >= 1")
    s = _settings(mode, warmup, min_runs, min_seconds, max_seconds)
    names = list(runs)
    for _ in range(s["warmup"]):
        for name in names:
            runs[name]()
    samples: dict[str, list[int]] = {name: [] for name in names}

    turns = [0]

    def one_round() -> None:
        # The order flips every round, so no variant always runs right after another.
        order = names if turns[0] % 2 == 0 else names[::-1]
        turns[0] += 1
        for name in order:
            if burst > 1:
                runs[name]()  # untimed: warms what the other variants evicted
            for _ in range(max(1, burst - 1)):
                t0 = clock()
                runs[name]()
                samples[name].append(clock() - t0)

    rounds = time_calls(one_round, warmup=0, min_runs=s["min_runs"], min_seconds=s["min_seconds"],
                        max_seconds=s["max_seconds"], clock=clock)
    seconds = sum(rounds) / 1e9
    return {name: summarize(np.asarray(samples[name], dtype=np.float64) / 1e6, seconds=seconds, mode=mode)
            for name in names}
