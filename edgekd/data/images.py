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


def load_image_folder(cfg: ImageFolderData, seed: int, teacher_input: Any = None) -> DataBundle:
    """Decode ``cfg.root`` (and ``cfg.test_root``) into normalised float32 NCHW splits.

    ``limit_per_class`` takes the first files of each class of ``root`` only; ``test_root`` is
    read whole unless ``test_limit_per_class`` is set (the data summary says which).

    Args:
        cfg: The ``image_folder`` data section.
        seed: Seeds the split and the representative subset.
        teacher_input: The ``teacher.input`` section, or ``None``. When given, every split also
            holds the teacher's own pixels (``Split.teacher_x``: uint8 NCHW, the same files
            decoded at ``teacher_input.size``, else at the student's size); the teacher's
            wrapper scales them (:class:`edgekd.teachers.adapters.PixelInput`).

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
        test_pool = scan_class_folders(test_root, IMAGE_EXTENSIONS, cfg.test_limit_per_class, "data.test_root",
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
    t_size = tuple(teacher_input.size) if teacher_input is not None and teacher_input.size else size
    t_resample = getattr(teacher_input, "resample", "pil")
    # The student's pixels serve the teacher only when they were decoded the same way.
    t_own = teacher_input is not None and (t_size != size or t_resample != "pil")
    t_pixels = None
    if teacher_input is not None:
        t_pixels = decode_images(pool.files, t_size, mode, fixed=True, resample=t_resample) if t_own else pixels
    if test_pool is None:
        x_test, y_test = _to_float(pixels[idx.test], mean, std), labels[idx.test]
        t_test = t_pixels[idx.test] if t_pixels is not None else None
    else:
        test_idx = np.arange(len(test_pool.files))
        if cfg.split.method == "lists" and cfg.split.test_list:
            lookup = {p: i for i, p in enumerate(test_pool.rel_paths)}
            test_idx = read_list(cfg.split.test_list, lookup, str(cfg.test_root))
        files = [test_pool.files[i] for i in test_idx]
        test_pixels = decode_images(files, size, mode, fixed=cfg.size is not None)
        x_test = _to_float(test_pixels, mean, std)
        y_test = np.asarray(test_pool.labels, dtype=np.int64)[test_idx]
        t_test = None
        if teacher_input is not None:
            t_test = decode_images(files, t_size, mode, fixed=True, resample=t_resample) if t_own else test_pixels
        del test_pixels
    check_covers_classes(labels, idx.train, "train", pool.class_names, str(root))
    check_covers_classes(y_test, np.arange(len(y_test)), "test", pool.class_names,
                         str(cfg.test_root or root))
    calib = representative_indices(idx.train, cfg.representative_samples, seed)
    augment = ImageAugmenter(mean, std, cfg.augment.random_crop_padding, cfg.augment.horizontal_flip,
                             cfg.augment.resized_crop_scale)

    def take(ix: np.ndarray, with_augment: bool = False) -> Split:
        return Split(_to_float(pixels[ix], mean, std), torch.from_numpy(labels[ix]),
                     augment if with_augment and augment.active else None,
                     teacher_x=_pixels_tensor(t_pixels[ix]) if t_pixels is not None else None)

    name = root.parent.name if root.name.lower() in {"train", "training"} else root.name
    return DataBundle(
        name=name or "images", task="image", class_names=pool.class_names,
        input_shape=(cfg.channels, *size),
        train=take(idx.train, with_augment=True), val=take(idx.val),
        test=Split(x_test, torch.from_numpy(y_test), teacher_x=_pixels_tensor(t_test) if t_test is not None else None),
        representative=take(calib),
        teacher_input_shape=(cfg.channels, *t_size) if teacher_input is not None else None,
        preprocessing={
            "source": f"{'/'.join(IMAGE_EXTENSIONS)} files, decoded with PIL",
            "color": mode,
            "resize": {"size": list(size), "mode": "PIL bilinear (antialiased), only when the size differs"},
            "scale": "x / 255",
            "normalize": {"mean": mean.tolist(), "std": std.tolist(), "formula": "(x - mean) / std"},
            "layout": "NCHW",
            "train_augment": augment.describe(),
            "files": _limits(cfg),
            **({"teacher_input": _teacher_note(teacher_input, t_size)} if teacher_input is not None else {}),
        },
    )


def _limits(cfg: ImageFolderData) -> dict[str, str]:
    """Which files were read: every file, or the first N per class (``limit_per_class``)."""
    def rule(limit: int | None) -> str:
        return "every file" if limit is None else f"the first {limit} files of each class (sorted by name)"

    out = {"root": rule(cfg.limit_per_class)}
    if cfg.test_root:
        out["test_root"] = rule(cfg.test_limit_per_class)
    return out


def _teacher_note(spec: Any, size: tuple[int, ...]) -> dict[str, Any]:
    resample = _RESAMPLE_NOTES[getattr(spec, "resample", "pil")]
    return {"size": list(size), "scale": spec.scale, "mean": spec.mean, "std": spec.std, "resample": resample,
            "formula": "(pixel / 255 * scale - mean) / std, applied per batch; the same files decoded at size "
                       f"({resample}, when it differs), the same crop and flip in training"}


_RESAMPLE_NOTES = {"pil": "PIL bilinear, antialiased when shrinking",
                   "tf": "bilinear as tf.image.resize (half-pixel centres, no antialiasing), rounded to 8 bits"}


def _pixels_tensor(u8: np.ndarray) -> torch.Tensor:
    """A split's teacher pixels as a contiguous uint8 tensor (a quarter of float32's memory)."""
    return torch.from_numpy(np.ascontiguousarray(u8))


def decode_images(files: Sequence[Path], size: tuple[int, ...], mode: str, *, fixed: bool,
                  resample: str = "pil") -> np.ndarray:
    """Decode ``files`` into one uint8 ``(N, C, H, W)`` array.

    Args:
        files: Image paths.
        size: ``(H, W)`` of the output.
        mode: PIL mode, ``RGB`` or ``L``.
        fixed: ``size`` came from the config (resize); otherwise every image must already have it.
        resample: ``pil`` (PIL bilinear, antialiased when shrinking) or ``tf`` (what
            ``tf.image.resize(method="bilinear")`` computes by default, rounded to uint8).

    Raises:
        DataError: a file is not a readable image, or has another size when ``fixed`` is False.
    """
    channels = 3 if mode == "RGB" else 1
    out = np.empty((len(files), size[0], size[1], channels), dtype=np.uint8)

    def one(i: int) -> None:
        out[i] = _decode_one(files[i], size, mode, fixed, files[0], resample).reshape(size[0], size[1], channels)

    # PIL releases the GIL while decoding: two threads help with large images (for 32x32
    # JPEGs per-file Python overhead dominates and the gain is ~10%).
    with ThreadPoolExecutor(max_workers=2) as pool:
        for _ in pool.map(one, range(len(files))):
            pass
    return out.transpose(0, 3, 1, 2)


def _decode_one(path: Path, size: tuple[int, ...], mode: str, fixed: bool, first: Path,
                resample: str = "pil") -> np.ndarray:
    from PIL import Image

    try:
        with Image.open(path) as opened:
            image = _eight_bit(opened, path).convert(mode)
            if image.size != (size[1], size[0]):
                if not fixed:
                    raise DataError(f"image {path} is {image.size[1]}x{image.size[0]} (HxW) but {first} is "
                                    f"{size[0]}x{size[1]}", fix="set data.size: [H, W] to resize every image")
                if resample == "tf":
                    return _tf_bilinear(np.asarray(image, dtype=np.uint8), size)
                image = image.resize((size[1], size[0]), Image.Resampling.BILINEAR)
            return np.asarray(image, dtype=np.uint8)
    except DataError:
        raise
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
        raise DataError(f"{path} is not a readable image ({exc.__class__.__name__}: {exc})",
                        fix="delete or replace that file") from None


def _tf_bilinear(u8: np.ndarray, size: tuple[int, ...]) -> np.ndarray:
    """``tf.image.resize(x, size, "bilinear")`` of an ``(H, W[, C])`` uint8 image, rounded back to uint8.

    TF2's bilinear resize samples at half-pixel centres without antialiasing, which is what
    ``F.interpolate(mode="bilinear", align_corners=False, antialias=False)`` computes; PIL
    instead widens its filter when shrinking. Rounding half to even, as ``tf.round`` does.
    """
    chw = torch.from_numpy(np.array(u8).reshape(u8.shape[0], u8.shape[1], -1)).permute(2, 0, 1)[None].float()
    big = F.interpolate(chw, size=(size[0], size[1]), mode="bilinear", align_corners=False, antialias=False)
    return big[0].permute(1, 2, 0).round().clamp(0, 255).to(torch.uint8).numpy()


def _eight_bit(image, path: Path):
    """16-bit grayscale (PNG ``I;16``, ``I``) scaled to 8 bits; other images unchanged.

    PIL's ``convert('L'/'RGB')`` clips such images at 255 instead of scaling them: every pixel
    above 255 of 65535 turns white and a model trains at chance. 65535 -> 255 is the PNG spec's
    sample depth scaling. Floating-point images have no known range and are refused.
    """
    from PIL import Image

    if image.mode == "F":
        raise DataError(f"{path} is a floating-point image (PIL mode F): its value range is unknown",
                        fix="save the images as 8- or 16-bit PNG or JPEG")
    if not (image.mode.startswith("I;16") or image.mode == "I"):
        return image
    values = np.asarray(image).astype(np.int64)
    if values.size and (values.min() < 0 or values.max() > 65535):
        raise DataError(f"{path} is a 32-bit integer image with values outside 0..65535",
                        fix="save the images as 8- or 16-bit PNG or JPEG")
    return Image.fromarray(((values * 255 + 32767) // 65535).astype(np.uint8))


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
    A teacher with its own pixels (``teacher.input``) gets the same crop and flip of them
    (:meth:`teacher_inputs_of`): padding and offsets scaled to its size, or the same box.
    """

    def __init__(self, mean: np.ndarray, std: np.ndarray, padding: int, flip: bool,
                 resized_crop_scale: tuple[float, float] | None = None):
        self.fill = torch.from_numpy(-mean / std).float()[None, :, None, None]
        self.padding = int(padding)
        self.flip = bool(flip)
        self.scale = tuple(resized_crop_scale) if resized_crop_scale is not None else None
        # The last batch returned and its draws (crop offsets, flip mask, resized-crop transform),
        # for teacher_inputs_of.
        self._last: tuple[torch.Tensor, list[list[int]] | None, torch.Tensor | None, torch.Tensor | None] | None = None

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
            out, theta = self._resized_crop(x, generator)
            self._last = (out, None, None, theta)
            return out
        n = x.shape[0]
        offsets = mask = None
        if self.padding:
            offsets = torch.randint(0, 2 * self.padding + 1, (n, 2), generator=generator).tolist()
        if self.flip:
            mask = torch.rand(n, generator=generator) < 0.5
        out = _crop_flip(x, self.padding, offsets, mask, self.fill.to(x.dtype))
        self._last = (out, offsets, mask, None)
        return out

    def teacher_inputs_of(self, inputs: torch.Tensor, rows: torch.Tensor | None) -> torch.Tensor:
        """The teacher's own pixels ``rows`` of the batch that gave ``inputs``, cropped and flipped alike.

        The padding and each offset are scaled by the ratio of the teacher's height/width to the
        student's (the extremes map exactly); the fill is a black pixel. Only for the batch this
        augmenter returned last (the trainer augments, then runs the loss).
        """
        if rows is None:
            return inputs
        if self._last is None or self._last[0] is not inputs and not torch.equal(self._last[0], inputs.detach().cpu()):
            raise RuntimeError("teacher inputs asked for a batch this augmenter did not produce last")
        _out, offsets, mask, theta = self._last
        if theta is not None:  # the same box in normalised coordinates, resampled at the teacher's size
            grid = F.affine_grid(theta, list(rows.shape), align_corners=False)
            return F.grid_sample(rows.float(), grid, mode="bilinear", padding_mode="border",
                                 align_corners=False).to(inputs.device)
        h, w = inputs.shape[-2:]
        th, tw = rows.shape[-2:]
        pad = int(round(self.padding * min(th / h, tw / w)))
        scaled = None
        if offsets is not None and self.padding:
            scaled = [[int(round(oy * pad / self.padding)), int(round(ox * pad / self.padding))] for oy, ox in offsets]
        # 8-bit pixel rows (teacher.input) pad with black, 0; float rows are normalised like the
        # student's inputs (a searched resolution keeps the data's own rows), so black is -mean/std.
        fill = self.fill.to(rows.dtype) if rows.is_floating_point() else torch.zeros((), dtype=rows.dtype)
        return _crop_flip(rows, pad, scaled, mask, fill).to(inputs.device)


    def _resized_crop(self, x: torch.Tensor, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
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
        theta = theta.to(x.dtype)
        grid = F.affine_grid(theta, list(x.shape), align_corners=False)
        return F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False), theta


def _crop_flip(x: torch.Tensor, padding: int, offsets: list[list[int]] | None, mask: torch.Tensor | None,
               fill: torch.Tensor) -> torch.Tensor:
    """Pad by ``padding`` with ``fill``, crop back at ``offsets`` (per sample), flip where ``mask``."""
    n, c, h, w = x.shape
    out = x
    if padding and offsets is not None:
        p = padding
        padded = fill.expand(n, c, h + 2 * p, w + 2 * p).clone() if fill.dim() else \
            torch.full((n, c, h + 2 * p, w + 2 * p), fill.item(), dtype=x.dtype)
        padded[:, :, p:p + h, p:p + w] = x
        out = torch.stack([padded[i, :, oy:oy + h, ox:ox + w] for i, (oy, ox) in enumerate(offsets)])
    if mask is not None:
        out = torch.where(mask[:, None, None, None], out.flip(-1), out)
    return out
