"""A searched input size: the student's splits resized, the teacher's rows kept, augmentation paired."""

from __future__ import annotations

import numpy as np
import torch

from edgekd.data.bundle import DataBundle, Split
from edgekd.data.images import ImageAugmenter
from edgekd.search.resolution import at_resolution


def _bundle(augment=None, teacher_x=None):
    g = torch.Generator().manual_seed(0)
    x = torch.rand(6, 3, 16, 16, generator=g)
    y = torch.arange(6) % 2
    train = Split(x, y, augment, teacher_x=teacher_x)
    other = Split(x.clone(), y)
    return DataBundle(name="t", task="image", class_names=("a", "b"), input_shape=(3, 16, 16), train=train,
                      val=other, test=other, representative=other)


def test_student_inputs_resized_teacher_rows_kept():
    data = _bundle()
    small = at_resolution(data, (8, 8))
    assert small.input_shape == (3, 8, 8) and small.teacher_input_shape == (3, 16, 16)
    for name in ("train", "val", "test", "representative"):
        split, before = getattr(small, name), getattr(data, name)
        assert tuple(split.x.shape) == (6, 3, 8, 8)
        assert split.for_teacher() is before.x  # the teacher eats what it ate before, not a copy
    # Antialiased bilinear halving of a 16x16 image averages 4x4 neighbourhoods' worth of pixels:
    # the mean is kept and the result is smoother than the source.
    assert torch.allclose(small.test.x.mean(), data.test.x.mean(), atol=1e-3)
    assert small.test.x.std() < data.test.x.std()
    assert at_resolution(data, (16, 16)) is data and at_resolution(data, (8, 8)) is small
    assert "search_resize" in small.preprocessing


def test_teacher_rows_of_an_augmented_batch_are_cropped_and_flipped_with_the_students():
    mean, std = np.full(3, 0.5, np.float32), np.full(3, 0.25, np.float32)
    augment = ImageAugmenter(mean, std, padding=2, flip=True)
    small = at_resolution(_bundle(augment), (8, 8))
    train = small.train
    idx = torch.arange(6)
    out = train.augment(train.x, torch.Generator().manual_seed(3))
    teacher = train.teacher_batch(idx, out)
    assert tuple(teacher.shape) == (6, 3, 16, 16)
    # Where the student's crop shows padding, the teacher's shows the same black: the normalised
    # black of the data (-mean/std = -2), not 0, since the teacher's rows are normalised floats too.
    black = float(-mean[0] / std[0])
    padded = [i for i in range(6) if bool((out[i, :, 0, :] == black).all() or (out[i, :, -1, :] == black).all())]
    assert padded, "seed 3 shifts at least one sample vertically"
    for i in padded:
        top = bool((out[i, :, 0, :] == black).all())
        row = teacher[i, :, 0, :] if top else teacher[i, :, -1, :]
        assert torch.allclose(row, torch.tensor(black)), i
    assert (teacher == 0).sum() == 0


def test_the_deploy_bundle_resizes_to_the_searched_size(tmp_path):
    """Image files at their own size (no data.size) but a student at a searched size: run.py must resize."""
    from edgekd.data.schema import ImageFolderData
    from edgekd.deploy.describe import preprocessing

    cfg = ImageFolderData(root=str(tmp_path))
    data = _bundle()
    assert preprocessing(cfg, data, None)["resize"] is False
    described = preprocessing(cfg, at_resolution(data, (8, 8)), None)
    assert described["resize"] is True and described["size"] == [8, 8]
