"""Image folders: shapes, ImageFolder class order, splits, normalisation, augmentation, errors."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import torch

from edgekd.data import load_data
from edgekd.data.images import load_image_folder
from edgekd.data.schema import ImageFolderData
from edgekd.errors import DataError


def load(**kwargs):
    return load_image_folder(ImageFolderData(**kwargs), seed=0)


def test_class_order_shapes_labels_and_ratio_split(image_folder):
    # Folder names out of order on purpose: labels must follow sorted names.
    root = image_folder({"zebra": 10, "ant": 10, "mouse": 10})
    bundle = load_data(SimpleNamespace(data=ImageFolderData(root=str(root)), seed=0))
    assert bundle.class_names == ("ant", "mouse", "zebra")
    assert bundle.input_shape == (3, 6, 8) and bundle.train.x.shape[1:] == (3, 6, 8)
    # 10 per class: test 20% → 2, val 10% of the whole → 1, train 7.
    assert (len(bundle.train), len(bundle.val), len(bundle.test)) == (21, 3, 6)
    assert len(bundle.representative) == 21
    for split in (bundle.train, bundle.val, bundle.test):
        assert torch.bincount(split.y, minlength=3).tolist() == [len(split) // 3] * 3
    # "zebra" was written with the first colour (red): its label is 2 and its pixels red.
    red = bundle.train.x[bundle.train.y == 2][:, :, 2, 2]
    assert torch.allclose(red, torch.tensor([250, 10, 10]) / 255.0, atol=1 / 255)
    assert bundle.train.augment is None and bundle.train.x.dtype == torch.float32


def test_splits_are_disjoint_and_seeded(image_folder):
    root = image_folder({"a": 12, "b": 12})
    # Tag every image by writing its index into one pixel, to follow samples through the split.
    from PIL import Image

    for n, path in enumerate(sorted(root.rglob("*.png"))):
        array = np.asarray(Image.open(path)).copy()
        array[5, 7] = n
        Image.fromarray(array).save(path)

    def ids(bundle, name):
        return set((getattr(bundle, name).x[:, 0, 5, 7] * 255).round().int().tolist())

    first, again = load(root=str(root)), load(root=str(root))
    other = load_image_folder(ImageFolderData(root=str(root)), seed=1)
    parts = [ids(first, name) for name in ("train", "val", "test")]
    assert sum(map(len, parts)) == 24 and set().union(*parts) == set(range(24))
    assert ids(again, "test") == parts[2] and ids(other, "test") != parts[2]


def test_test_root_resize_grey_and_normalisation(image_folder):
    train = image_folder({"cat": 6, "dog": 6}, size=(10, 12))
    test = image_folder({"cat": 3, "dog": 2}, size=(10, 12), sub="test", ext=".jpg")
    bundle = load(root=str(train), test_root=str(test), size=(8, 8), channels=1, mean=[0.5], std=[0.25])
    assert bundle.input_shape == (1, 8, 8) and bundle.test.x.shape == (5, 1, 8, 8)
    assert bundle.test.y.tolist() == [0, 0, 0, 1, 1]
    assert len(bundle.train) + len(bundle.val) == 12
    # Grey of a flat (250,10,10) red = 0.299*250+0.587*10+0.114*10 ≈ 82 → (82/255 - 0.5) / 0.25.
    centre = bundle.train.x[bundle.train.y == 0][0, 0, 4, 4]
    assert abs(float(centre) - ((82 / 255 - 0.5) / 0.25)) < 0.03
    assert bundle.preprocessing["normalize"]["mean"] == [0.5]


def test_lists_split_and_limit_per_class(image_folder, tmp_path):
    root = image_folder({"a": 6, "b": 6})
    (tmp_path / "train.txt").write_text("# train\na/0000.png\na/0001.png\na/0002.png\nb/0000.png\nb/0001.png\n")
    (tmp_path / "val.txt").write_text("a/0003.png\nb/0002.png\n")
    (tmp_path / "test.txt").write_text("./a/0004.png\nb/0005.png\n\n")
    split = {"method": "lists", "train_list": str(tmp_path / "train.txt"), "val_list": str(tmp_path / "val.txt"),
             "test_list": str(tmp_path / "test.txt")}
    bundle = load(root=str(root), split=split)
    assert (len(bundle.train), len(bundle.val), len(bundle.test)) == (5, 2, 2)
    assert bundle.test.y.tolist() == [0, 1]
    limited = load(root=str(root), limit_per_class=4, split={"test_fraction": 0.25, "val_fraction": 0.25})
    assert len(limited.train) + len(limited.val) + len(limited.test) == 8


def test_augment_is_deterministic_per_generator_and_changes_input(image_folder):
    root = image_folder({"a": 8, "b": 8})
    bundle = load(root=str(root), mean=[0.5, 0.5, 0.5], std=[0.5, 0.5, 0.5],
                  augment={"random_crop_padding": 2, "horizontal_flip": True})
    x = bundle.train.x[:8]
    aug = bundle.train.augment
    one = aug(x, torch.Generator().manual_seed(3))
    two = aug(x, torch.Generator().manual_seed(3))
    other = aug(x, torch.Generator().manual_seed(4))
    assert one.shape == x.shape and torch.equal(one, two)
    assert not torch.equal(one, x) and not torch.equal(one, other)
    # Padding is the normalised value of a black pixel, -mean/std = -1.
    assert float(one.min()) == pytest.approx(-1.0)


def test_flip_only_mirrors_whole_images(image_folder):
    root = image_folder({"a": 8, "b": 8})
    bundle = load(root=str(root), augment={"horizontal_flip": True})
    x = bundle.train.x[:10]
    out = bundle.train.augment(x, torch.Generator().manual_seed(0))
    flipped = [bool(torch.equal(o, xi.flip(-1))) for o, xi in zip(out, x)]
    kept = [bool(torch.equal(o, xi)) for o, xi in zip(out, x)]
    assert all(f or k for f, k in zip(flipped, kept)) and any(flipped) and any(kept)


@pytest.mark.parametrize("case", ["missing", "file", "no_classes", "one_class", "empty_class"])
def test_folder_errors(tmp_path, image_folder, case):
    if case == "missing":
        root, named = tmp_path / "nope", "nope"
    elif case == "file":
        root = tmp_path / "f.txt"
        root.write_text("x")
        named = "f.txt"
    elif case == "no_classes":
        root, named = tmp_path / "empty", "no class folders"
        root.mkdir()
    elif case == "one_class":
        root, named = image_folder({"only": 3}), "at least 2"
    else:
        root = image_folder({"a": 3, "b": 3})
        (root / "c").mkdir()
        (root / "c" / "notes.txt").write_text("not an image")
        named = str(root / "c")
    with pytest.raises(DataError) as err:
        load(root=str(root))
    assert named in str(err.value) and err.value.exit_code == 2 and err.value.fix


def test_corrupt_image_is_named(image_folder):
    root = image_folder({"a": 4, "b": 4})
    bad = root / "b" / "0002.png"
    bad.write_bytes(b"this is not a png")
    with pytest.raises(DataError, match="0002.png is not a readable image"):
        load(root=str(root))


def test_mixed_sizes_need_size(image_folder):
    root = image_folder({"a": 3, "b": 3})
    from PIL import Image

    Image.new("RGB", (5, 5)).save(root / "b" / "0009.png")
    with pytest.raises(DataError, match=r"0009.png is 5x5 .*set data.size"):
        load(root=str(root))
    assert load(root=str(root), size=(4, 4)).input_shape == (3, 4, 4)


def test_split_leaving_a_class_without_test_samples(image_folder):
    root = image_folder({"a": 6, "b": 1})
    with pytest.raises(DataError, match="class 'b' with no test samples"):
        load(root=str(root))


def test_test_root_with_other_classes_and_bad_list(image_folder, tmp_path):
    train = image_folder({"a": 4, "b": 4})
    test = image_folder({"a": 2, "c": 2}, sub="test")
    with pytest.raises(DataError, match="different classes"):
        load(root=str(train), test_root=str(test))
    (tmp_path / "l.txt").write_text("a/0000.png\nz/9.png\n")
    with pytest.raises(DataError, match="line 2: 'z/9.png'"):
        load(root=str(train), split={"method": "lists", "train_list": str(tmp_path / "l.txt"),
                                     "test_list": str(tmp_path / "l.txt")})
