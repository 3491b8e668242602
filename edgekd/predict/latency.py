"""Predicted latency of an ONNX graph on a device profile: an analytical per-op roofline.

For every node of the static graph (batch 1, see ``graph.py``)::

    compute_s = work / (peak_macs(precision) x efficiency[class][precision])
    memory_s  = (bytes_read + bytes_written) / (bandwidth x efficiency.memory)
               (bandwidth: the profile's cache bandwidth when it has one and the op's bytes fit
               in ``memory.cache_bytes``, else its DRAM bandwidth)
    time_s    = max(compute_s, memory_s) + op_overhead_s

``work`` is the MAC count of conv/gemm ops and the element-op count of the others. The
latency is the sum over nodes: batch-1 inference runs one op after another (intra-op threads
are already in ``peak_macs``, which covers ``runtime.threads`` cores, 1 on an MCU). Folded
nodes (Q/DQ, views, constants) cost nothing: the runtime fuses or elides them.

The three figures use the profile's bands: ``p50`` uses the ``mid`` efficiencies, ``low``
(fastest plausible) the ``high`` ones and ``high`` (slowest plausible) the ``low`` ones, for
compute and for bandwidth alike. Nothing here is fitted to a published model latency; the
bands say how far kernel libraries stray from peak, and ``edgekd.fitting.microbench`` measures
them on the machine it runs on.

Runtime models: when ``runtime`` is given and the profile has a measured model for that
runtime and precision (``latency_models``, written by ``edgekd targets fit --runtime``),
that model is used instead (``method`` says which; see ``runtime_model.py``). A profile
without one keeps the roofline, so every profile still predicts from spec figures alone.

Precision: a graph with int8 nodes (QDQ or QLinear) is costed per node at each node's own
precision (float leftovers run at the requested float rate, or fp32 for an int8 request). A
float graph standing in for an artifact of another precision (e.g. FP16 Core ML) is costed
entirely at the requested precision, with float tensors scaled to that element size.
"""

from __future__ import annotations

import os

from ..errors import TargetError
from ..targets import TargetProfile
from .graph import OpCost, op_costs

_ELEM_BYTES = {"fp32": 4, "fp16": 2, "int8": 1}
# Which runtime runs each artifact format (Core ML has no runtime model: it cannot run here).
FORMAT_RUNTIMES = {"onnx": "onnxruntime", "tflite": "litert"}
_BANDS = (("low", "high"), ("p50", "mid"), ("high", "low"))  # (result, efficiency band used)


def _op_precision(cost: OpCost, requested: str, graph_has_int8: bool) -> str:
    if not graph_has_int8:
        return requested
    if cost.precision == "int8":
        return "int8"
    return requested if requested != "int8" else "fp32"


def predict_latency(onnx_path: str | os.PathLike, profile: TargetProfile, precision: str,
                    runtime: str | None = None, threads: int | None = None) -> dict:
    """Predict batch-1 latency of ``onnx_path`` on ``profile`` at ``precision``.

    Args:
        onnx_path: ONNX graph of the network (float or QDQ INT8).
        profile: The device profile.
        precision: ``fp32``, ``fp16`` or ``int8`` (the artifact's precision).
        runtime: The runtime that will run it (``onnxruntime``, ``litert``, ``tflite-micro``,
            ``x-cube-ai``, ``edgetpu``); selects a measured runtime model when the profile has
            one, else the device model when the profile has ``device:`` facts, else the roofline.
        threads: CPU threads to cost (default the profile's ``runtime.threads``).

    Returns:
        ``p50``, ``low``, ``high`` (milliseconds), ``per_op`` (one dict per costed node:
        name, op_type, op_class, precision, macs, ops, bytes, compute_ms, memory_ms, ms,
        bound), ``bound_counts`` (nodes bound by compute / memory / overhead), ``macs``,
        ``bytes``, ``peak_macs_per_s``, ``compute_unit``, ``target``, ``precision`` and
        ``method`` (``roofline`` or ``runtime-model:<runtime>``). A runtime-model prediction
        has ``per_op`` rows with the node's share (``ms``) and no bound counts.

    Raises:
        TargetError: Unknown precision, or one the profile cannot run.
    """
    if precision not in _ELEM_BYTES:
        raise TargetError(f"unknown precision {precision!r} for latency prediction", fix="use fp32, fp16 or int8")
    if threads is not None and (isinstance(threads, bool) or not isinstance(threads, int) or threads < 1):
        raise TargetError(f"threads must be a whole number >= 1, got {threads!r}", fix="pass threads=1 or more")
    by_runtime: dict[str, dict] = {str(name): models for name, models in profile.latency_models.items()}
    model = by_runtime.get(runtime or "", {}).get(precision)
    if model is None and profile.device is not None:
        from .device_predict import predict_on_device
        from .layers import costs_with_shapes

        return predict_on_device(costs_with_shapes(onnx_path), profile, precision, runtime, threads)
    if model is not None:
        from .runtime_model import predict_with_model

        pred = predict_with_model(onnx_path, model.model_dump())
        return {**pred, "bound_counts": {}, "macs": int(sum(op["macs"] for op in pred["per_op"])),
                "compute_unit": profile.runtime.compute_unit, "target": profile.name, "precision": precision,
                "method": f"runtime-model:{runtime}"}
    return roofline_latency(op_costs(onnx_path), profile, precision, threads)


def roofline_latency(rows: list[OpCost], profile: TargetProfile, precision: str, threads: int | None = None) -> dict:
    """The analytical roofline of the module docstring over cost rows (any reader's ``OpCost``)."""
    costs = [c for c in rows if not c.folded]
    has_int8 = any(c.precision == "int8" for c in costs)
    eff = profile.efficiency
    dram_bandwidth = profile.memory.bandwidth_bytes_per_s
    cache_bytes, cache_bandwidth = profile.memory.cache_bytes, profile.memory.cache_bandwidth_bytes_per_s
    overhead = profile.op_overhead_s
    totals = {"low": 0.0, "p50": 0.0, "high": 0.0}
    per_op, bounds = [], {"compute": 0, "memory": 0, "overhead": 0}
    peaks: dict[str, float] = {}
    for cost in costs:
        op_prec = _op_precision(cost, precision, has_int8)
        if op_prec not in peaks:
            peaks[op_prec] = profile.peak_macs(op_prec, threads)
        graph_prec = cost.precision if cost.precision in _ELEM_BYTES else "fp32"
        scale = 1.0 if has_int8 else _ELEM_BYTES[op_prec] / _ELEM_BYTES[graph_prec]
        nbytes = (cost.bytes_read + cost.bytes_written) * scale
        work = cost.macs if cost.macs else cost.ops
        cached = bool(cache_bytes and cache_bandwidth and nbytes <= cache_bytes)
        bandwidth = cache_bandwidth if cached else dram_bandwidth
        cls = "conv" if cost.op_class == "grouped" else cost.op_class  # no grouped band in the roofline
        cls = cls if cls in ("conv", "depthwise", "pointwise", "gemm", "pool") else "elementwise"
        band = getattr(getattr(eff, cls), op_prec)
        row: dict = {}
        for result, which in _BANDS:
            compute_s = work / (peaks[op_prec] * getattr(band, which))
            memory_s = nbytes / (bandwidth * getattr(eff.memory, which))
            seconds = max(compute_s, memory_s) + overhead
            totals[result] += seconds
            if result == "p50":
                row = {"compute_ms": compute_s * 1e3, "memory_ms": memory_s * 1e3, "ms": seconds * 1e3}
                bound = ("overhead" if overhead > max(compute_s, memory_s)
                         else "compute" if compute_s >= memory_s else "memory")
        bounds[bound] += 1
        per_op.append({"name": cost.name, "op_type": cost.op_type, "op_class": cost.op_class, "precision": op_prec,
                       "macs": cost.macs, "ops": cost.ops, "bytes": int(nbytes), "cached": cached, **row,
                       "bound": bound})
    return {
        "p50": totals["p50"] * 1e3, "low": totals["low"] * 1e3, "high": totals["high"] * 1e3,
        "per_op": per_op, "bound_counts": bounds,
        "macs": int(sum(c.macs for c in costs)), "bytes": int(sum(op["bytes"] for op in per_op)),
        "peak_macs_per_s": peaks, "compute_unit": profile.runtime.compute_unit,
        "target": profile.name, "precision": precision, "method": "roofline",
    }


def band_description(pred: dict) -> str:
    """How a prediction's ``low``/``high`` were derived, in one sentence (report.json ``band``)."""
    if pred.get("band"):
        return str(pred["band"])
    if str(pred.get("method", "")).startswith("runtime-model"):
        return ("5th-95th percentile of the runtime model's leave-one-out errors on the random networks it was "
                "fitted on (edgekd targets fit --runtime)")
    return ("the profile's low/high efficiency bands per op class (spec priors or host micro-benchmarks); "
            "not validated against measured networks")
