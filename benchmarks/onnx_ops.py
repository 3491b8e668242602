"""Where the host time of an ONNX model goes, by layer kind: ONNX Runtime's own per-node profile.

``benchmarks/compress.py`` profiles the FP32 and the static INT8 ONNX model of each student side by
side, so a latency ratio that misses its target can be traced to the layers that do (or do not)
get faster in int8. Kinds are read from the graph ONNX Runtime actually runs (its optimized model:
fused Conv+Relu, NCHWc convs for FP32, QLinearConv for INT8), so a kind's time is the sum of the
per-node kernel-time medians of its nodes.
"""

from __future__ import annotations

import json
import tempfile
from collections import defaultdict
from pathlib import Path

import numpy as np

KINDS = ("conv, 1 input channel", "depthwise conv", "pointwise conv", "other conv", "everything else")
TURNS = 20  # bursts per model, alternated between the models (A B A B ...) so both see the same load
BURST = 100


def layer_kind(op_type: str, group: int, weight_dims: list[int] | None) -> str:
    """The kind of one node of an optimized graph (``weight_dims``: ``[out, in/group, kh, kw]``)."""
    if not op_type.endswith("Conv") or not weight_dims or len(weight_dims) != 4:
        return KINDS[4]
    out_ch, in_per_group, kh, kw = weight_dims
    if group > 1 and in_per_group == 1:
        return KINDS[1]
    if group == 1 and in_per_group == 1:
        return KINDS[0]
    return KINDS[2] if kh * kw == 1 else KINDS[3]


def _node_kinds(optimized: Path) -> dict[str, str]:
    """Node name -> kind, from the optimized model ONNX Runtime saved."""
    import onnx

    graph = onnx.load(str(optimized)).graph
    dims = {i.name: list(i.dims) for i in graph.initializer}
    kinds = {}
    for node in graph.node:
        attrs = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
        weight = node.input[3] if node.op_type == "QLinearConv" else (node.input[1] if len(node.input) > 1 else "")
        kinds[node.name] = layer_kind(node.op_type, int(attrs.get("group", 1)), dims.get(weight))
    return kinds


def _session(path: Path, folder: Path, threads: int):
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = options.inter_op_num_threads = max(1, threads)
    options.log_severity_level = 3  # the "optimized model is hardware specific" warning is expected here
    options.optimized_model_filepath = str(folder / f"{path.stem}.opt.onnx")
    options.enable_profiling = True
    options.profile_file_prefix = str(folder / path.stem)
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def _kernel_medians(profile: Path) -> dict[str, float]:
    """Node name -> median kernel time (µs) over every run in an ONNX Runtime profile."""
    times = defaultdict(list)
    for event in json.loads(profile.read_text()):
        if event.get("cat") == "Node" and event.get("name", "").endswith("_kernel_time"):
            times[event["name"][: -len("_kernel_time")]].append(event["dur"])
    return {name: float(np.median(d)) for name, d in times.items()}


def op_breakdown(paths: dict[str, Path], sample: np.ndarray, threads: int = 1,
                 turns: int = TURNS, burst: int = BURST) -> dict[str, dict]:
    """Per-kind kernel time (µs, sums of per-node medians) of each model, profiled side by side.

    Args:
        paths: Label -> ``.onnx`` file (e.g. the FP32 model and its INT8 twin).
        sample: One float32 input batch in the models' layout.
        threads: Intra-op threads.

    Returns:
        ``{label: {"kinds": {kind: µs}, "nodes": {kind: count}, "total_us": µs}}``.
    """
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        sessions = {k: _session(Path(p), folder, threads) for k, p in paths.items()}
        feeds = {k: {s.get_inputs()[0].name: sample} for k, s in sessions.items()}
        for _ in range(turns):
            for key, session in sessions.items():
                for _ in range(burst):
                    session.run(None, feeds[key])
        out = {}
        for key, session in sessions.items():
            medians = _kernel_medians(Path(session.end_profiling()))
            kinds = _node_kinds(folder / f"{Path(paths[key]).stem}.opt.onnx")
            out[key] = _by_kind(medians, kinds)
    return out


def _by_kind(medians: dict[str, float], kinds: dict[str, str]) -> dict:
    total, count = dict.fromkeys(KINDS, 0.0), dict.fromkeys(KINDS, 0)
    for name, us in medians.items():
        kind = kinds.get(name, KINDS[4])
        total[kind] += us
        count[kind] += 1
    return {"kinds": {k: round(v, 1) for k, v in total.items() if count[k]},
            "nodes": {k: c for k, c in count.items() if c}, "total_us": round(sum(total.values()), 1)}


def breakdown_line(fp32: dict, int8: dict) -> str:
    """``kind FP32 -> INT8 µs (ratio)`` for every kind either model has."""
    parts = []
    for kind in KINDS:
        a, b = fp32["kinds"].get(kind), int8["kinds"].get(kind)
        if a is None and b is None:
            continue
        ratio = f" ({b / a:.2f}x)" if a and b is not None else ""
        parts.append(f"{kind} {_us(a)} -> {_us(b)} µs{ratio}")
    return "; ".join(parts) + f"; all nodes {fp32['total_us']:.0f} -> {int8['total_us']:.0f} µs."


def _us(value: float | None) -> str:
    return "–" if value is None else f"{value:.0f}"
