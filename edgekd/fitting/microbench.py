"""Measure a host profile: kernel efficiencies, bandwidth and per-op overhead in onnxruntime.

``fit_host`` builds one-node ONNX graphs with ``onnx.helper`` (GEMM, 3x3 conv,
depthwise conv, pointwise conv, elementwise add, global average pool) at two or three sizes,
in FP32 and in INT8 (QDQ-wrapped, which onnxruntime fuses into integer kernels), times them
in onnxruntime with the requested threads, and divides the achieved MAC rate by the
profile's peak: that is the efficiency the predictor uses. Across sizes, the median is
``mid`` and the extremes are ``low``/``high``. Bandwidth is a large ``numpy`` copy (what
streaming kernels can reach), cache bandwidth the same copy on a buffer that fits in L2, per-op
overhead the time per node of a chain of tiny Adds or tiny 1x1 convs (whichever is larger).

The peaks stay as derived from the hardware spec; only the fractions of them are measured.
"""

from __future__ import annotations

import datetime as _dt
import os
import platform
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from ..report.build_report import cpu_model
from ..targets import TargetProfile, profile_from_dict

_OPSET = 17


def _model(nodes, inputs, output, inits) -> bytes:
    graph = helper.make_graph(nodes, "bench", inputs, [output], initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", _OPSET)])
    model.ir_version = 8
    return model.SerializeToString()


def _value(name: str, shape) -> onnx.ValueInfoProto:
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, list(shape))


def _qdq(name: str, scale: float = 0.05) -> tuple[list, list, str]:
    """Q -> DQ on activation ``name``: (nodes, initializers, new name)."""
    inits = [numpy_helper.from_array(np.array(scale, np.float32), f"{name}_s"),
             numpy_helper.from_array(np.array(0, np.int8), f"{name}_z")]
    nodes = [helper.make_node("QuantizeLinear", [name, f"{name}_s", f"{name}_z"], [f"{name}_q"]),
             helper.make_node("DequantizeLinear", [f"{name}_q", f"{name}_s", f"{name}_z"], [f"{name}_dq"])]
    return nodes, inits, f"{name}_dq"


def _weight(name: str, shape, int8: bool, rng) -> tuple[list, list, str]:
    if not int8:
        return [], [numpy_helper.from_array(rng.standard_normal(shape).astype(np.float32) * 0.1, name)], name
    q = rng.integers(-100, 100, size=shape).astype(np.int8)
    inits = [numpy_helper.from_array(q, f"{name}_q"), numpy_helper.from_array(np.array(0.01, np.float32), f"{name}_s"),
             numpy_helper.from_array(np.array(0, np.int8), f"{name}_z")]
    return [helper.make_node("DequantizeLinear", [f"{name}_q", f"{name}_s", f"{name}_z"], [name])], inits, name


def _kernel(kind: str, size, int8: bool, rng) -> tuple[bytes, dict, int]:
    """One benchmark graph: (serialized model, feeds, MACs or element ops).

    ``size`` is the channel count (at the kind's default spatial size) or ``(channels, hw)``.
    """
    nodes, inits, x = [], [], "x"
    shape: tuple[int, ...]
    wshape: tuple[int, ...]
    out_shape: tuple[int, ...]
    if kind == "gemm":
        m, k, n = max(1, size // 16), size, size  # small M, as in batch-1 heads and projections
        shape, wshape, out_shape, macs = (m, k), (k, n), (m, n), m * k * n
    else:
        c, hw = size if isinstance(size, tuple) else (size, {"conv": 28}.get(kind, 56))
        shape = (1, c, hw, hw)
        ksz = 3 if kind in ("conv", "depthwise") else 1
        wshape = (c, 1 if kind == "depthwise" else c, ksz, ksz)
        out_shape = shape if kind != "pool" else (1, c, 1, 1)
        macs = {"conv": c * c * 9, "depthwise": c * 9, "pointwise": c * c}.get(kind, c) * hw * hw
    if int8:
        more_nodes, more_inits, x = _qdq("x")
        nodes += more_nodes
        inits += more_inits
    if kind in ("gemm", "conv", "depthwise", "pointwise"):
        wnodes, winits, w = _weight("w", wshape, int8, rng)
        nodes += wnodes
        inits += winits
        if kind == "gemm":
            nodes.append(helper.make_node("MatMul", [x, w], ["y"]))
        else:
            pad = [1, 1, 1, 1] if wshape[-1] == 3 else [0, 0, 0, 0]
            nodes.append(helper.make_node("Conv", [x, w], ["y"], pads=pad,
                                          group=shape[1] if kind == "depthwise" else 1))
    elif kind == "elementwise":
        nodes.append(helper.make_node("Add", [x, x], ["y"]))
    else:
        nodes.append(helper.make_node("GlobalAveragePool", [x], ["y"]))
    y = "y"
    if int8:  # quantize the output too, so the runtime can fuse DQ -> op -> Q into one integer kernel
        more_nodes, more_inits, y = _qdq("y")
        nodes += more_nodes
        inits += more_inits
        nodes.append(helper.make_node("Identity", [y], ["out"]))
    else:
        nodes.append(helper.make_node("Identity", ["y"], ["out"]))
    model = _model(nodes, [_value("x", shape)], _value("out", out_shape), inits)
    feeds = {"x": rng.standard_normal(shape).astype(np.float32)}
    return model, feeds, int(macs)


def _session(model: bytes, threads: int):
    from ..runtimes.onnx_runner import ort_session

    return ort_session("<micro-benchmark>", threads, model_bytes=model)


def _time(session, feeds: dict, budget_s: float, min_runs: int = 5) -> float:
    """Median seconds per run, running for about ``budget_s`` (at most 2,000 runs)."""
    from ..measure.latency import time_calls

    samples = time_calls(lambda: session.run(None, feeds), warmup=0, min_runs=min_runs, min_seconds=budget_s,
                         max_runs=2000)
    return float(np.median(samples)) / 1e9


def _overhead(threads: int, budget_s: float) -> tuple[float, float]:
    """(seconds per extra node of a chain of tiny Adds, seconds of a whole one-node run).

    The second is the fixed cost of ``session.run`` (feeds, fetches, one dispatch), which is
    subtracted from every kernel timing so small kernels are not charged for it.
    """
    def chain(length: int) -> bytes:
        nodes = [helper.make_node("Add", [f"t{i}", f"t{i}"], [f"t{i + 1}"]) for i in range(length)]
        nodes.append(helper.make_node("Identity", [f"t{length}"], ["out"]))
        return _model(nodes, [_value("t0", (1, 4))], _value("out", (1, 4)), [])

    feeds = {"t0": np.ones((1, 4), np.float32)}
    long_t = _time(_session(chain(64), threads), feeds, budget_s)
    short_t = _time(_session(chain(1), threads), feeds, budget_s)
    return max(1e-7, (long_t - short_t) / 63), short_t


def _conv_overhead(threads: int, budget_s: float) -> float:
    """Seconds per extra node of a chain of tiny 1x1 convs (1x16x4x4).

    A conv node pays more than an Add on a 4-element tensor: kernel selection, packing and,
    with several threads, a thread-pool dispatch. The compute here is 4k MACs, ~nothing.
    """
    rng = np.random.default_rng(1)
    weight = numpy_helper.from_array(rng.standard_normal((16, 16, 1, 1)).astype(np.float32) * 0.1, "w")

    def chain(length: int) -> bytes:
        nodes = [helper.make_node("Conv", [f"t{i}", "w"], [f"t{i + 1}"]) for i in range(length)]
        nodes.append(helper.make_node("Identity", [f"t{length}"], ["out"]))
        return _model(nodes, [_value("t0", (1, 16, 4, 4))], _value("out", (1, 16, 4, 4)), [weight])

    feeds = {"t0": np.ones((1, 16, 4, 4), np.float32)}
    long_t = _time(_session(chain(33), threads), feeds, budget_s)
    short_t = _time(_session(chain(1), threads), feeds, budget_s)
    return max(1e-7, (long_t - short_t) / 32)


def _l2_bytes() -> int | None:
    """Per-core L2 size from sysfs (what the CPU reports of itself), or None."""
    for index in sorted(Path("/sys/devices/system/cpu/cpu0/cache").glob("index*")):
        try:
            if (index / "level").read_text().strip() == "2":
                text = (index / "size").read_text().strip().upper()
                return int(text[:-1]) * {"K": 1 << 10, "M": 1 << 20}[text[-1]] if text[-1] in "KM" else int(text)
        except (OSError, ValueError):
            continue
    return None


def _cache_bandwidth(nbytes: int, repeats: int) -> list[float]:
    """Bytes moved per second by copies of a buffer pair that stays in cache (each rate over 200 copies)."""
    src = np.ones(max(1024, nbytes // 8), np.float32)  # src + dst = nbytes / 2: resident with room to spare
    dst = np.empty_like(src)
    rates = []
    for _ in range(repeats):
        np.copyto(dst, src)
        t0 = time.perf_counter()
        for _ in range(200):
            np.copyto(dst, src)
        rates.append(2 * src.nbytes * 200 / (time.perf_counter() - t0))
    return rates


def _bandwidth(nbytes: int, repeats: int) -> list[float]:
    """Bytes moved per second (read + write) by ``numpy.copyto`` of ``nbytes``."""
    src = np.ones(nbytes // 4, np.float32)
    dst = np.empty_like(src)
    np.copyto(dst, src)
    rates = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        np.copyto(dst, src)
        rates.append(2 * nbytes / (time.perf_counter() - t0))
    return rates


def _band(values: list[float]) -> dict:
    values = sorted(min(1.0, max(1e-6, v)) for v in values)
    return {"low": values[0], "mid": float(np.median(values)), "high": values[-1]}


def fit_host(base: TargetProfile, threads: int, quick: bool = False) -> TargetProfile:
    """Measure ``base``'s efficiencies, bandwidth and op overhead on this machine.

    Args:
        base: The profile to start from (its peaks, memory sizes and budgets are kept).
        threads: onnxruntime intra-op threads (also written to ``runtime.threads``).
        quick: Two sizes per kernel and short timings (well under 15 s on 2 cores).

    Returns:
        A new validated profile with measured ``efficiency`` (FP32 and INT8; FP16 keeps the
        base bands, onnxruntime's CPU provider has no FP16 kernels to measure), memory
        efficiency and ``bandwidth_bytes_per_s``, the cache size (the base's, else the L2 the CPU
        reports) and its copy bandwidth, and ``op_overhead_s`` (per node of a chain of tiny Adds
        or tiny convs, whichever costs more).
    """
    rng = np.random.default_rng(0)
    budget = 0.08 if quick else 0.4
    # A size is a channel count (at the kind's default map) or (channels, map side).
    sizes: dict[str, tuple[int | tuple[int, int], ...]] = {
        "gemm": (256, 1024), "conv": (32, 96), "depthwise": (64, 192), "pointwise": (64, 256),
        "elementwise": (32, 128), "pool": (32, 128)}
    if not quick:
        # Full mode adds the shapes of small edge CNNs at batch 1 (few channels at large maps,
        # many at small ones), where kernels are furthest from their large-shape efficiency.
        sizes = {"gemm": (256, 512, 1024), "conv": (32, 64, 128),
                 "depthwise": (64, 128, 256, (32, 24), (96, 12), (192, 6), (384, 3)),
                 "pointwise": (64, 128, 256, (32, 24), (96, 12), (192, 6), (384, 3)),
                 "elementwise": (32, 64, 128, (96, 12)), "pool": (32, 64, 128, (384, 3))}
    profile = base.model_dump(mode="json")
    add_overhead, run_cost = _overhead(threads, budget)
    overhead = max(add_overhead, _conv_overhead(threads, budget))
    efficiency = profile["efficiency"]
    measured: dict[str, list[float]] = {}
    for precision in ("fp32", "int8"):
        if precision not in base.precisions and precision != "fp32":
            continue
        peak = base.peak_macs(precision, threads=threads)
        for kind, kind_sizes in sizes.items():
            fractions = []
            for size in kind_sizes:
                model, feeds, work = _kernel(kind, size, precision == "int8", rng)
                # minus the fixed run cost, plus one node's dispatch (the predictor adds it back)
                seconds = max(1e-9, _time(_session(model, threads), feeds, budget) - run_cost + overhead)
                fractions.append(work / seconds / peak)
            efficiency[kind][precision] = _band(fractions)
            measured[f"{kind}/{precision}"] = fractions
    rates = _bandwidth((64 if quick else 256) << 20, 3 if quick else 7)
    best = max(rates)
    efficiency["memory"] = _band([r / best for r in rates])
    profile["memory"]["bandwidth_bytes_per_s"] = best
    cache = base.memory.cache_bytes or _l2_bytes()
    if cache:
        # The memory band above (DRAM run-to-run spread) applies to both bandwidths.
        profile["memory"]["cache_bytes"] = cache
        profile["memory"]["cache_bandwidth_bytes_per_s"] = max(_cache_bandwidth(cache, 3 if quick else 7))
    profile["op_overhead_s"] = overhead
    profile["runtime"]["threads"] = threads
    stamp = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    profile["description"] = f"{base.description} (fitted {stamp}, {threads} threads)"
    return profile_from_dict(profile, source=f"fitted {base.name}")


def write_profile(profile: TargetProfile, path: str | os.PathLike, warnings: Sequence[str] = ()) -> Path:
    """Write ``profile`` as YAML atomically, with a header saying what was measured, when, where (and any warnings)."""
    import yaml

    from ..atomic import write_text

    stamp = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
    header = (f"# Measured by edgekd.fitting.microbench.fit_host on {stamp}\n"
              f"# CPU: {cpu_model()} ({os.cpu_count()} logical CPUs, {platform.machine()}), "
              f"onnxruntime, {profile.runtime.threads} threads.\n"
              "# Measured: efficiency (fraction of the spec peak reached per op class), bandwidth, op overhead"
              + (", latency_models (runtime models fitted on random networks timed here)" if profile.latency_models
                 else "") + ".\n"
              "# Spec-derived (unchanged): cpu, compute_units peaks, capacities, budgets.\n"
              + "".join(f"# WARNING: {w}\n" for w in warnings))
    body = yaml.safe_dump(profile.model_dump(mode="json"), sort_keys=False)
    return write_text(path, header + body)
