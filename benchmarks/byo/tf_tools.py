"""TensorFlow's own TFLite conversion and LiteRT evaluation, used directly (no edgekd code).

Conversion is the standard recipe (MLPerf Tiny's ``model_converter.py``):
``tf.lite.TFLiteConverter.from_keras_model(model)``; FP32 = ``convert()`` with no options;
INT8 = ``optimizations=[tf.lite.Optimize.DEFAULT]``, a representative dataset,
``supported_ops=[TFLITE_BUILTINS_INT8]``, ``inference_input_type = inference_output_type = tf.int8``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import tensorflow as tf


def convert_fp32(model) -> tuple[bytes, float]:
    """FP32 .tflite bytes and the conversion wall seconds."""
    started = time.perf_counter()
    blob = tf.lite.TFLiteConverter.from_keras_model(model).convert()
    return blob, time.perf_counter() - started


def convert_int8(model, representative: np.ndarray) -> tuple[bytes, float]:
    """Full-integer INT8 .tflite (int8 input and output) calibrated on ``representative`` samples."""
    def samples():
        for row in representative:
            yield [row[None].astype(np.float32)]

    started = time.perf_counter()
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = samples
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type = tf.int8
    converter.inference_output_type = tf.int8
    blob = converter.convert()
    return blob, time.perf_counter() - started


def _interpreter(path: Path, threads: int, delegates: bool = True):
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    # Without the default (XNNPACK) delegate the op list is the graph's own, not "DELEGATE".
    resolver = OpResolverType.AUTO if delegates else OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES
    return Interpreter(model_path=str(path), num_threads=threads, experimental_op_resolver_type=resolver)


def io_details(path: Path) -> dict:
    """Input/output dtype, shape and quantisation of a .tflite (for the JSON and the lead's cross-check)."""
    interp = _interpreter(path, 1, delegates=False)
    interp.allocate_tensors()

    def one(d):
        scale, zero = d["quantization"]
        return {"name": d["name"], "shape": [int(s) for s in d["shape"]], "dtype": np.dtype(d["dtype"]).name,
                "scale": float(scale), "zero_point": int(zero)}
    return {"input": one(interp.get_input_details()[0]), "output": one(interp.get_output_details()[0]),
            "ops": sorted({op["op_name"] for op in interp._get_ops_details()}),
            "float_constants": float_constant_count(interp)}


def float_constant_count(interp) -> int:
    """Elements of the float/int8 constant (weight) tensors of the graph (int32 biases included).

    Constant = read by an op, written by none, and not a graph input. Shape operands of
    RESHAPE and the like are counted too (a few int32 elements), so this is a cross-check
    of ``inference_params`` within a handful, not a golden figure.
    """
    produced, read = set(), set()
    for op in interp._get_ops_details():
        produced.update(int(i) for i in op["outputs"])
        read.update(int(i) for i in op["inputs"] if int(i) >= 0)
    inputs = {d["index"] for d in interp.get_input_details()}
    sizes = {d["index"]: int(np.prod(d["shape"])) for d in interp.get_tensor_details()}
    return int(sum(sizes[i] for i in read - produced - inputs if i in sizes))


def predict_tflite(path: Path, x: np.ndarray, batch: int = 100, threads: int = 2) -> np.ndarray:
    """Float32 probabilities of a .tflite on float inputs ``x`` (quantised in and dequantised out if INT8).

    Input quantisation: ``q = clip(round(x / scale) + zero_point, -128, 127)`` (what
    ``inference_input_type=tf.int8`` expects); output: ``(q - zero_point) * scale``.
    """
    interp = _interpreter(path, threads)
    inp = interp.get_input_details()[0]
    shape = list(inp["shape"])
    shape[0] = batch
    interp.resize_tensor_input(inp["index"], shape)
    interp.allocate_tensors()
    inp, out = interp.get_input_details()[0], interp.get_output_details()[0]
    quantise = _quantiser(inp)
    rows = []
    for start in range(0, len(x), batch):
        chunk = x[start:start + batch].astype(np.float32)
        real = len(chunk)
        if real < batch:  # pad the last batch; the padded rows are dropped below
            chunk = np.concatenate([chunk, np.repeat(chunk[-1:], batch - real, axis=0)])
        interp.set_tensor(inp["index"], quantise(chunk))
        interp.invoke()
        rows.append(_dequantise(interp.get_tensor(out["index"]), out)[:real])
    return np.concatenate(rows)


def _quantiser(detail: dict) -> Callable[[np.ndarray], np.ndarray]:
    if detail["dtype"] == np.float32:
        return lambda a: a
    scale, zero = detail["quantization"]
    info = np.iinfo(detail["dtype"])
    return lambda a: np.clip(np.round(a / scale) + zero, info.min, info.max).astype(detail["dtype"])


def _dequantise(values: np.ndarray, detail: dict) -> np.ndarray:
    if detail["dtype"] == np.float32:
        return values.astype(np.float32)
    scale, zero = detail["quantization"]
    return ((values.astype(np.float32) - zero) * scale).astype(np.float32)


def predict_keras(model, x: np.ndarray, batch: int = 250) -> np.ndarray:
    """Float32 probabilities of the Keras model on ``x`` (inference mode; cast to float32 per chunk)."""
    rows = [model.predict_on_batch(x[i:i + batch].astype(np.float32)) for i in range(0, len(x), batch)]
    return np.concatenate([np.asarray(r, dtype=np.float32) for r in rows])


def versions() -> dict:
    """TensorFlow / Keras / LiteRT versions the figures were made with."""
    import importlib.metadata as md

    import keras

    return {"tensorflow": tf.__version__, "keras": keras.__version__,
            "ai_edge_litert": md.version("ai-edge-litert")}
