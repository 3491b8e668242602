"""Numeric parity of an exported model against the model it came from, and where it breaks.

:func:`compare_logits` summarises how far two sets of logits are apart.
:func:`first_diverging_node` localises an FP32 ONNX export that does not match its torch
module: it exposes every intermediate tensor of the ONNX graph, captures every torch
module's output with forward hooks, and names the ONNX node where the two first part.

Matching rule (best-effort, documented because it is a heuristic):

1. Torch side: hooks on every module (leaf modules, and also containers and the root, so
   residual ``Add`` outputs and the final logits have a counterpart) record each module's
   float inputs (pre-hook) and outputs (hook) in call order. Tensors are cloned because a
   later in-place op (``ReLU(inplace=True)``) would overwrite them. Recording inputs gives
   functional ops in ``forward`` (``x.mean()``, ``torch.flatten``) a counterpart whenever
   their result feeds a module.
2. ONNX side: every float output of every node, in graph (topological) order.
3. Pairing is by shape and value with a cursor over the torch records: a node *matches*
   when one of its outputs is within ``atol + rtol * max|record|`` (max absolute
   difference; the relative part absorbs FP32 rounding in large activations) of a record
   of the same shape (records at or after the cursor are tried first; a match ahead moves
   the cursor past it). Position alone is not used: export folds BatchNorm into Conv,
   fuses and splits ops and adds reshapes, so the k-th ONNX node is rarely the k-th
   module. A node that does not match is *unmatched* when a same-shaped record still lies
   at or after the cursor, otherwise *not comparable* (e.g. an ``Add`` in ``forward``
   whose result never enters a module).
4. The first diverging node is the first unmatched node in graph order that reaches a
   graph output through unmatched (or not comparable) nodes only. This drops nodes that
   merely have no torch counterpart (their consumers match again), yet keeps a real source
   whose error is squashed on one branch (a saturated gate) but reaches the output on
   another.

Tolerances are per tensor, so a layer whose activations are far below ``atol`` always
matches; a divergence there is reported where it first grows past the tolerance.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import numpy as np

from ..errors import ModelFileError


def compare_logits(reference, candidate) -> dict:
    """How far ``candidate`` logits are from ``reference`` logits on the same inputs.

    Args:
        reference: ``[N, K]`` logits of the reference (usually the torch student).
        candidate: ``[N, K]`` logits of the exported model.

    Returns:
        ``{"top1_agreement", "max_abs_diff", "mean_abs_diff"}`` as floats.

    Raises:
        ValueError: The shapes differ or there are no samples.
    """
    ref = np.asarray(reference, dtype=np.float64)
    cand = np.asarray(candidate, dtype=np.float64)
    if ref.shape != cand.shape:
        raise ValueError(f"logit shapes differ: reference {ref.shape}, candidate {cand.shape}")
    if ref.size == 0:
        raise ValueError("compare_logits needs at least one sample")
    diff = np.abs(ref - cand)
    ref2, cand2 = ref.reshape(len(ref), -1), cand.reshape(len(cand), -1)
    return {
        "top1_agreement": float((ref2.argmax(axis=1) == cand2.argmax(axis=1)).mean()),
        "max_abs_diff": float(diff.max()),
        "mean_abs_diff": float(diff.mean()),
    }


def torch_activations(module, x: np.ndarray) -> list[np.ndarray]:
    """Every module's float tensor inputs and outputs for input ``x``, in call order.

    Inputs are recorded by a pre-hook when a module starts and outputs by a hook when it
    ends, both cloned (a later in-place op would overwrite them). Inputs give functional
    ops in ``forward`` (``x.mean()``, ``torch.flatten``) a counterpart whenever their
    result feeds a module.
    """
    import torch

    records: list[np.ndarray] = []

    def keep(value):
        for t in value if isinstance(value, (tuple, list)) else (value,):
            if isinstance(t, torch.Tensor) and t.is_floating_point():
                records.append(t.detach().cpu().double().numpy().copy())

    handles = []
    for m in module.modules():
        handles.append(m.register_forward_pre_hook(lambda _m, inp: keep(inp)))
        handles.append(m.register_forward_hook(lambda _m, _inp, out: keep(out)))
    try:
        module.eval()
        with torch.inference_mode():
            module(torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32)))
    finally:
        for h in handles:
            h.remove()
    return records


def onnx_intermediates(onnx_path: str | Path, x: np.ndarray) -> tuple[list, dict[str, np.ndarray], set[str]]:
    """Run a copy of the ONNX graph with every node output exposed.

    Returns:
        ``(nodes, values, outputs)``: the graph's nodes in order, tensor name -> value for
        every node output onnxruntime produced, and the names of the original graph outputs.
    """
    import onnx

    from ..runtimes.onnx_runner import ort_session

    try:
        model = onnx.load(str(onnx_path))
    except Exception as exc:  # protobuf DecodeError, missing external data, ...
        raise ModelFileError(f"cannot read ONNX model {onnx_path}: {' '.join(str(exc).split())[:200]}",
                             fix="re-export the model") from exc
    graph = model.graph
    outputs = {o.name for o in graph.output}
    existing = set(outputs)
    for node in graph.node:
        for name in node.output:
            if name and name not in existing:
                # A name-only ValueInfo is enough: onnxruntime infers the type.
                graph.output.append(onnx.ValueInfoProto(name=name))
                existing.add(name)
    session = ort_session(onnx_path, threads=1, model_bytes=model.SerializeToString())
    inp = session.get_inputs()[0]
    names = [o.name for o in session.get_outputs()]
    values = session.run(names, {inp.name: np.ascontiguousarray(x, dtype=np.float32)})
    return list(graph.node), dict(zip(names, values)), outputs


def _node_label(node) -> str:
    return node.name or f"{node.op_type}:{node.output[0] if node.output else '?'}"


def first_diverging_node(onnx_path: str | Path, torch_module, x: np.ndarray, atol: float = 1e-4,
                         rtol: float = 1e-4) -> str | None:
    """Name of the first ONNX node whose output departs from the torch module's activations.

    Meant for FP32 exports (quantized graphs differ everywhere by design). See the module
    docstring for the matching rule.

    Args:
        onnx_path: The FP32 ``.onnx`` file exported from ``torch_module``.
        torch_module: The torch model it was exported from.
        x: A float32 NCHW input batch (one sample is enough; only the first is used).
        atol: Absolute part of the tolerance.
        rtol: Relative part, times the torch tensor's largest magnitude: FP32 rounding
            grows with activation size, so deep layers with activations in the hundreds
            differ by more than ``atol`` without being wrong.

    Returns:
        The node's name (``"<op_type>:<output>"`` when the node is unnamed), or ``None``
        when every comparable node matches.
    """
    x1 = np.ascontiguousarray(np.asarray(x, dtype=np.float32)[:1])
    nodes, values, outputs = onnx_intermediates(onnx_path, x1)
    acts = torch_activations(torch_module, x1)
    status = _classify(nodes, values, acts, atol, rtol)
    leaks = _leaks_to_output(nodes, status, outputs)
    for node, state, leak in zip(nodes, status, leaks):
        if state == "diverge" and leak:
            return _node_label(node)
    return None


def _classify(nodes, values: dict, acts: list[np.ndarray], atol: float, rtol: float) -> list[str]:
    """``"match"`` / ``"diverge"`` / ``"n/a"`` per node, walking torch records with a cursor.

    A match anywhere counts (robust to small order differences) and moves the cursor past
    the matched record when it lies ahead; a mismatch only counts as ``"diverge"`` when a
    same-shaped record lies at or after the cursor, i.e. still waits to be paired.
    """
    cursor = 0
    status: list[str] = []
    for node in nodes:
        state = "n/a"
        for name in node.output:
            val = values.get(name)
            if val is None or not np.issubdtype(np.asarray(val).dtype, np.floating):
                continue
            v = np.asarray(val, dtype=np.float64)
            same = [i for i, a in enumerate(acts) if a.shape == v.shape]
            hit = next((i for i in sorted(same, key=lambda i: (i < cursor, i))
                        if _close(v, acts[i], atol, rtol)), None)
            if hit is not None:
                cursor = max(cursor, hit + 1)
                state = "match"
                break
            if any(i >= cursor for i in same):
                state = "diverge"
        status.append(state)
    return status


def _close(a: np.ndarray, b: np.ndarray, atol: float, rtol: float) -> bool:
    scale = float(np.max(np.abs(b), initial=0.0))
    return float(np.max(np.abs(a - b), initial=0.0)) <= atol + rtol * scale


def _leaks_to_output(nodes, status: list[str], outputs: set[str]) -> list[bool]:
    """Per node: is it unmatched with a path to a graph output through unmatched nodes only?"""
    consumers: dict[str, list[int]] = defaultdict(list)
    for i, node in enumerate(nodes):
        for name in node.input:
            consumers[name].append(i)
    leaks = [False] * len(nodes)
    for i in range(len(nodes) - 1, -1, -1):  # graph order is topological: consumers come later
        if status[i] == "match":
            continue
        leaks[i] = any(name in outputs or any(leaks[j] for j in consumers.get(name, ()))
                       for name in nodes[i].output)
    return leaks
