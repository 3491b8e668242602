"""Latency statistics and stopping rules, checked with an injected fake clock (no timing)."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from edgekd.measure.latency import NOISY_CV, interleaved, measure_latency, summarize

MS = 1_000_000  # ns


class FakeClock:
    """A clock that only moves when a fake inference 'runs'."""

    def __init__(self):
        self.now = 0

    def __call__(self) -> int:
        return self.now

    def runner(self, durations_ms, log=None, tag=None):
        it = iter(durations_ms)

        def run_once():
            self.now += int(next(it) * MS)
            if log is not None:
                log.append(tag)
        return run_once


def test_short_mode_needs_both_30_runs_and_half_a_second():
    clock = FakeClock()
    calls = []
    # Five slow warm-up calls, then 10 ms each: 30 runs is only 0.3 s, so it takes 50 runs.
    durations = itertools.chain([900] * 5, itertools.repeat(10))
    run = clock.runner(durations, calls, "x")
    stats = measure_latency(run, clock=clock)
    assert len(calls) == 5 + 50
    assert stats["runs"] == 50 and stats["seconds"] == pytest.approx(0.5)
    assert stats["p50"] == stats["p99"] == stats["min"] == stats["mean"] == pytest.approx(10.0)
    assert stats["cv"] == 0.0 and stats["noisy"] is False and stats["mode"] == "short"


def test_short_mode_stops_at_three_seconds():
    clock = FakeClock()
    stats = measure_latency(clock.runner(itertools.repeat(200)), clock=clock)
    assert stats["runs"] == 15 and stats["seconds"] == pytest.approx(3.0)  # 15 x 200 ms


def test_full_mode_needs_1024_queries_and_60_seconds():
    clock = FakeClock()
    fast = measure_latency(clock.runner(itertools.repeat(10)), mode="full", clock=clock)
    assert fast["runs"] == 6000 and fast["seconds"] == pytest.approx(60.0)  # 60 s dominates
    clock = FakeClock()
    slow = measure_latency(clock.runner(itertools.repeat(100)), mode="full", clock=clock)
    assert slow["runs"] == 1024 and slow["seconds"] == pytest.approx(102.4)  # 1,024 queries dominate
    assert slow["mode"] == "full"


def test_percentiles_and_overrides():
    clock = FakeClock()
    stats = measure_latency(clock.runner(range(1, 101)), warmup=0, min_runs=100, min_seconds=0,
                           max_seconds=math.inf, clock=clock)  # no 3 s cap: 1..100 ms sums to 5 s
    # 1..100 ms, linear interpolation: p50 = 50.5, p90 = 90.1, p99 = 99.01
    assert stats["runs"] == 100
    assert (stats["p50"], stats["p90"], stats["p99"]) == pytest.approx((50.5, 90.1, 99.01))
    assert stats["mean"] == pytest.approx(50.5) and stats["min"] == 1.0
    assert stats["cv"] == pytest.approx(np.std(np.arange(1, 101), ddof=1) / 50.5)


def test_noisy_by_cv():
    s = summarize([6.0, 14.0] * 50)  # cv ~ 0.40, p99/p50 = 1.4
    assert s["cv"] > NOISY_CV and s["noisy"] is True


def test_noisy_by_tail_alone():
    s = summarize([10.0] * 989 + [32.0] * 11)  # p99 = 32, p50 = 10: a 3.2x tail
    assert s["cv"] < NOISY_CV  # the cv rule alone would not fire
    assert s["p99"] / s["p50"] == pytest.approx(3.2) and s["noisy"] is True
    assert summarize([10.0] * 989 + [28.0] * 11)["noisy"] is False  # 2.8x tail, cv ~0.2


def test_interleaved_alternates_and_measures_each():
    clock = FakeClock()
    log: list[str] = []
    runs = {"a": clock.runner(itertools.repeat(5), log, "a"), "b": clock.runner(itertools.repeat(10), log, "b")}
    stats = interleaved(runs, warmup=2, min_runs=4, min_seconds=0, clock=clock)
    assert log == ["a", "b"] * 2 + ["a", "b", "b", "a", "a", "b", "b", "a"]  # warm-up, then A B, B A, ...
    assert stats["a"]["runs"] == stats["b"]["runs"] == 4
    assert stats["a"]["p50"] == 5.0 and stats["b"]["p50"] == 10.0
    assert stats["b"]["p50"] / stats["a"]["p50"] == 2.0
    assert stats["a"]["seconds"] == stats["b"]["seconds"] == pytest.approx(0.06)


def test_interleaved_burst_times_warm_calls_only():
    clock = FakeClock()
    log: list[str] = []
    # Every turn's first call is cold (50 ms after the other variant ran); the rest are warm.
    cold_then_warm = lambda warm: itertools.cycle([50, warm, warm])  # noqa: E731
    runs = {"a": clock.runner(cold_then_warm(5), log, "a"), "b": clock.runner(cold_then_warm(10), log, "b")}
    stats = interleaved(runs, warmup=0, min_runs=2, min_seconds=0, burst=3, clock=clock)
    assert log == ["a"] * 3 + ["b"] * 3 + ["b"] * 3 + ["a"] * 3  # turns of 3 calls, order flipped per round
    assert stats["a"]["runs"] == stats["b"]["runs"] == 4  # 2 rounds x 2 timed calls
    assert stats["a"]["p50"] == 5.0 and stats["b"]["p50"] == 10.0  # the cold 50 ms calls are not in them
    with pytest.raises(ValueError, match="burst"):
        interleaved(runs, burst=0, clock=clock)


def test_interleaved_time_budget_counts_all_variants():
    clock = FakeClock()
    runs = {"a": clock.runner(itertools.repeat(100)), "b": clock.runner(itertools.repeat(100))}
    stats = interleaved(runs, clock=clock)
    assert stats["a"]["runs"] == 15  # 15 rounds x 200 ms = the 3 s cap


def test_bad_arguments():
    with pytest.raises(ValueError, match="mode"):
        measure_latency(lambda: None, mode="quick")
    with pytest.raises(ValueError):
        interleaved({})
    with pytest.raises(ValueError):
        summarize([])


def test_real_clock_smoke():
    stats = measure_latency(lambda: None, warmup=1, min_runs=3, min_seconds=0)
    assert stats["runs"] >= 3 and stats["p50"] >= 0.0 and isinstance(stats["noisy"], bool)


def test_fewer_than_10_runs_are_flagged_noisy_with_the_reason():
    from edgekd.measure.latency import MIN_RUNS

    assert MIN_RUNS == 10
    one = summarize([1268.0])  # one slow call: cv 0, no tail, still not a measurement to judge
    assert one["cv"] == 0.0 and one["noisy"] is True and one["noise"] == ["1 timed run < 10"]
    nine = summarize([5.0] * 9)
    assert nine["noisy"] is True and nine["noise"] == ["9 timed runs < 10"]
    ten = summarize([5.0] * 10)
    assert ten["noisy"] is False and ten["noise"] == []


def test_a_slow_model_capped_at_three_seconds_is_flagged():
    clock = FakeClock()
    stats = measure_latency(clock.runner(itertools.repeat(1300)), clock=clock)  # 1.3 s per call
    assert stats["runs"] == 3 and stats["noisy"] is True and "3 timed runs < 10" in stats["noise"]


def test_noise_reasons_name_every_rule():
    s = summarize([6.0, 14.0] * 50)
    assert s["noise"] == [f"CV {s['cv']:.2f} > 0.25"]
    tail = summarize([10.0] * 989 + [32.0] * 11)
    assert tail["noise"] == ["p99/p50 3.2 > 3"]
