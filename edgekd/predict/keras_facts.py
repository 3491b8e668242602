"""Parameters and MACs of a Keras model (``.keras``/``.h5``) or a TensorFlow SavedModel folder.

Keras files: the model runs once eagerly on a zero batch of one sample while every leaf
layer's ``call`` is wrapped to record its input and output shapes, so each call of a reused
layer is counted, exactly like the students' forward hooks. Per call (shapes without batch):

* ``Conv1D``/``Conv2D``/``Conv3D`` (``groups`` included): output elements x kernel elements
  / Cout (= ``out_h x out_w x Cout x (Cin / groups) x kh x kw``).
* ``DepthwiseConv1D``/``DepthwiseConv2D``: output elements x kh x kw.
* ``SeparableConv1D``/``SeparableConv2D``: the depthwise part (output positions x Cin x
  multiplier x kh x kw) plus the pointwise part (output elements x Cin x multiplier).
* ``Conv*Transpose``: input elements x Cout x kernel positions.
* ``Dense``: output elements x input features (a dense layer on a sequence counts every step).
* No MACs: BatchNormalization and other normalisations, activations, pooling, reshapes,
  merges, embeddings, and layers without weights. A layer with weights of any other kind
  (LSTM, attention, a custom layer) makes MACs unknown; it is named in ``unknown_ops``.

params: every weight of the model (shared once) except BatchNormalization's moving mean and
variance and a ``Normalization`` layer's statistics (buffers, as in torch).

SavedModel folders have no Keras layers to walk: the folder is converted to TFLite in memory
with TensorFlow's own converter and counted as a TFLite graph (BatchNorm folded, see
``model_facts``).
"""

from __future__ import annotations

import math
import tempfile
from pathlib import Path

from ..errors import ModelFileError

_NO_MAC_WEIGHTED = ("BatchNormalization", "LayerNormalization", "GroupNormalization", "Normalization", "PReLU",
                    "Embedding", "RMSNormalization", "UnitNormalization", "SpectralNormalization", "Rescaling")
_FIX = "re-save it with model.save('teacher.keras') (or model.export(folder) for a SavedModel)"


def count_keras(path: Path, input_shape=None) -> tuple[int, int, list[str]]:
    """``(params, macs, unknown_ops)`` of a Keras file or SavedModel folder (see the module docstring).

    Args:
        path: ``.keras``/``.h5`` file or SavedModel folder.
        input_shape: Full input shape with batch 1 (NHWC), needed when the model's own input
            has dynamic dimensions besides the batch.

    Raises:
        ModelFileError: The file or folder cannot be loaded.
    """
    if path.is_dir():
        return _count_saved_model(path)
    import keras

    try:
        model = keras.models.load_model(str(path), compile=False)
    except Exception as exc:  # noqa: BLE001 - zipfile/h5py/ValueError differ by format
        raise ModelFileError(f"cannot load Keras model {path}: {' '.join(str(exc).split())[:160]}", fix=_FIX) from None
    return count_keras_model(model, input_shape)


def count_keras_model(model, input_shape=None) -> tuple[int, int, list[str]]:
    """``(params, macs, unknown_ops)`` of a built ``keras.Model``."""
    import numpy as np

    layers = [la for la in model._flatten_layers(include_self=False, recursive=True) if not la._layers]
    params = _params(model, layers)
    declared = list(model.inputs[0].shape[1:]) if model.inputs else []
    shape = list(input_shape[1:]) if input_shape is not None else declared
    if not shape or any(d is None for d in shape):
        text = ["?" if d is None else d for d in [1, *shape]]
        return params, 0, [f"input shape {text} is dynamic: MACs depend on the input size (give the input shape)"]
    calls: list[tuple] = []
    for layer in layers:  # an instance attribute shadows the class's call; deleted afterwards
        object.__setattr__(layer, "call", _recording(layer, layer.call, calls))
    try:
        model(np.zeros((1, *shape), dtype=model.inputs[0].dtype if model.inputs else "float32"), training=False)
    except Exception as exc:  # noqa: BLE001 - whatever the model raises, its MACs are then unknown
        return params, 0, [f"the model did not run on a zero input of shape {[1, *shape]}: {type(exc).__name__}"]
    finally:
        for layer in layers:
            object.__delattr__(layer, "call")
    macs, unknown = 0, []
    for layer, in_shape, out_shape in calls:
        counted = layer_macs(layer, in_shape, out_shape)
        if counted is None:
            unknown.append(f"{type(layer).__name__} ({layer.name})")
        else:
            macs += counted
    return params, macs, sorted(set(unknown))


def _recording(layer, call, calls: list):
    def wrapper(*args, **kwargs):
        out = call(*args, **kwargs)
        first_in = args[0] if args else next(iter(kwargs.values()), None)
        first_out = out[0] if isinstance(out, (list, tuple)) else out
        calls.append((layer, tuple(getattr(first_in, "shape", ())), tuple(getattr(first_out, "shape", ()))))
        return out
    return wrapper


def layer_macs(layer, in_shape: tuple, out_shape: tuple) -> int | None:
    """MACs of one call of a Keras layer (shapes include the batch of 1); ``None`` when unknown."""
    kind = type(layer).__name__
    out_elems = math.prod(int(d) for d in out_shape[1:])
    in_elems = math.prod(int(d) for d in in_shape[1:])
    if kind in ("SeparableConv1D", "SeparableConv2D"):
        depth = layer.depthwise_kernel.shape  # [k..., Cin, multiplier]
        positions = out_elems // int(out_shape[-1])
        return positions * math.prod(depth) + out_elems * int(depth[-2]) * int(depth[-1])
    if kind in ("DepthwiseConv1D", "DepthwiseConv2D"):
        return out_elems * math.prod(layer.kernel.shape[:-2])
    if kind in ("Conv1DTranspose", "Conv2DTranspose", "Conv3DTranspose"):
        return in_elems * math.prod(layer.kernel.shape[:-1])  # kernel [k..., Cout, Cin]
    if kind in ("Conv1D", "Conv2D", "Conv3D"):
        kernel = layer.kernel.shape  # [k..., Cin / groups, Cout]
        return out_elems * math.prod(kernel[:-1])
    if kind == "Dense":
        return out_elems * int(layer.kernel.shape[0])
    if not layer.weights or kind in _NO_MAC_WEIGHTED:
        return 0
    return None


def _params(model, layers) -> int:
    stats: set[int] = set()
    for layer in layers:
        kind = type(layer).__name__
        if kind == "BatchNormalization":
            stats.update(id(v) for v in (layer.moving_mean, layer.moving_variance))
        elif kind == "Normalization":
            stats.update(id(v) for v in layer.non_trainable_weights)
    return int(sum(math.prod(v.shape) for v in model.weights if id(v) not in stats))


def _count_saved_model(path: Path) -> tuple[int, int, list[str]]:
    import tensorflow as tf

    from .model_facts import count_model

    try:
        converter = tf.lite.TFLiteConverter.from_saved_model(str(path))
        flatbuffer = converter.convert()
    except Exception as exc:  # noqa: BLE001 - OSError / ConverterError with a long log
        raise ModelFileError(f"cannot read SavedModel {path}: {' '.join(str(exc).split())[:160]}", fix=_FIX) from None
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder) / "model.tflite"
        tmp.write_bytes(flatbuffer)
        facts = count_model(tmp, "tflite")
    return facts["params"], facts["macs"] or 0, facts["unknown_ops"]

