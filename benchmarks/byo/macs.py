"""Golden parameter and MAC counts of a Keras model, read from its layers (batch size 1).

MACs (multiply-accumulates) count only the weighted layers, with output spatial size
``Ho x Wo`` taken from the layer's own output shape:

- ``Conv2D``:            ``Ho * Wo * Cout * Kh * Kw * Cin / groups``
- ``DepthwiseConv2D``:   ``Ho * Wo * Cin * M * Kh * Kw``        (M = depth multiplier, Cout = Cin * M)
- ``Dense``:             ``prod(leading non-batch dims) * Din * Dout``

Not counted (by convention, as most MAC counters do): bias adds, batch norm (folded into the
preceding conv at inference), activations, pooling, residual adds, rescaling, softmax.

Parameters are given two ways: ``keras_params`` = ``model.count_params()`` (includes the four
batch-norm vectors: gamma, beta, moving mean, moving variance); ``inference_params`` = what an
inference graph with batch norm folded into the preceding conv holds: every kernel plus one bias
per output channel of each conv/depthwise/dense layer (a conv without bias gets one from the
folded BN). Both are exact integers.
"""

from __future__ import annotations

import math

import keras


def _flat_layers(model: keras.Model) -> list:
    out = []
    for layer in model.layers:
        out += _flat_layers(layer) if isinstance(layer, keras.Model) else [layer]
    return out


def _shape(tensor) -> tuple[int, ...]:
    return tuple(int(d) for d in tensor.shape[1:])


def layer_cost(layer) -> dict | None:
    """MACs and inference params of one weighted layer with the formula used, or None if unweighted."""
    kind = type(layer).__name__
    if kind == "DepthwiseConv2D":
        (ho, wo, cout), (_, _, cin) = _shape(layer.output), _shape(layer.input)
        kh, kw = layer.kernel_size
        mult = layer.depth_multiplier
        return {"name": layer.name, "type": kind, "in": _shape(layer.input), "out": (ho, wo, cout),
                "kernel": [kh, kw], "macs": ho * wo * cin * mult * kh * kw,
                "formula": f"{ho}*{wo}*{cin}*{mult}*{kh}*{kw}",
                "weights": kh * kw * cin * mult, "bias": cout}
    if kind == "Conv2D":
        (ho, wo, cout), (_, _, cin) = _shape(layer.output), _shape(layer.input)
        kh, kw = layer.kernel_size
        groups = getattr(layer, "groups", 1)
        return {"name": layer.name, "type": kind, "in": _shape(layer.input), "out": (ho, wo, cout),
                "kernel": [kh, kw], "stride": list(layer.strides), "groups": groups,
                "macs": ho * wo * cout * kh * kw * cin // groups,
                "formula": f"{ho}*{wo}*{cout}*{kh}*{kw}*{cin}" + (f"/{groups}" if groups != 1 else ""),
                "weights": kh * kw * cin // groups * cout, "bias": cout}
    if kind == "Dense":
        in_shape = _shape(layer.input)
        lead, din, dout = math.prod(in_shape[:-1]), in_shape[-1], layer.units
        return {"name": layer.name, "type": kind, "in": in_shape, "out": _shape(layer.output),
                "macs": lead * din * dout, "formula": f"{lead}*{din}*{dout}",
                "weights": din * dout, "bias": dout}
    if kind in ("SeparableConv2D", "Conv1D", "Conv3D", "Conv2DTranspose", "LSTM", "GRU", "MultiHeadAttention"):
        raise NotImplementedError(f"no MAC formula here for {kind} ({layer.name})")
    return None


def count_model(model: keras.Model) -> dict:
    """Params and MACs of ``model`` with a per-layer table (the golden figures for edgekd's counter)."""
    rows, folded_bn, loose_bn = [], 0, []
    for layer in _flat_layers(model):
        cost = layer_cost(layer)
        if cost:
            rows.append(cost)
        if type(layer).__name__ == "BatchNormalization":
            # Foldable only straight after a conv-type layer; anything else stays a mul+add at inference.
            producer = layer.input._keras_history[0]
            if type(producer).__name__ in ("Conv2D", "DepthwiseConv2D", "Dense"):
                folded_bn += 1
            else:
                loose_bn.append(layer.name)
    by_type: dict[str, int] = {}
    for row in rows:
        by_type[row["type"]] = by_type.get(row["type"], 0) + row["macs"]
    return {"keras_params": int(model.count_params()),
            "trainable_params": int(sum(math.prod(w.shape) for w in model.trainable_weights)),
            "inference_params": int(sum(r["weights"] + r["bias"] for r in rows)),
            "macs": int(sum(r["macs"] for r in rows)), "macs_by_type": by_type,
            "weighted_layers": len(rows), "bn_folded": folded_bn, "bn_not_foldable": loose_bn,
            "layers": rows}
