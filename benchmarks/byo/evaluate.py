"""Direct reference figures of one teacher: Keras and LiteRT (FP32, INT8) on the test set.

Writes ``<teacher>/eval.json``, ``<teacher>/probs.npz`` (test probabilities of each format) and
``<teacher>/test.npz`` (``x_test``, ``y_test`` exactly as the teacher expects them, plus the file
names), so the lead can run edgekd on the same inputs and compare.
"""

from __future__ import annotations

import keras
import numpy as np
from common import WORK, Stopwatch, agreement, probability_metrics, read_json, rel, save_npz, write_json
from macs import count_model
from tf_tools import io_details, predict_keras, predict_tflite

FORMATS = ("keras", "tflite_fp32", "tflite_int8")


def predict_all(name: str, model, x: np.ndarray) -> tuple[dict, dict]:
    """Probabilities of the three formats on ``x`` and the seconds each took."""
    out = WORK / name
    probs, seconds = {}, {}
    for fmt in FORMATS:
        with Stopwatch() as sw:
            if fmt == "keras":
                probs[fmt] = predict_keras(model, x)
            else:
                probs[fmt] = predict_tflite(out / f"model_{fmt.split('_')[1]}.tflite", x)
        seconds[fmt] = round(sw.seconds, 1)
    return probs, seconds


def evaluate(name: str, data: dict, spec: dict) -> dict:
    """Score the teacher directly in TF/LiteRT; cached in ``eval.json``."""
    out = WORK / name
    done = read_json(out / "eval.json")
    if done:
        return done
    model = keras.models.load_model(out / "model.keras")
    probs, seconds = predict_all(name, model, data["x_test"])
    y = data["y_test"]
    result = {"test": {fmt: probability_metrics(probs[fmt], y) for fmt in FORMATS},
              "predict_seconds": seconds,
              "agreement": {f"keras_vs_{fmt}": agreement(probs["keras"], probs[fmt]) for fmt in FORMATS[1:]},
              "val_top1_keras": probability_metrics(predict_keras(model, data["x_val"]), data["y_val"])["top1"],
              "probabilities_sum_to_one": _sums(probs["keras"]),
              "counts": count_model(model),
              "tflite": {fmt: io_details(out / f"model_{fmt.split('_')[1]}.tflite") for fmt in FORMATS[1:]}}
    if "x_test_pil" in data:  # the same test JPEGs decoded by PIL, as edgekd's image_folder loader reads them
        pil_probs, _ = predict_all(name, model, data["x_test_pil"])
        diff = np.abs(data["x_test_pil"].astype(np.int16) - data["x_test"].astype(np.int16))
        result["pil_decoded_test"] = {
            "top1": {fmt: probability_metrics(pil_probs[fmt], y)["top1"] for fmt in FORMATS},
            "pixels_differing_from_tf_decode": float((diff > 0).mean()),
            "max_abs_pixel_diff": int(diff.max()), "mean_abs_pixel_diff": float(diff.mean())}
    save_npz(out / "probs.npz", y_test=y, **{f"probs_{fmt}": probs[fmt] for fmt in FORMATS})
    save_npz(out / "test.npz", **_test_arrays(data, spec))
    result["files"] = {"test_npz": rel(out / "test.npz"), "probs_npz": rel(out / "probs.npz")}
    write_json(out / "eval.json", result)
    return result


def _sums(probs: np.ndarray) -> dict:
    s = probs.sum(axis=1)
    return {"min": float(s.min()), "max": float(s.max())}


def _test_arrays(data: dict, spec: dict) -> dict:
    arrays = {"x_test": data["x_test"], "y_test": data["y_test"], "files": data["files_test"],
              "input_note": np.asarray(spec["input_note"])}
    if "x_test_pil" in data:
        arrays["x_test_pil"] = data["x_test_pil"]
    if "waves_test" in data:
        arrays["waves_test"] = data["waves_test"]
    return arrays
