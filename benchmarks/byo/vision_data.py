"""CIFAR-10 JPEGs as a TensorFlow author reads them, plus the 96x96 upscale and the augmentations.

Decoding: ``tf.io.decode_jpeg(channels=3)`` (TensorFlow's libjpeg-turbo, default DCT method),
uint8 RGB. PIL decoding (what edgekd's image_folder loader uses) is also provided so the
benchmark can say whether the two decoders give the same pixels.

96x96: ``tf.image.resize(x, [96, 96], method="bilinear", antialias=False)`` (half-pixel
centres, the same sampling as ``torch.nn.functional.interpolate(mode="bilinear",
align_corners=False)``), then rounded to the nearest integer, clipped to 0..255 and stored
as uint8: the 96x96 "camera frame" the MobileNet teacher sees as 0..255 floats.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import tensorflow as tf


def decode_tf(files: list[Path]) -> np.ndarray:
    """``[N, H, W, 3]`` uint8 decoded with ``tf.io.decode_jpeg``."""
    return np.stack([tf.io.decode_jpeg(tf.io.read_file(str(f)), channels=3).numpy() for f in files])


def decode_pil(files: list[Path]) -> np.ndarray:
    """``[N, H, W, 3]`` uint8 decoded with PIL (``Image.open(f).convert("RGB")``)."""
    from PIL import Image

    out = []
    for f in files:
        with Image.open(f) as image:
            out.append(np.asarray(image.convert("RGB"), dtype=np.uint8))
    return np.stack(out)


def upscale(images: np.ndarray, size: int = 96, batch: int = 500) -> np.ndarray:
    """Bilinear upscale of uint8 images to ``size`` x ``size``, rounded back to uint8."""
    out = np.empty((len(images), size, size, images.shape[-1]), dtype=np.uint8)
    for i in range(0, len(images), batch):
        big = tf.image.resize(tf.cast(images[i:i + batch], tf.float32), [size, size], method="bilinear",
                              antialias=False)
        out[i:i + batch] = tf.cast(tf.clip_by_value(tf.round(big), 0.0, 255.0), tf.uint8).numpy()
    return out


def train_dataset(x_u8: np.ndarray, y: np.ndarray, batch: int, shift_px: int, size: int,
                  seed: int) -> tf.data.Dataset:
    """Shuffled, augmented float32 0..255 batches at ``size`` x ``size`` from 32x32 uint8 images.

    Per image: random horizontal flip, then a random shift of up to ``shift_px`` pixels in x and y
    (reflect-pad by ``shift_px``, random 32x32 crop), then, for ``size`` != 32, the same bilinear
    upscale + rounding as :func:`upscale`. This is the cheap form of the authors'
    ``ImageDataGenerator`` shift + flip; their rotation (and VWW's zoom) are left out because
    Keras' projective-transform layers halved training throughput on this shared 2-core machine.
    """
    h, w, c = x_u8.shape[1:]

    def augment(image, label):
        image = tf.image.random_flip_left_right(image)
        padded = tf.pad(image, [[shift_px, shift_px], [shift_px, shift_px], [0, 0]], mode="REFLECT")
        image = tf.cast(tf.image.random_crop(padded, [h, w, c]), tf.float32)
        if size != h:
            image = tf.image.resize(image, [size, size], method="bilinear", antialias=False)
            image = tf.clip_by_value(tf.round(image), 0.0, 255.0)
        return image, label

    tf.random.set_seed(seed)
    ds = tf.data.Dataset.from_tensor_slices((x_u8, y)).shuffle(len(y), seed=seed, reshuffle_each_iteration=True)
    return ds.map(augment, num_parallel_calls=tf.data.AUTOTUNE).batch(batch).prefetch(2)


def eval_dataset(x: np.ndarray, y: np.ndarray, batch: int = 250) -> tf.data.Dataset:
    """Batched float32 inputs in order, no augmentation."""
    ds = tf.data.Dataset.from_tensor_slices((x, y)).batch(batch)
    return ds.map(lambda a, t: (tf.cast(a, tf.float32), t)).prefetch(2)
