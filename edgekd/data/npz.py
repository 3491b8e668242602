"""Arrays the user already prepared: one ``.npz`` with train/test (and optional val) splits."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import torch

from ..errors import DataError
from .bundle import DataBundle, Split
from .checks import non_finite_summary
from .folders import require_two_classes
from .schema import NpzData
from .splits import check_covers_classes, representative_indices, stratified_take

_REQUIRED = ("x_train", "y_train", "x_test", "y_test")


def load_npz(cfg: NpzData, seed: int) -> DataBundle:
    """Load ``cfg.path``; val comes from ``x_val``/``y_val`` or a stratified carve of train.

    Inputs are used as stored (cast to float32); 3-D arrays ``(N, H, W)`` get one channel.

    Raises:
        DataError: missing file or keys, mismatched shapes, non-integer or out-of-range labels,
            fewer than two classes, or a class missing from train or test.
    """
    path = Path(cfg.path).expanduser()
    if not path.is_file():
        raise DataError(f"npz file {path} does not exist", fix="set data.path to an .npz file")
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {key: archive[key] for key in archive.files}
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
        raise DataError(f"{path} is not a readable .npz ({exc.__class__.__name__}: {exc})",
                        fix="write it with numpy.savez(path, x_train=..., y_train=..., x_test=..., y_test=...)"
                        ) from None
    has_val = "x_val" in arrays or "y_val" in arrays
    needed = _REQUIRED + (("x_val", "y_val") if has_val else ())
    missing = [key for key in needed if key not in arrays]
    if missing:
        raise DataError(f"{path} lacks {', '.join(missing)} (has: {', '.join(sorted(arrays)) or 'nothing'})",
                        fix="save x_train, y_train, x_test, y_test (and optionally x_val with y_val)")
    splits = {name: _pair(arrays, name, cfg.layout, path) for name in (("train", "test", "val") if has_val
                                                                         else ("train", "test"))}
    shapes = {name: tuple(x.shape[1:]) for name, (x, _) in splits.items()}
    if len(set(shapes.values())) != 1:
        raise DataError(f"{path}: sample shapes differ between splits ({shapes})",
                        fix="give every split the same (C, H, W)")
    top = max(int(y.max()) for _, y in splits.values() if len(y)) + 1
    if cfg.class_names is not None:
        if len(cfg.class_names) < top:
            raise DataError(f"{path}: labels go up to {top - 1} but data.class_names has {len(cfg.class_names)} names",
                            fix="list one name per class index")
        class_names = tuple(cfg.class_names)
    else:
        class_names = tuple(str(i) for i in range(top))
    require_two_classes(class_names, str(path))
    x_train, y_train = splits["train"]
    if has_val:
        x_val, y_val = splits["val"]
        train_idx = np.arange(len(y_train))
    else:
        train_idx, val_idx = stratified_take(y_train, np.arange(len(y_train)), cfg.val_fraction,
                                             np.random.default_rng(seed))
        x_val, y_val = x_train[val_idx], y_train[val_idx]
        if len(val_idx) == 0:
            raise DataError(f"{path}: carving the val split from train left it empty: every class has one train "
                            f"sample (the val split needs at least 1 sample, so some class needs 2)",
                            fix="save x_val/y_val, or add train samples")
    x_test, y_test = splits["test"]
    check_covers_classes(y_train, train_idx, "train", class_names, str(path))
    check_covers_classes(y_test, np.arange(len(y_test)), "test", class_names, str(path))
    calib = representative_indices(train_idx, cfg.representative_samples, seed)

    def split(x: np.ndarray, y: np.ndarray) -> Split:
        return Split(torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32)), torch.from_numpy(y))

    return DataBundle(
        name=path.stem, task="image", class_names=class_names, input_shape=shapes["train"],
        train=split(x_train[train_idx], y_train[train_idx]), val=split(x_val, y_val),
        test=split(x_test, y_test), representative=split(x_train[calib], y_train[calib]),
        preprocessing={"source": f"{path.name} (arrays used as stored, cast to float32)",
                       "stored_layout": cfg.layout, "layout": "NCHW"},
    )


def _pair(arrays: dict, name: str, layout: str, path: Path) -> tuple[np.ndarray, np.ndarray]:
    x, y = arrays[f"x_{name}"], arrays[f"y_{name}"]
    if x.dtype.kind not in "fiub":
        raise DataError(f"{path}: x_{name} has dtype {x.dtype}, expected numbers", fix="save numeric arrays")
    if x.ndim == 3:  # (N, H, W): one channel, whatever the layout
        x = x[:, None] if layout == "NCHW" else x[..., None]
    if x.ndim != 4:
        raise DataError(f"{path}: x_{name} has shape {x.shape}, expected 4-D {layout} (or 3-D N,H,W)",
                        fix=f"reshape it to {layout}, or set data.layout")
    if layout == "NHWC":
        x = x.transpose(0, 3, 1, 2)
    if y.ndim != 1 or y.dtype.kind not in "iu":
        raise DataError(f"{path}: y_{name} has shape {y.shape} and dtype {y.dtype}, expected 1-D integer labels",
                        fix="save class indices (not one-hot, not floats)")
    if len(y) != len(x):
        raise DataError(f"{path}: x_{name} has {len(x)} samples but y_{name} has {len(y)}",
                        fix="save one label per sample")
    if len(y) == 0 and name != "val":
        raise DataError(f"{path}: {name} split is empty", fix=f"save samples in x_{name}")
    if len(y) == 0 and name == "val":
        raise DataError(f"{path}: x_val is empty (the val split needs at least 1 sample)",
                        fix="save samples in x_val/y_val, or leave both out to carve val from train")
    if len(y) and int(y.min()) < 0:
        raise DataError(f"{path}: y_{name} has negative labels", fix="use class indices 0..K-1")
    problem = non_finite_summary(x)
    if problem:
        raise DataError(f"{path}: x_{name} (the {name} split) has non-finite values: {problem}",
                        fix=f"replace or drop those samples of x_{name} (e.g. numpy.nan_to_num) before saving")
    return x, y.astype(np.int64)
