"""teacher.input on image folders: the teacher's 8-bit pixels at its size, cropped and flipped with the student's."""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image

from edgekd.data.images import load_image_folder
from edgekd.data.schema import ImageFolderData
from edgekd.teachers.schema import TeacherInput


def _folder(root):
    rng = np.random.default_rng(0)
    for k in range(2):
        (root / f"c{k}").mkdir(parents=True)
        for i in range(6):
            Image.fromarray(rng.integers(0, 255, (8, 8, 3), dtype=np.uint8)).save(root / f"c{k}" / f"{i}.png")
    return root


def _bundle(root, augment):
    cfg = ImageFolderData(root=str(root), size=[8, 8], augment=augment)
    return load_image_folder(cfg, 0, TeacherInput(scale=255, size=(16, 16)))


def test_teacher_pixels_are_the_same_files_at_its_size(tmp_path):
    bundle = _bundle(_folder(tmp_path / "imgs"), {})
    assert bundle.teacher_input_shape == (3, 16, 16)
    for split in (bundle.train, bundle.val, bundle.test):
        assert split.teacher_x.dtype == torch.uint8 and tuple(split.teacher_x.shape[1:]) == (3, 16, 16)
        assert len(split.teacher_x) == len(split.x)
    assert bundle.preprocessing["teacher_input"]["size"] == [16, 16]


def test_flip_and_resized_crop_reach_the_teacher(tmp_path):
    root = _folder(tmp_path / "imgs")
    for augment in ({"horizontal_flip": True}, {"horizontal_flip": True, "resized_crop_scale": [0.3, 0.6]}):
        train = _bundle(root, augment).train
        idx = torch.arange(len(train.x))
        out = train.augment(train.x, torch.Generator().manual_seed(0))
        teacher = train.teacher_batch(idx, out)
        assert tuple(teacher.shape[1:]) == (3, 16, 16)
        if "resized_crop_scale" in augment:  # the same box, resampled at the teacher's size, in pixel units
            assert float(teacher.min()) >= 0 and float(teacher.max()) <= 255
            assert not any(torch.equal(teacher[i], train.teacher_x[i].float()) for i in range(len(teacher)))
        else:  # a pure flip: each row is the file's pixels or their mirror
            rows = train.teacher_x
            flipped = [torch.equal(teacher[i], rows[i].flip(-1)) and not torch.equal(teacher[i], rows[i])
                       for i in range(len(rows))]
            same = [torch.equal(teacher[i], rows[i]) for i in range(len(rows))]
            assert all(f or s for f, s in zip(flipped, same)) and any(flipped)
            student_flipped = [not torch.equal(out[i], train.x[i]) for i in range(len(rows))]
            assert student_flipped == flipped


def test_tf_resample_gives_tf_image_resize_pixels(tmp_path):
    """resample: tf equals tf.image.resize (bilinear, default) rounded to 8 bits, growing and shrinking;
    pil differs (its filter widens when shrinking), so the option changes what the teacher sees."""
    import tensorflow as tf

    root = _folder(tmp_path / "imgs")
    files = sorted(root.glob("*/*.png"))
    rng = np.random.default_rng(1)
    big = root / "c0" / "big.png"
    Image.fromarray(rng.integers(0, 255, (37, 29, 3), dtype=np.uint8)).save(big)
    from edgekd.data.images import decode_images

    for path, size in ((files[0], (19, 24)), (big, (8, 8))):
        source = np.asarray(Image.open(path).convert("RGB"))
        expected = tf.cast(tf.round(tf.clip_by_value(tf.image.resize(tf.cast(source, tf.float32), size,
                                                                      method="bilinear"), 0, 255)), tf.uint8)
        ours = decode_images([path], size, "RGB", fixed=True, resample="tf")[0].transpose(1, 2, 0)
        assert np.abs(ours.astype(int) - expected.numpy().astype(int)).max() <= 1  # float32 rounding ties
        assert (ours == expected.numpy()).mean() > 0.99
    pil = decode_images([big], (8, 8), "RGB", fixed=True)[0].transpose(1, 2, 0)
    assert np.abs(pil.astype(int) - ours.astype(int)).max() > 8


def test_tf_resample_at_the_students_size_decodes_its_own_pixels(tmp_path):
    root = _folder(tmp_path / "imgs")
    cfg = ImageFolderData(root=str(root), size=[5, 5])
    bundle = load_image_folder(cfg, 0, TeacherInput(scale=255, resample="tf"))
    assert bundle.preprocessing["teacher_input"]["resample"].startswith("bilinear as tf.image.resize")
    student = (bundle.train.x * 255).round()  # mean 0, std 1: x is pixel / 255
    assert not torch.equal(bundle.train.teacher_x.float(), student)
