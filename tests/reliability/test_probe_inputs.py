"""Issue 17's probe table: inputs that ended in exit 1 (or ran forever) now exit 2 with one line.

Each row: the input, exit 2, one line naming the problem and the fix, nothing left in ``--out``.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
import torch

from edgekd import cli
from edgekd.config import MAX_SEED, load_config
from edgekd.data.bundle import DataBundle, Split
from edgekd.data.checks import check_bundle
from edgekd.errors import DataError

PROGRESS = re.compile(r"^\s*(\d+\.\d+s \w+|\w+ epoch \d+/\d+|note:)")
QUICK = ["--set", "bench.latency_mode=off", "--set", "distill.epochs=1", "--set", "teacher.epochs=1"]


def run_cli(capsys, argv: list[str]) -> tuple[int, str]:
    capsys.readouterr()
    with pytest.raises(SystemExit) as exc:
        cli.main(argv)
    return exc.value.code, capsys.readouterr().err


def one_line_error(code: int, err: str, *expect: str) -> str:
    """The single error line of an exit-2 run, checked to name every ``expect`` and a fix."""
    assert code == 2, err
    other = [line for line in err.splitlines() if line.strip() and not PROGRESS.match(line)]
    assert len(other) == 1 and "Traceback" not in err, err
    line = other[0]
    assert line.startswith("error: ") and " — fix: " in line, line
    for word in expect:
        assert word.lower() in line.lower(), line
    return line


def build_fails(capsys, tmp_path: Path, *args: str) -> str:
    out = tmp_path / "out"
    code, err = run_cli(capsys, ["build", *QUICK, *args, "--out", str(out)])
    assert not out.exists(), f"a refused build left {sorted(p.name for p in out.iterdir())}"
    return err if code == 2 else pytest.fail(f"exit {code}: {err}")


# -- seeds ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("seed", ["-1", "99999999999", "4294967296"])
def test_seed_outside_32_bits_exits_2_naming_the_range(seed, tmp_path, capsys):
    err = build_fails(capsys, tmp_path, "--set", f"seed={seed}")
    one_line_error(2, err, "seed", f"0..{MAX_SEED}", seed)


def test_seed_range_ends_are_valid():
    assert load_config(None, ["seed=0"]).seed == 0
    assert load_config(None, [f"seed={MAX_SEED}"]).seed == MAX_SEED


# -- npz splits: non-finite inputs, empty val, one sample per class --------------------------------
def npz(tmp_path: Path, **arrays) -> str:
    rng = np.random.default_rng(0)
    base = {"x_train": rng.normal(size=(20, 1, 4, 4)).astype(np.float32), "y_train": np.arange(20) % 2,
            "x_test": rng.normal(size=(6, 1, 4, 4)).astype(np.float32), "y_test": np.arange(6) % 2}
    base.update(arrays)
    path = tmp_path / "data.npz"
    np.savez(path, **base)
    return str(path)


def poisoned(split: str, value: float, n: int) -> dict:
    x = np.random.default_rng(1).normal(size=(n, 1, 4, 4)).astype(np.float32)
    x[1, 0, 2, 2] = value
    x[3, 0, 0, 0] = value
    extra = {"y_val": np.arange(n) % 2} if split == "val" else {}
    return {f"x_{split}": x, **extra}


@pytest.mark.parametrize("split,value,word", [("test", np.nan, "NaN"), ("train", np.inf, "+inf"),
                                              ("val", -np.inf, "-inf")])
def test_non_finite_npz_split_exits_2_naming_split_and_values(split, value, word, tmp_path, capsys):
    n = {"train": 20, "test": 6, "val": 6}[split]
    path = npz(tmp_path, **poisoned(split, value, n))
    err = build_fails(capsys, tmp_path, "--set", "data.kind=npz", "--set", f"data.path={path}")
    line = one_line_error(2, err, f"x_{split}", f"{split} split", f"2 {word}", "sample 1, 3")
    assert "nan_to_num" in line


def bundle(**overrides) -> DataBundle:
    def split(n: int) -> Split:
        return Split(torch.zeros(n, 1, 2, 2), torch.arange(n) % 2)
    parts = {"train": split(8), "val": split(4), "test": split(4), "representative": split(4), **overrides}
    return DataBundle(name="t", task="image", class_names=("a", "b"), input_shape=(1, 2, 2), **parts)


def test_every_kind_is_checked_for_non_finite_representative_inputs():
    x = torch.zeros(4, 1, 2, 2)
    x[2, 0, 1, 1] = float("nan")
    expected = r"representative split has non-finite inputs: 1 NaN in 1 of 4 samples \(sample 2\)"
    with pytest.raises(DataError, match=expected):
        check_bundle(bundle(representative=Split(x, torch.arange(4) % 2)), "folder")
    assert check_bundle(bundle(), "folder").name == "t"


@pytest.mark.parametrize("name", ["train", "val", "test", "representative"])
def test_every_kind_is_checked_for_empty_splits(name):
    with pytest.raises(DataError, match=f"the {name} split has 0 samples \\(needs at least 1\\)"):
        check_bundle(bundle(**{name: Split(torch.zeros(0, 1, 2, 2), torch.zeros(0, dtype=torch.long))}), "f")


def test_empty_npz_val_split_exits_2(tmp_path, capsys):
    path = npz(tmp_path, x_val=np.zeros((0, 1, 4, 4), np.float32), y_val=np.zeros(0, np.int64))
    err = build_fails(capsys, tmp_path, "--set", "data.kind=npz", "--set", f"data.path={path}")
    one_line_error(2, err, "x_val is empty", "val split needs at least 1 sample")


def test_one_sample_per_class_exits_2(tmp_path, capsys):
    path = npz(tmp_path, x_train=np.ones((2, 1, 4, 4), np.float32), y_train=np.array([0, 1]))
    err = build_fails(capsys, tmp_path, "--set", "data.kind=npz", "--set", f"data.path={path}")
    one_line_error(2, err, "val split", "at least 1 sample", "one train sample")


# -- deep nesting ------------------------------------------------------------------------------------
def test_check_on_deeply_nested_json_exits_2(tmp_path, capsys):
    path = tmp_path / "report.json"
    path.write_text("[" * 100_000 + "]" * 100_000)
    code, err = run_cli(capsys, ["check", str(path)])
    one_line_error(code, err, "nested too deeply")


def test_check_on_deep_but_parseable_report_exits_2(tmp_path, capsys):
    deep: list = []
    node = deep
    for _ in range(900):
        node.append([])
        node = node[0]
    path = tmp_path / "report.json"
    path.write_text(json.dumps({"models": deep, "budgets": [], "target": {"name": "host"}}))
    code, err = run_cli(capsys, ["check", str(path)])
    assert code == 2 and "Traceback" not in err, err


def test_deeply_nested_yaml_config_and_profile_exit_2(tmp_path, capsys):
    deep = tmp_path / "deep.yaml"
    deep.write_text("a: " + "[" * 5_000 + "]" * 5_000 + "\n")  # 5x Python's recursion limit
    err = build_fails(capsys, tmp_path, str(deep))
    one_line_error(2, err, "nested too deeply")
    err = build_fails(capsys, tmp_path, "--target", str(deep))
    one_line_error(2, err, "nested too deeply")
    err = build_fails(capsys, tmp_path, "--set", "student.options=" + "[" * 5_000 + "]" * 5_000)
    one_line_error(2, err, "nested too deeply")


# -- export.formats: [] ------------------------------------------------------------------------------
def test_empty_export_formats_exits_2(tmp_path, capsys):
    err = build_fails(capsys, tmp_path, "--set", "export.formats=[]")
    one_line_error(2, err, "export.formats", "no format to export", "unset (null)")


def test_null_export_formats_means_the_targets():
    assert load_config(None, ["export.formats=null"]).export.formats is None
    err = None
    try:
        load_config(None, ["export.formats=[onnx,onnx]"])
    except Exception as exc:  # noqa: BLE001 - the type is checked below
        err = exc
    assert err is not None and err.exit_code == 2 and "twice" in str(err)
