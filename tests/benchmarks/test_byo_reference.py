"""The bring-your-own-teacher benchmark's reference code: golden MAC counts, direct ECE, time shift."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

BYO = Path(__file__).resolve().parents[2] / "benchmarks" / "byo"

keras = pytest.importorskip("keras")


def _load(name: str):
    """A benchmark module under a private name (its plain name, e.g. ``common``, stays off sys.path)."""
    spec = importlib.util.spec_from_file_location(f"_byo_{name}", BYO / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _tiny_model():
    from keras import layers

    inputs = keras.Input(shape=(8, 6, 3))
    x = layers.Conv2D(4, 3, strides=2, padding="same", use_bias=False)(inputs)  # -> 4x3x4
    x = layers.BatchNormalization()(x)
    x = layers.DepthwiseConv2D(3, depth_multiplier=2, padding="valid")(x)  # -> 2x1x8
    x = layers.Conv2D(6, 1, groups=2)(x)  # -> 2x1x6, grouped
    x = layers.Flatten()(x)  # 12
    outputs = layers.Dense(5, activation="softmax")(x)
    return keras.Model(inputs, outputs)


def test_counts_match_hand_computed_formulas():
    counts = _load("macs").count_model(_tiny_model())
    # conv 4*3*4*(3*3*3) = 1296; depthwise 2*1*4*2*(3*3) = 144; grouped 2*1*6*(1*1*8/2) = 48; dense 12*5 = 60
    assert [r["macs"] for r in counts["layers"]] == [1296, 144, 48, 60]
    assert counts["macs"] == 1296 + 144 + 48 + 60
    # folded: conv 108 + 4 (BN bias), depthwise 72 + 8, grouped 24 + 6, dense 60 + 5
    assert counts["inference_params"] == 112 + 80 + 30 + 65
    # Keras adds the 4 BN vectors of 4 channels and has no conv1 bias
    assert counts["keras_params"] == 108 + 16 + 80 + 30 + 65
    assert counts["bn_folded"] == 1 and counts["bn_not_foldable"] == []


def test_unfoldable_batch_norm_is_reported():
    from keras import layers

    inputs = keras.Input(shape=(4,))
    outputs = layers.Dense(3)(layers.BatchNormalization()(inputs))
    counts = _load("macs").count_model(keras.Model(inputs, outputs))
    assert counts["bn_folded"] == 0 and len(counts["bn_not_foldable"]) == 1


def test_direct_ece_matches_edgekd_on_probabilities():
    from edgekd.measure.calibration import calibration_metrics

    probability_metrics = _load("common").probability_metrics

    rng = np.random.default_rng(0)
    logits = rng.normal(size=(400, 10)) * 3
    probs = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    labels = rng.integers(0, 10, 400)
    direct = probability_metrics(probs, labels)
    reference = calibration_metrics(logits, labels)
    for key in ("top1", "ece", "nll", "brier"):
        assert direct[key] == pytest.approx(reference[key], abs=1e-9)


def test_time_shift_moves_rows_and_fills_zeros():
    tf = pytest.importorskip("tensorflow")
    time_shift = _load("kws_features").time_shift

    original = np.arange(1, 21, dtype=np.float32)
    shifted = time_shift(tf.constant(np.tile(original, (64, 1))), 3).numpy()

    def moved(s: int) -> np.ndarray:  # the clip moved right by s samples (left if s < 0), zero fill
        out = np.zeros_like(original)
        if s >= 0:
            out[s:] = original[:len(original) - s]
        else:
            out[:s] = original[-s:]
        return out

    shifts = [next(s for s in range(-3, 4) if np.array_equal(row, moved(s))) for row in shifted]
    assert len(set(shifts)) > 1  # each row draws its own shift
