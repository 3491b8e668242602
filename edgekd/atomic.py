"""Atomic file writes: a reader sees the old file or the whole new one, never half.

Every artifact and report goes through these helpers, so a build that is killed
leaves only temporary names (``.*.tmp-*``) that never look complete.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, Iterator

from .errors import OutputDirError

TMP_MARK = ".tmp-"
# OS errors that mean "this place cannot take the file": the user's to fix (exit 2), not a bug.
_FULL = {errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)}
_READ_ONLY = {errno.EROFS}


@contextlib.contextmanager
def atomic_path(final: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``final``; rename it into place on success.

    Works for files and for directories (e.g. a Core ML ``.mlpackage``). On
    error the temporary is removed and ``final`` is left untouched.
    """
    final = Path(final)
    with _disk_errors(final):
        final.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}{TMP_MARK}", dir=final.parent))
    target = tmp / final.name
    try:
        with _disk_errors(final):
            yield target
            if not target.exists():
                raise FileNotFoundError(f"nothing was written to {target}")
            _fsync(target)
            if final.is_dir() and not final.is_symlink():
                shutil.rmtree(final)
            os.replace(target, final)
            _fsync_dir(final.parent)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


@contextlib.contextmanager
def _disk_errors(final: Path) -> Iterator[None]:
    """Turn a full or read-only disk into an :class:`OutputDirError` naming the file."""
    try:
        yield
    except OSError as exc:
        if exc.errno in _FULL:
            raise OutputDirError(f"disk full at {final}", fix="free space or pass --out elsewhere") from None
        if exc.errno in _READ_ONLY:
            raise OutputDirError(f"cannot write {final}: read-only file system",
                                 fix="pass --out a folder on a writable disk") from None
        raise


def write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically."""
    with atomic_path(path) as tmp:
        _write_file(tmp, data)
    return Path(path)


def _write_file(path: Path, data: bytes) -> None:
    # One seam for every byte edgekd writes itself (tests simulate a full disk here).
    with open(path, "wb") as handle:
        handle.write(data)


def write_text(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    return write_bytes(path, text.encode("utf-8"))


def write_json(path: str | os.PathLike, obj: Any) -> Path:
    """Write ``obj`` as indented JSON atomically."""
    return write_text(path, json.dumps(obj, indent=2, sort_keys=False, allow_nan=False) + "\n")


def sha256_of(path: str | os.PathLike) -> str:
    """SHA-256 of a file, or of a directory's files in sorted order."""
    path = Path(path)
    digest = hashlib.sha256()
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    for file in files:
        if path.is_dir():
            digest.update(str(file.relative_to(path)).encode())
        with open(file, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def size_of(path: str | os.PathLike) -> int:
    """Bytes of a file, or the total of a directory's files."""
    path = Path(path)
    if path.is_dir():
        return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    return path.stat().st_size


def _fsync(path: Path) -> None:
    files = [p for p in path.rglob("*") if p.is_file()] if path.is_dir() else [path]
    for file in files:
        with open(file, "rb") as handle:
            os.fsync(handle.fileno())


def fsync_dir(path: str | os.PathLike) -> None:
    """Flush a folder's entries (the renames into it) to disk; a no-op where folders cannot be opened."""
    _fsync_dir(Path(path))


def _fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
