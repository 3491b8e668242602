"""Atomic writes: all or nothing, files and folders."""

import json

import pytest

from edgekd import atomic


def test_write_json_and_sha(tmp_path):
    path = atomic.write_json(tmp_path / "a" / "r.json", {"x": 1})
    assert json.loads(path.read_text()) == {"x": 1}
    assert len(atomic.sha256_of(path)) == 64
    assert atomic.size_of(path) == path.stat().st_size


def test_failure_leaves_old_file_and_no_temp(tmp_path):
    path = tmp_path / "model.bin"
    path.write_bytes(b"old")
    with pytest.raises(RuntimeError):
        with atomic.atomic_path(path) as tmp:
            tmp.write_bytes(b"half")
            raise RuntimeError("killed mid-write")
    assert path.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.bin"]


def test_folder_artifact_replaces_whole(tmp_path):
    final = tmp_path / "m.mlpackage"
    with atomic.atomic_path(final) as tmp:
        (tmp / "sub").mkdir(parents=True)
        (tmp / "sub" / "w.bin").write_bytes(b"1")
    first = atomic.sha256_of(final)
    with atomic.atomic_path(final) as tmp:
        tmp.mkdir()
        (tmp / "w2.bin").write_bytes(b"2")
    assert [p.name for p in final.rglob("*")] == ["w2.bin"]
    assert atomic.sha256_of(final) != first


def test_nothing_written_is_an_error(tmp_path):
    with pytest.raises(FileNotFoundError):
        with atomic.atomic_path(tmp_path / "x"):
            pass
    assert list(tmp_path.iterdir()) == []
