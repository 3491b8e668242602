"""Per-teacher stages: data -> train -> convert. Each writes its files and is skipped when they exist.

Layout of ``benchmarks/work/byo/`` (git-ignored):
``data/``            decoded CIFAR arrays (uint8), shared by the two vision teachers
``<teacher>/backup/`` Keras BackupAndRestore state while training (deleted when training ends)
``<teacher>/epochs.json``  one row per finished epoch (seconds, loss, accuracy, val accuracy, lr)
``<teacher>/model.keras``, ``model_fp32.tflite``, ``model_int8.tflite``, ``train.json``, ``convert.json``
"""

from __future__ import annotations

import math
import time
from pathlib import Path

import keras
import kws_features
import numpy as np
import tensorflow as tf
import vision_data
from common import SEED, WORK, cifar_files, fsdd_files, read_json, rel, save_npy, save_npz, write_bytes, write_json
from models import BUILDERS
from tf_tools import convert_fp32, convert_int8

# Largest random shift in pixels of the 32x32 source: MLPerf IC shifts by 0.1 x 32 = 3.2 px; VWW by
# 0.05 x 96 = 4.8 px at 96x96, i.e. 1.6 px of the 32x32 source.
SHIFT_PX = {"resnet8": 3, "mobilenet_v1_025_96": 2}
REPRESENTATIVE = 500  # calibration samples for INT8, drawn from the train split without augmentation


def cifar_arrays() -> dict:
    """uint8 CIFAR arrays decoded by TensorFlow (train/val/test) and by PIL (test), cached as npz."""
    path = WORK / "data" / "cifar32.npz"
    if not path.exists():
        arrays = {}
        for split in ("train", "val", "test"):
            files, labels = cifar_files(split)
            arrays[f"x_{split}"], arrays[f"y_{split}"] = vision_data.decode_tf(files), labels
            arrays[f"files_{split}"] = np.asarray([rel(f) for f in files])
        arrays["x_test_pil"] = vision_data.decode_pil(cifar_files("test")[0])
        save_npz(path, **arrays)
    with np.load(path) as z:
        return {k: z[k] for k in z.files}


def vision_data_for(name: str) -> dict:
    """What the vision teacher eats: uint8 pixels 0..255 at 32x32 (resnet8) or upscaled to 96x96."""
    a = cifar_arrays()
    a["size"] = 32
    if name == "mobilenet_v1_025_96":  # train stays 32x32 and is upscaled after augmentation, per batch
        a["size"] = 96
        for key in ("x_val", "x_test", "x_test_pil"):
            a[key] = vision_data.upscale(a[key], 96)
    return a


def kws_data() -> dict:
    """FSDD waveforms (steps 1-3 of kws_features) and their TF MFCCs, cached as .npy in ``ds_cnn/``."""
    out = WORK / "ds_cnn"
    kws_features.check_geometry()
    a = {}
    for split in ("train", "val", "test"):
        files, labels = fsdd_files(split)
        wave_path, mfcc_path = out / f"waves_{split}.npy", out / f"mfcc_{split}.npy"
        if not mfcc_path.exists():
            waves = kws_features.load_waves(files)
            save_npy(wave_path, waves)
            save_npy(mfcc_path, kws_features.features(waves))
        a[f"waves_{split}"], a[f"x_{split}"] = np.load(wave_path), np.load(mfcc_path)
        a[f"y_{split}"], a[f"files_{split}"] = labels, np.asarray([rel(f) for f in files])
    if not (out / "mfcc_params.json").exists():
        write_json(out / "mfcc_params.json", {**kws_features.PARAMS, "splits": {
            "test": "index 0-4 (official test)", "val": "index 5-9", "train": "index 10-49"},
            "files": {s: f"waves_{s}.npy (after steps 1-3), mfcc_{s}.npy (steps 5-10, no shift)"
                      for s in ("train", "val", "test")}})
    return a


def train_dataset(name: str, data: dict, batch: int) -> tf.data.Dataset:
    """The shuffled, augmented training stream of one teacher."""
    if name == "ds_cnn":
        max_shift = int(kws_features.PARAMS["train_time_shift_ms"] * kws_features.PARAMS["sample_rate"] / 1000)
        ds = tf.data.Dataset.from_tensor_slices((data["waves_train"], data["y_train"]))
        ds = ds.shuffle(len(data["y_train"]), seed=SEED, reshuffle_each_iteration=True).batch(batch)
        ds = ds.map(lambda w, y: (kws_features.mfcc(kws_features.time_shift(w, max_shift)), y),
                    num_parallel_calls=tf.data.AUTOTUNE)
        return ds.prefetch(2)
    return vision_data.train_dataset(data["x_train"], data["y_train"], batch, SHIFT_PX[name], data["size"], SEED)


class EpochLog(keras.callbacks.Callback):
    """Append one row per finished epoch to a JSON file (survives restarts; wall time is summed from it)."""

    def __init__(self, path: Path):
        super().__init__()
        self.path = path
        self.rows = (read_json(path) or {}).get("epochs", [])

    def on_epoch_begin(self, epoch, logs=None):
        self.started = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        row = {"epoch": epoch + 1, "seconds": round(time.perf_counter() - self.started, 2),
               "lr": float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate))}
        row.update({k: float(v) for k, v in (logs or {}).items() if k != "learning_rate"})
        self.rows = [r for r in self.rows if r["epoch"] != row["epoch"]] + [row]
        write_json(self.path, {"epochs": self.rows})
        print(f"  epoch {row['epoch']}: {row['seconds']:.0f} s, loss {row.get('loss', 0):.4f}, "
              f"acc {row.get('accuracy', 0):.4f}, val {row.get('val_accuracy', 0):.4f}, lr {row['lr']:.2e}", flush=True)


def cosine(lr: float, epochs: int):
    """Per-epoch cosine decay from ``lr`` towards 0 (epoch e uses lr * (1 + cos(pi e / E)) / 2)."""
    return lambda epoch, _lr=None: lr * 0.5 * (1.0 + math.cos(math.pi * epoch / epochs))


def train(name: str, cfg: dict, data: dict) -> dict:
    """Train one teacher with Adam + cosine decay, resumably; save ``model.keras`` and ``train.json``."""
    out = WORK / name
    done = read_json(out / "train.json")
    if done and (out / "model.keras").exists():
        return done
    keras.utils.set_random_seed(SEED)
    model = BUILDERS[name]()
    model.compile(optimizer=keras.optimizers.Adam(cfg["lr"]), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    log = EpochLog(out / "epochs.json")
    callbacks = [keras.callbacks.BackupAndRestore(str(out / "backup")),
                 keras.callbacks.LearningRateScheduler(cosine(cfg["lr"], cfg["epochs"])), log]
    val = tf.data.Dataset.from_tensor_slices((data["x_val"], data["y_val"])).batch(250)
    val = val.map(lambda x, y: (tf.cast(x, tf.float32), y))
    model.fit(train_dataset(name, data, cfg["batch"]), validation_data=val, epochs=cfg["epochs"],
              callbacks=callbacks, verbose=0)
    save_keras(model, out / "model.keras")
    rows = sorted(log.rows, key=lambda r: r["epoch"])
    summary = {"epochs": cfg["epochs"], "batch": cfg["batch"], "optimizer": f"Adam(lr={cfg['lr']})",
               "lr_schedule": "per-epoch cosine: lr * (1 + cos(pi * epoch / epochs)) / 2",
               "loss": "sparse categorical cross-entropy on the softmax output (+ L2 1e-4 on conv kernels)",
               "augmentation": cfg["augmentation"], "seed": SEED,
               "train_samples": len(data["y_train"]), "val_samples": len(data["y_val"]),
               "train_seconds": round(sum(r["seconds"] for r in rows), 1),
               "seconds_per_epoch_median": float(np.median([r["seconds"] for r in rows])),
               "final": rows[-1], "epoch_log": rel(out / "epochs.json")}
    write_json(out / "train.json", summary)
    return summary


def save_keras(model, path: Path) -> None:
    """``model.save`` through a temporary name (keeps the ``.keras`` suffix Keras insists on)."""
    from edgekd import atomic

    with atomic.atomic_path(path) as tmp:
        model.save(str(tmp))


def representative(data: dict) -> np.ndarray:
    """``REPRESENTATIVE`` train samples (fixed seed, no augmentation) as float32 teacher inputs."""
    pick = np.sort(np.random.default_rng(SEED).permutation(len(data["y_train"]))[:REPRESENTATIVE])
    x = data["x_train"][pick]
    if data.get("size", 0) not in (0, x.shape[1]):  # the 96x96 teacher: the same upscale as its test set
        x = vision_data.upscale(x, data["size"])
    return x.astype(np.float32)


def convert(name: str, data: dict) -> dict:
    """FP32 and full-INT8 .tflite with TensorFlow's converter; ``convert.json`` records times and sizes."""
    out = WORK / name
    done = read_json(out / "convert.json")
    if done and (out / "model_fp32.tflite").exists() and (out / "model_int8.tflite").exists():
        return done
    model = keras.models.load_model(out / "model.keras")
    fp32, fp32_s = convert_fp32(model)
    write_bytes(out / "model_fp32.tflite", fp32)
    int8, int8_s = convert_int8(model, representative(data))
    write_bytes(out / "model_int8.tflite", int8)
    summary = {"fp32_seconds": round(fp32_s, 1), "int8_seconds": round(int8_s, 1),
               "representative_samples": REPRESENTATIVE,
               "representative_from": "train split, numpy default_rng(0) permutation, first 500, sorted; "
                                      "no augmentation",
               "fp32_bytes": len(fp32), "int8_bytes": len(int8)}
    write_json(out / "convert.json", summary)
    return summary
