"""Per-runtime latency models: per-op costs of one runtime, measured in whole graphs.

Why not only the per-op roofline of ``predict.py``: a runtime does not run the ONNX graph's
nodes one by one. onnxruntime rewrites the float graph into blocked (NCHWc) kernels and fuses
activations and residual adds into convolutions; LiteRT hands the whole graph to XNNPACK,
which fuses padding; both pay a thread-pool dispatch per kernel. One-node micro-benchmarks
miss all of this (a depthwise conv timed alone in onnxruntime costs 3-5x what it costs inside
a network, because of the layout reorders at its borders). So this model is measured where
those effects happen: in whole random networks (``synthetic.py``) run by the runtime itself.

The model stays per-operator and additive, as the roofline is::

    t(graph) = run + sum over costed nodes of
               node_overhead[family] + padded_macs x s_per_mac[class] + bytes x s_per_byte[family]
               + (if the node's channels are not multiples of the alignment tile)
                 macs x extra[dw|dense] + bytes x extra_per_byte

with ``family`` conv-like (conv, depthwise, pointwise, gemm) or other (elementwise, pool), and
``class`` the conv-like op class; ``padded_macs`` counts output channels rounded up to the
padding tile. The two tiles are what kernels vectorise over: XNNPACK pads output channels up to
its register tile, and onnxruntime runs a float conv in its blocked NCHWc layout only when the
channel counts suit its block, else in plain NCHW with reorders around it. Both tiles are chosen
per runtime and precision from :data:`TILES` by the calibration (the pair with the lowest
leave-one-out error; on this host's onnxruntime FP32 it picked alignment 4, the multiple NCHWc
needs), the twelve non-negative coefficients are fitted by least squares on *relative* error
over the random networks, and leave-one-out errors on those networks give the ``low``/``high``
band and the fit quality the profile records. The networks a user predicts are never part of
the fit.
"""

from __future__ import annotations

import os

import numpy as np

from ..efficiency import LATENCY_FEATURES as FEATURES
from .graph import TensorTable, load_static, op_costs

CONV_CLASSES = ("conv", "depthwise", "pointwise", "gemm")
TILES = (1, 4, 8, 16, 32)
TILE_PAIRS = tuple((pad, align) for pad in TILES for align in TILES)  # (padding, alignment) candidates
MIN_NETWORKS = 14


def tiles_key(tiles: tuple[int, int]) -> str:
    """How a (padding, alignment) pair is written in fitting records: ``"16/4"``."""
    return f"{tiles[0]}/{tiles[1]}"


def _padded(count: int, tile: int) -> int:
    return -(-count // tile) * tile


def node_features(op_class: str, macs: int, nbytes: int, channels: tuple[int, int] | None = None,
                  tiles: tuple[int, int] = (1, 1)) -> dict[str, float]:
    """The feature values one costed node contributes (the ``run`` term is per graph).

    Args:
        op_class: The node's op class (``graph.OpCost.op_class``).
        macs: Its multiply-accumulates.
        nbytes: Bytes it reads and writes.
        channels: ``(input, output)`` channels of a convolution, else None.
        tiles: ``(padding, alignment)``: output channels are padded up to a multiple of the
            first; a conv whose channels are not multiples of the second takes the slow path
            (see the module docstring).
    """
    op_class = "conv" if op_class == "grouped" else op_class  # no grouped-conv feature yet: the dense-conv one
    if op_class not in CONV_CLASSES:
        return {"other_nodes": 1.0, "bytes_other": float(nbytes)}
    feats = {"conv_nodes": 1.0, f"macs_{op_class}": float(macs), "bytes_conv": float(nbytes)}
    if channels is None:
        return feats
    (cin, cout), (pad, align) = channels, tiles
    feats[f"macs_{op_class}"] = float(macs) * _padded(cout, pad) / cout
    if cout % align or (cin % align and op_class != "depthwise"):
        feats["macs_unaligned_depthwise" if op_class == "depthwise" else "macs_unaligned_dense"] = float(macs)
        feats["bytes_unaligned"] = float(nbytes)
    return feats


def _conv_channels(onnx_path) -> list[tuple[int, int] | None]:
    """``(input, output)`` channels of every Conv node, None for other nodes, in graph order."""
    model = load_static(onnx_path)
    table = TensorTable(model)
    out: list[tuple[int, int] | None] = []
    for node in model.graph.node:
        src, dst = (table.shape.get(node.input[0]), table.shape.get(node.output[0])) if node.op_type == "Conv" \
            else (None, None)
        out.append((int(src[1]), int(dst[1])) if src is not None and dst is not None else None)
    return out


def _costed_nodes(onnx_path: str | os.PathLike) -> list[tuple]:
    """``(OpCost, conv channels or None)`` of every costed (not folded) node, in graph order."""
    return [(cost, channels) for cost, channels in zip(op_costs(onnx_path), _conv_channels(onnx_path))
            if not cost.folded]


def graph_features(onnx_path: str | os.PathLike, tiles: tuple[int, int] = (1, 1),
                   nodes: list[tuple] | None = None) -> tuple[np.ndarray, list[dict]]:
    """Feature vector of a graph (batch 1) and the per-node contributions (for per-op reports).

    ``nodes`` (from an earlier call's ``_costed_nodes``) saves re-reading the graph when the
    same graph is featurised for several tile pairs.
    """
    total = dict.fromkeys(FEATURES, 0.0)
    total["run"] = 1.0
    per_node = []
    for cost, channels in nodes if nodes is not None else _costed_nodes(onnx_path):
        feats = node_features(cost.op_class, cost.macs, cost.bytes_read + cost.bytes_written, channels, tiles)
        for key, value in feats.items():
            total[key] += value
        per_node.append({"name": cost.name, "op_type": cost.op_type, "op_class": cost.op_class,
                         "precision": cost.precision, "macs": cost.macs, "features": feats})
    return np.array([total[k] for k in FEATURES]), per_node


def features_by_tiles(onnx_path: str | os.PathLike) -> dict[str, list[float]]:
    """The graph's feature vector for every candidate tile pair, keyed by :func:`tiles_key`."""
    nodes = _costed_nodes(onnx_path)
    return {tiles_key(t): graph_features(onnx_path, t, nodes)[0].tolist() for t in TILE_PAIRS}


def fit(features: np.ndarray, seconds: np.ndarray) -> np.ndarray:
    """Non-negative coefficients minimising the relative error of ``features @ coef`` vs ``seconds``.

    Columns are scaled to unit maximum before solving (MAC counts and node counts differ by
    ten orders of magnitude); unused features (all zero) get a zero coefficient.
    """
    from scipy.optimize import nnls

    features = np.asarray(features, dtype=np.float64)
    seconds = np.asarray(seconds, dtype=np.float64)
    scale = features.max(axis=0)
    scale[scale == 0] = 1.0
    weighted = features / scale / seconds[:, None]
    coef, _ = nnls(weighted, np.ones(len(seconds)), maxiter=50 * features.shape[1])
    return coef / scale


def leave_one_out_errors(features: np.ndarray, seconds: np.ndarray) -> np.ndarray:
    """Relative error (predicted / measured - 1) of each network when fitted without it."""
    errors = []
    for i in range(len(seconds)):
        keep = np.arange(len(seconds)) != i
        coef = fit(features[keep], seconds[keep])
        errors.append(float(features[i] @ coef / seconds[i] - 1.0))
    return np.array(errors)


def fit_model(features_by_tile: dict[tuple[int, int], np.ndarray], seconds: np.ndarray, about: dict) -> dict:
    """Fit a runtime model and describe it as the profile stores it (``latency_models.<rt>.<prec>``).

    Args:
        features_by_tile: ``(padding, alignment)`` tiles -> one row of :data:`FEATURES` per
            fitting network (``graph_features`` with those tiles). The pair with the lowest
            leave-one-out median |error| is kept (ties: the smallest tiles).
        seconds: Each network's measured latency.
        about: What was measured with (runtime version, threads, ...), stored as is.

    Returns:
        ``channel_tile`` and ``align_tile``, ``coefficients`` (feature -> seconds per unit), ``band`` (``low``/``high``
        relative errors, the 5th and 95th percentile of leave-one-out errors), ``fit`` (networks,
        leave-one-out median |error| and share within ±10%) and ``about``.
    """
    if len(seconds) < MIN_NETWORKS:
        raise ValueError(f"need at least {MIN_NETWORKS} fitting networks, got {len(seconds)}")
    seconds = np.asarray(seconds, dtype=np.float64)
    loo_by_tile = {tile: leave_one_out_errors(np.asarray(f), seconds) for tile, f in sorted(features_by_tile.items())}
    tile = min(loo_by_tile, key=lambda t: (float(np.median(np.abs(loo_by_tile[t]))), t))
    loo = loo_by_tile[tile]
    coef = fit(np.asarray(features_by_tile[tile]), seconds)
    return {
        "channel_tile": int(tile[0]), "align_tile": int(tile[1]),
        "coefficients": {name: float(c) for name, c in zip(FEATURES, coef)},
        "band": {"low": float(np.percentile(loo, 5)), "high": float(np.percentile(loo, 95))},
        "fit": {"networks": int(len(seconds)), "loo_median_abs_error": float(np.median(np.abs(loo))),
                "loo_within_10pct": float(np.mean(np.abs(loo) <= 0.10)),
                "measured_ms_range": [float(seconds.min() * 1e3), float(seconds.max() * 1e3)]},
        "about": about,
    }


def predict_with_model(onnx_path: str | os.PathLike, model: dict) -> dict:
    """Latency of ``onnx_path`` under a fitted runtime model (milliseconds).

    ``low``/``high`` divide the point prediction by (1 + the band's high / low error): if the
    model over-predicted 95% of fitting networks by at most ``high``, the true latency is
    at least ``p50 / (1 + high)``.
    """
    coef = model["coefficients"]
    vector, per_node = graph_features(onnx_path, (model.get("channel_tile", 1), model.get("align_tile", 1)))
    seconds = float(sum(coef[name] * value for name, value in zip(FEATURES, vector)))
    band = model["band"]
    rows = []
    for node in per_node:
        node_s = sum(coef[k] * v for k, v in node.pop("features").items())
        rows.append({**node, "ms": node_s * 1e3})
    return {"p50": seconds * 1e3, "low": seconds / (1 + max(band["high"], 0.0)) * 1e3,
            "high": seconds / (1 + min(band["low"], 0.0)) * 1e3 if band["low"] > -1 else float("inf"),
            "run_ms": coef["run"] * 1e3, "per_op": rows}
