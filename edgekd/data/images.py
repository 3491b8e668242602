"""Image folders (ImageFolder layout) decoded once with PIL, normalised, split."""

from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from ..errors import DataError
from .bundle import DataBundle, Split
from .folders import require_dir, require_two_classes, scan_class_folders
from .schema import ImageFolderData
from .splits import check_covers_classes, read_list, representative_indices, split_pool

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png")
# Float conversion in chunks keeps the peak at uint8 pool + float output, not two float copies.
_CHUNK = 2048


def load_image_folder(cfg: ImageFolderData, seed: int) -> DataBundle:
    """Decode ``cfg.root`` (and ``cfg.test_root``) into normalised float32 NCHW splits.

    Args:
        cfg: The ``image_folder`` data section.
        seed: Seeds the split and the representative subset.

    Raises:
        DataError: missing folder, no or empty class folders, an undecodable image,
            images of different sizes without ``size``, or a split that misses a class.
    """
    root = require_dir(cfg.root, "data.root")
    pool = scan_class_folders(root, IMAGE_EXTENSIONS, cfg.limit_per_class, "data.root")
    require_two_classes(pool.class_names, str(root))
    test_pool = None
    if cfg.test_root:
        test_root = require_dir(cfg.test_root, "data.test_root")
        test_pool = scan_class_folders(test_root, IMAGE_EXTENSIONS, cfg.limit_per_class, "data.test_root",
                                       expected=pool.class_names)
    mode = "RGB" if cfg.channels == 3 else "L"
    size = tuple(cfg.size) if cfg.size else _probe_size(pool.files[0])
    labels = np.asarray(pool.labels, dtype=np.int64)
    idx = split_pool(cfg.split, labels, seed, separate_test=test_pool is not None, paths=pool.rel_paths,
                     root=str(root))
    mean = np.asarray(cfg.mean if cfg.mean is not None else [0.0] * cfg.channels, dtype=np.float32)
    std = np.asarray(cfg.std if cfg.std is not None else [1.0] * cfg.channels, dtype=np.float32)
    # Keep the decoded pool as uint8 and convert each split on its own: the peak is the uint8
    # pool plus the float splits, not a float pool plus float copies of it.
    pixels = decode_images(pool.files, size, mode, fixed=cfg.size is not None)
    if test_pool is None:
        x_test, y_test = _to_float(pixels[idx.test], mean, std), labels[idx.test]
    else:
        test_idx = np.arange(len(test_pool.files))
        if cfg.split.method == "lists" and cfg.split.test_list:
            lookup = {p: i for i, p in enumerate(test_pool.rel_paths)}
            test_idx = read_list(cfg.split.test_list, lookup, str(cfg.test_root))
        files = [test_pool.files[i] for i in test_idx]
        x_test = _to_float(decode_images(files, size, mode, fixed=cfg.size is not None), mean, std)
        y_test = np.asarray(test_pool.labels, dtype=np.int64)[test_idx]
    check_covers_classes(labels, idx.train, "train", pool.class_names, str(root))
    check_covers_classes(y_test, np.arange(len(y_test)), "test", pool.class_names,
                         str(cfg.test_root or root))
    calib = representative_indices(idx.train, cfg.representative_samples, seed)
    augment = ImageAugmenter(mean, std, cfg.augment.random_crop_padding, cfg.augment.horizontal_flip,
                             cfg.augment.resized_crop_scale)

    def take(ix: np.ndarray, with_augment: bool = False) -> Split:
        return Split(_to_float(pixels[ix], mean, std), torch.from_numpy(labels[ix]),
                     augment if with_augment and augment.active else None)

    name = root.parent.name if root.name.lower() in {"train", "training"} else root.name
    return DataBundle(
        name=name or "images", task="image", class_names=pool.class_names,
        input_shape=(cfg.channels, *size),
        train=take(idx.train, with_augment=True), val=take(idx.val),
        test=Split(x_test, torch.from_numpy(y_test)), representative=take(calib),
        preprocessing={
            "source": f"{'/'.join(IMAGE_EXTENSIONS)} files, decoded with PIL",
            "color": mode,
            "resize": {"size": list(size), "mode": "PIL bilinear (antialiased), only when the size differs"},
            "scale": "x / 255",
            "normalize": {"mean": mean.tolist(), "std": std.tolist(), "formula": "(x - mean) / std"},
            "layout": "NCHW",
            "train_augment": augment.describe(),
        },
    )


def decode_images(files: Sequence[Path], size: tuple[int, ...], mode: str, *, fixed: bool) -> np.ndarray:
    """Decode ``files`` into one uint8 ``(N, C, H, W)`` array.

    Args:
        files: Image paths.
        size: ``(H, W)`` of the output.
        mode: PIL mode, ``RGB`` or ``L``.
        fixed: ``size`` came from the config (resize); otherwise every image must already have it.

    Raises:
        DataError: a file is not a readable image, or has another size when ``fixed`` is False.
    """
    channels = 3 if mode == "RGB" else 1
    out = np.empty((len(files), size[0], size[1], channels), dtype=np.uint8)

    def one(i: int) -> None:
        out[i] = _decode_one(files[i], size, mode, fixed, files[0]).reshape(size[0], size[1], channels)

    # PIL releases the GIL while decoding: two threads help with large images (for 32x32
    # JPEGs per-file Python overhead dominates and the gain is ~10%).
    with ThreadPoolExecutor(max_workers=2) as pool:
        for _ in pool.map(one, range(len(files))):
            pass
    return out.transpose(0, 3, 1, 2)


def _decode_one(path: Path, size: tuple[int, ...], mode: str, fixed: bool, first: Path) -> np.ndarray:
    from PIL import Image

    try:
        with Image.open(path) as opened:
            image = opened.convert(mode)
            if image.size != (size[1], size[0]):
                if not fixed:
                    raise DataError(f"image {path} is {image.size[1]}x{image.size[0]} (HxW) but {first} is "
                                    f"{size[0]}x{size[1]}", fix="set data.size: [H, W] to resize every image")
                image = image.resize((size[1], size[0]), Image.Resampling.BILINEAR)
            return np.asarray(image, dtype=np.uint8)
    except DataError:
        raise
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
        raise DataError(f"{path} is not a readable image ({exc.__class__.__name__}: {exc})",
                        fix="delete or replace that file") from None


def _probe_size(path: Path) -> tuple[int, int]:
    from PIL import Image

    try:
        with Image.open(path) as img:
            return img.size[1], img.size[0]
    except (OSError, ValueError, SyntaxError) as exc:
        raise DataError(f"{path} is not a readable image ({exc.__class__.__name__})",
                        fix="delete or replace that file") from None


def _to_float(u8: np.ndarray, mean: np.ndarray, std: np.ndarray) -> torch.Tensor:
    out = torch.empty(u8.shape, dtype=torch.float32)
    m = torch.from_numpy(mean)[None, :, None, None]
    s = torch.from_numpy(std)[None, :, None, None]
    for start in range(0, len(u8), _CHUNK):
        chunk = torch.from_numpy(np.ascontiguousarray(u8[start:start + _CHUNK])).float().div_(255.0)
        out[start:start + _CHUNK] = (chunk - m) / s
    return out


class ImageAugmenter:
    """Random crop (padded, or random-resized) and horizontal flip, drawn from the trainer's generator.

    Padding uses the *normalised* value of a black pixel, ``-mean / std``, so a padded
    border looks like the zero padding of the raw image (as torchvision's RandomCrop does).
    The random-resized crop (Szegedy et al. 2015, torchvision's RandomResizedCrop) takes a
    box of ``scale`` of the area and aspect ratio 3/4-4/3 and resamples it to the full size
    with one batched ``grid_sample`` (bilinear), the flip folded into the same transform.
    """

    def __init__(self, mean: np.ndarray, std: np.ndarray, padding: int, flip: bool,
                 resized_crop_scale: tuple[float, float] | None = None):
        self.fill = torch.from_numpy(-mean / std).float()[None, :, None, None]
        self.padding = int(padding)
        self.flip = bool(flip)
        self.scale = tuple(resized_crop_scale) if resized_crop_scale is not None else None

    @property
    def active(self) -> bool:
        return self.padding > 0 or self.flip or self.scale is not None

    def describe(self) -> dict:
        if not self.active:
            return {}
        out: dict[str, Any] = {"random_crop_padding": self.padding, "horizontal_flip": self.flip}
        if self.scale is not None:
            out = {"resized_crop": {"area": list(self.scale), "aspect": [0.75, 4 / 3], "resample": "bilinear"},
                   "horizontal_flip": self.flip}
        return out

    def __call__(self, x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """Augment a ``(N, C, H, W)`` batch; the same generator state gives the same result."""
        if self.scale is not None:
            return self._resized_crop(x, generator)
        n, c, h, w = x.shape
        out = x
        if self.padding:
            p = self.padding
            padded = self.fill.to(x.dtype).expand(n, c, h + 2 * p, w + 2 * p).clone()
            padded[:, :, p:p + h, p:p + w] = x
            offsets = torch.randint(0, 2 * p + 1, (n, 2), generator=generator).tolist()
            out = torch.stack([padded[i, :, oy:oy + h, ox:ox + w] for i, (oy, ox) in enumerate(offsets)])
        if self.flip:
            mask = torch.rand(n, generator=generator) < 0.5
            out = torch.where(mask[:, None, None, None], out.flip(-1), out)
        return out

    def _resized_crop(self, x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        n = x.shape[0]
        assert self.scale is not None  # only called when the resized crop is on
        area = torch.empty(n).uniform_(self.scale[0], self.scale[1], generator=generator)
        log_ratio = torch.empty(n).uniform_(math.log(3 / 4), math.log(4 / 3), generator=generator)
        ratio = log_ratio.exp()
        # Box sides as fractions of the image (clipped to fit); torchvision retries instead of clipping.
        box_w = (area * ratio).sqrt().clamp(max=1.0)
        box_h = (area / ratio).sqrt().clamp(max=1.0)
        # Box centre in grid_sample's [-1, 1] coordinates, anywhere the box stays inside the image.
        centre_x = (1 - box_w) * (2 * torch.rand(n, generator=generator) - 1)
        centre_y = (1 - box_h) * (2 * torch.rand(n, generator=generator) - 1)
        sign = torch.ones(n)
        if self.flip:
            sign = torch.where(torch.rand(n, generator=generator) < 0.5, -1.0, 1.0)
        theta = torch.zeros(n, 2, 3)
        theta[:, 0, 0], theta[:, 0, 2] = box_w * sign, centre_x
        theta[:, 1, 1], theta[:, 1, 2] = box_h, centre_y
        grid = F.affine_grid(theta.to(x.dtype), list(x.shape), align_corners=False)
        return F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)
