"""npz datasets, pattern rules, stratified carving and the section union."""

from __future__ import annotations

from typing import Annotated, Union

import numpy as np
import pytest
from pydantic import Field, TypeAdapter, ValidationError

from edgekd.data.npz import load_npz
from edgekd.data.schema import DATA_SECTIONS, ImageFolderData, NpzData, SplitSpec
from edgekd.data.splits import rule_matches, stratified_take
from edgekd.errors import DataError


def arrays(n_train=20, n_test=6, shape=(1, 4, 5), classes=2, seed=0):
    rng = np.random.default_rng(seed)
    return {"x_train": rng.normal(size=(n_train, *shape)).astype(np.float32),
            "y_train": np.arange(n_train) % classes, "x_test": rng.normal(size=(n_test, *shape)).astype(np.float32),
            "y_test": np.arange(n_test) % classes}


def test_npz_nchw_carves_val(tmp_path):
    np.savez(tmp_path / "d.npz", **arrays())
    bundle = load_npz(NpzData(path=str(tmp_path / "d.npz"), class_names=["cat", "dog"], representative_samples=5), 0)
    assert bundle.input_shape == (1, 4, 5) and bundle.class_names == ("cat", "dog")
    assert (len(bundle.train), len(bundle.val), len(bundle.test), len(bundle.representative)) == (18, 2, 6, 5)
    assert bundle.name == "d" and bundle.train.x.dtype.is_floating_point


def test_npz_nhwc_with_val(tmp_path):
    data = arrays(shape=(4, 5, 3), classes=3)
    data.update(x_val=np.zeros((3, 4, 5, 3), np.uint8), y_val=np.array([0, 1, 2]))
    np.savez(tmp_path / "d.npz", **data)
    bundle = load_npz(NpzData(path=str(tmp_path / "d.npz"), layout="NHWC"), 0)
    assert bundle.input_shape == (3, 4, 5) and len(bundle.val) == 3 and len(bundle.train) == 20
    assert np.allclose(bundle.test.x[0].numpy(), data["x_test"][0].transpose(2, 0, 1))
    assert bundle.class_names == ("0", "1", "2")


@pytest.mark.parametrize("case, expect", [
    ("missing_key", "lacks y_test"),
    ("count", "x_train has 20 samples but y_train has 19"),
    ("one_hot", "expected 1-D integer labels"),
    ("shape", "sample shapes differ"),
    ("ndim", "expected 4-D NCHW"),
    ("one_class", "at least 2"),
    ("no_test_class", "class '1' with no test samples"),
    ("not_npz", "not a readable .npz"),
    ("absent", "does not exist"),
])
def test_npz_errors(tmp_path, case, expect):
    data = arrays()
    if case == "missing_key":
        del data["y_test"]
    elif case == "count":
        data["y_train"] = data["y_train"][:19]
    elif case == "one_hot":
        data["y_train"] = np.eye(2)[data["y_train"]]
    elif case == "shape":
        data["x_test"] = np.zeros((6, 1, 4, 4), np.float32)
    elif case == "ndim":
        data["x_train"] = np.zeros((20, 20), np.float32)
    elif case == "one_class":
        data["y_train"][:] = 0
        data["y_test"][:] = 0
    elif case == "no_test_class":
        data["y_test"][:] = 0
    path = tmp_path / "d.npz"
    np.savez(path, **data)
    if case == "not_npz":
        path.write_bytes(b"garbage")
    elif case == "absent":
        path.unlink()
    with pytest.raises(DataError, match=expect) as err:
        load_npz(NpzData(path=str(path)), 0)
    assert err.value.exit_code == 2 and "d.npz" in str(err.value)


def test_pattern_rules():
    assert rule_matches("3", "0-4") and not rule_matches("5", "0-4") and not rule_matches("x", "0-4")
    assert rule_matches("theo", ["theo"]) and not rule_matches("theodore", ["theo"])
    assert rule_matches("7", "0-4,7") and rule_matches("12", [12]) and rule_matches("2", ["0-1", "2-3"])


def test_stratified_take_keeps_every_class_on_both_sides():
    labels = np.array([0] * 10 + [1] * 2 + [2])
    kept, taken = stratified_take(labels, np.arange(13), 0.2, np.random.default_rng(0))
    assert np.bincount(labels[taken], minlength=3).tolist() == [2, 1, 0]
    assert sorted(np.concatenate([kept, taken]).tolist()) == list(range(13))


def test_section_union_and_validation():
    union = TypeAdapter(Annotated[Union[DATA_SECTIONS], Field(discriminator="kind")])
    parsed = union.validate_python({"kind": "audio_folder", "root": "r", "layout": "flat"})
    assert type(parsed).__name__ == "AudioFolderData" and parsed.features.type == "logmel"
    assert union.validate_python({"kind": "digits"}).resolution == 16
    with pytest.raises(ValidationError, match="extra"):
        union.validate_python({"kind": "npz", "path": "p", "colour": 1})
    with pytest.raises(ValidationError, match="mean has 1 values but channels is 3"):
        ImageFolderData(root="r", mean=[0.5])
    with pytest.raises(ValidationError, match="needs field and test"):
        SplitSpec(method="pattern", field="index")
    with pytest.raises(ValidationError, match="needs train_list"):
        SplitSpec(method="lists", test_list="t.txt")
