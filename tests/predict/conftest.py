"""Tiny models made by TensorFlow's own tools, shared by the TFLite/Keras graph tests (built once)."""

from __future__ import annotations

import numpy as np
import pytest

# The golden Keras network: every layer's MACs and params worked out by hand (input 8x8x3, batch 1).
#   conv     Conv2D(8, 3x3, same, relu)       MACs 8*8*8 * 3*3*3 = 13824   params 8*27 + 8 = 224
#   bn       BatchNormalization               MACs 0                       params 8 + 8 = 16
#                                                                          (+16 statistics, not params)
#   dw       DepthwiseConv2D(3x3, same)       MACs 8*8*8 * 3*3 = 4608      params 3*3*8 + 8 = 80
#   grouped  Conv2D(8, 3x3, valid, groups=2)  MACs 6*6*8 * (8/2)*3*3 = 10368  params 3*3*4*8 + 8 = 296
#   sep      SeparableConv2D(6, 3x3, same, hard_swish)
#                                            MACs 6*6*8*3*3 + 6*6*6*8 = 2592 + 1728 = 4320
#                                            params 3*3*8 + 8*6 + 6 = 126
#   pool     MaxPooling2D(2)                  6x6x6 -> 3x3x6, MACs 0
#   up       Conv2DTranspose(4, 2x2, stride 2) MACs 3*3*6 inputs * 4*2*2 = 864   params 2*2*4*6 + 4 = 100
#   gap      GlobalAveragePooling2D           MACs 0
#   fc       Dense(10) + softmax              MACs 4*10 = 40               params 4*10 + 10 = 50
GOLDEN_MACS = 13824 + 4608 + 10368 + 4320 + 864 + 40  # = 34024
GOLDEN_KERAS_PARAMS = 224 + 16 + 80 + 296 + 126 + 100 + 50  # = 892
INPUT_HWC = (8, 8, 3)


def _golden_keras():
    import keras

    keras.utils.set_random_seed(0)
    inp = keras.Input(INPUT_HWC, batch_size=1)
    x = keras.layers.Conv2D(8, 3, padding="same", activation="relu", name="conv")(inp)
    x = keras.layers.BatchNormalization(name="bn")(x)
    x = keras.layers.DepthwiseConv2D(3, padding="same", name="dw")(x)
    x = keras.layers.Conv2D(8, 3, padding="valid", groups=2, name="grouped")(x)
    x = keras.layers.SeparableConv2D(6, 3, padding="same", activation="hard_swish", name="sep")(x)
    x = keras.layers.MaxPooling2D(2, name="pool")(x)
    x = keras.layers.Conv2DTranspose(4, 2, strides=2, name="up")(x)
    x = keras.layers.GlobalAveragePooling2D(name="gap")(x)
    out = keras.layers.Dense(10, activation="softmax", name="fc")(x)
    model = keras.Model(inp, out)
    # Random biases and BN statistics: the TFLite converter merges identical constants (e.g. all-zero
    # biases of an untrained model) into one tensor, which a trained model never has.
    rng = np.random.default_rng(0)
    model.set_weights([rng.normal(0.0, 0.3, w.shape).astype(np.float32) if "variance" not in v.path
                       else rng.uniform(0.5, 2.0, w.shape).astype(np.float32)
                       for w, v in zip(model.get_weights(), model.weights)])
    return model


def _convert(model, int8: bool) -> bytes:
    import tensorflow as tf

    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    if int8:  # full-integer kernels, float input/output (QUANTIZE in, DEQUANTIZE out)
        rng = np.random.default_rng(1)
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = lambda: ([rng.random((1, *INPUT_HWC), dtype=np.float32)] for _ in range(8))
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    return converter.convert()


@pytest.fixture(scope="session")
def golden_files(tmp_path_factory) -> dict:
    """The golden network as .keras, FP32 .tflite and full-int8 .tflite (TensorFlow's converter)."""
    folder = tmp_path_factory.mktemp("golden")
    model = _golden_keras()
    files = {"keras": folder / "golden.keras", "fp32": folder / "golden_fp32.tflite",
             "int8": folder / "golden_int8.tflite"}
    model.save(files["keras"])
    files["fp32"].write_bytes(_convert(model, int8=False))
    files["int8"].write_bytes(_convert(model, int8=True))
    return files


@pytest.fixture(scope="session")
def custom_op_tflite(golden_files, tmp_path_factory):
    """The int8 golden model with its HARD_SWISH turned into a custom op no runtime has."""
    import flatbuffers
    from ai_edge_litert import schema_py_generated as fb

    model = fb.ModelT.InitFromPackedBuf(golden_files["int8"].read_bytes(), 0)
    for code in model.operatorCodes:
        if max(code.builtinCode, code.deprecatedBuiltinCode) == fb.BuiltinOperator.HARD_SWISH:
            code.builtinCode = code.deprecatedBuiltinCode = fb.BuiltinOperator.CUSTOM
            code.customCode = "EdgekdTestOp"
    builder = flatbuffers.Builder(1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    path = tmp_path_factory.mktemp("custom") / "custom.tflite"
    path.write_bytes(bytes(builder.Output()))
    return path
