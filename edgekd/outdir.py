"""The output folder: one build at a time (a lock), and never into a folder edgekd did not make.

**Lock.** ``DIR/.edgekd.lock`` holds the owner's pid, host and start time, and the owner
holds an exclusive ``flock`` on it for the whole build. The kernel drops that lock when
the process dies however it dies, so a lock file left by a killed build is *stale*: the
next build takes it over (and says so). A second build while the first runs gets
exit 2, "in use by pid N on HOST". Where ``flock`` is not supported (some network file
systems), the recorded pid is checked instead: a lock of this host whose process is gone
(or whose pid now belongs to a younger process) is stale; another host's lock is in use.

**Ownership.** A non-empty folder is edgekd's when it holds an edgekd ``manifest.json`` (a
finished build) or ``.edgekd-work/`` (a killed one). Otherwise ``--force`` is needed. Files
under ``DIR/artifacts/`` or ``DIR/deploy/`` that no manifest lists are the user's: a build (which
replaces those folders whole) refuses to delete them without ``--force``.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import errno
import json
import os
import socket
from pathlib import Path
from typing import Any

from .errors import OutputDirError
from .stage import WORK_DIR_NAME

# The folders a build replaces whole on promotion (see edgekd.promote).
REPLACED_DIRS = ("artifacts", "deploy")

LOCK_NAME = ".edgekd.lock"
# Staged manifests written during promotion: the new one and the one it replaces.
PROMOTE_DIR = "promote"
_OURS = {LOCK_NAME, WORK_DIR_NAME}


class BuildLock:
    """Exclusive use of one output folder by one build.

    Args:
        out: The output folder (must exist).
    """

    def __init__(self, out: Path) -> None:
        self.path = Path(out) / LOCK_NAME
        self._fd: int | None = None
        self.took_over: dict[str, Any] | None = None  # the stale owner replaced, if any

    def acquire(self) -> "BuildLock":
        """Take the lock (replacing a stale one).

        Raises:
            OutputDirError: another live build holds it.
        """
        for _attempt in range(5):
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                held = _try_flock(fd)
                previous = _read_owner(fd)
                if held is None:  # no flock here: judge the recorded owner instead
                    if previous and _owner_alive(previous):
                        raise _in_use(self.path.parent, previous)
                elif not held:
                    raise _in_use(self.path.parent, previous)
                if not _same_file(fd, self.path):
                    os.close(fd)  # the file was replaced between open and lock: try again
                    continue
            except BaseException:
                with contextlib.suppress(OSError):
                    os.close(fd)
                raise
            self._fd = fd
            self.took_over = previous or None
            _write_owner(fd)
            return self
        raise OutputDirError(f"cannot lock output folder {self.path.parent}: its lock file keeps changing",
                             fix="make sure no other program rewrites DIR/.edgekd.lock, then build again")

    def release(self) -> None:
        """Remove the lock file and drop the lock (idempotent)."""
        if self._fd is None:
            return
        # Unlink while still holding it: a build that opened the old file fails _same_file and retries.
        with contextlib.suppress(OSError):
            self.path.unlink()
        with contextlib.suppress(OSError):
            os.close(self._fd)
        self._fd = None

    def __enter__(self) -> "BuildLock":
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


def check_ours(out: Path, force: bool) -> None:
    """Refuse a non-empty folder edgekd did not make, and user files in ``artifacts/``, ``deploy/`` (unless ``force``).

    Raises:
        OutputDirError: naming the folder and one of the files, with ``--force`` as the fix.
    """
    if force or not out.is_dir():
        return
    entries = sorted(p.name for p in out.iterdir() if p.name not in _OURS)
    if not entries:
        return
    known = known_files(out)
    if known is None and not (out / WORK_DIR_NAME).is_dir():
        raise OutputDirError(f"output folder {out} is not empty ({len(entries)} entries, e.g. {entries[0]!r}) and was "
                             f"not written by edgekd (no edgekd manifest.json)",
                             fix="pass --out a new or empty folder, or add --force to write the build's files "
                                 "into it (other files are kept; artifacts/ and deploy/ are replaced)")
    for name in REPLACED_DIRS:
        folder = out / name
        if not folder.is_dir():
            continue
        listed = known or set()
        foreign = sorted(str(p.relative_to(out)) for p in folder.rglob("*") if p.is_file()
                         and str(p.relative_to(out)) not in listed)
        if foreign:
            raise OutputDirError(f"{folder} holds {len(foreign)} file(s) no edgekd manifest lists, e.g. "
                                 f"{foreign[0]!r}; a build replaces {name}/ whole",
                                 fix="move those files elsewhere, or add --force to let the build delete them")


def known_files(out: Path) -> set[str] | None:
    """Paths (relative to ``out``) that edgekd manifests list: the current one and any mid-promotion.

    Returns:
        The set, or None when ``out`` holds no edgekd manifest at all.
    """
    staged = out / WORK_DIR_NAME / PROMOTE_DIR
    manifests = [out / "manifest.json", staged / "manifest.json", staged / "old-manifest.json"]
    found: set[str] | None = None
    for path in manifests:
        files = read_manifest(path)
        if files is not None:
            found = (found or set()) | files
    return found


def read_manifest(path: Path) -> set[str] | None:
    """The file paths an edgekd ``manifest.json`` lists; None if ``path`` is absent or not edgekd's."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):
        return None
    if not isinstance(data, dict) or "edgekd_version" not in data or not isinstance(data.get("files"), list):
        return None
    return {f["path"] for f in data["files"] if isinstance(f, dict) and isinstance(f.get("path"), str)}


# -- lock internals -------------------------------------------------------------------------------
def _try_flock(fd: int) -> bool | None:
    """True: locked; False: another process holds it; None: this file system has no flock."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
            return False
        if exc.errno in (errno.ENOLCK, errno.EOPNOTSUPP, errno.EINVAL):
            return None
        raise
    return True


def _same_file(fd: int, path: Path) -> bool:
    try:
        on_disk = os.stat(path)
    except FileNotFoundError:
        return False
    mine = os.fstat(fd)
    return (mine.st_dev, mine.st_ino) == (on_disk.st_dev, on_disk.st_ino)


def _read_owner(fd: int) -> dict[str, Any]:
    try:
        os.lseek(fd, 0, os.SEEK_SET)
        data = json.loads(os.read(fd, 4096).decode("utf-8") or "{}")
    except (OSError, ValueError, UnicodeDecodeError):
        return {}
    return data if isinstance(data, dict) else {}


def _write_owner(fd: int) -> None:
    # Written in place, not through edgekd.atomic: a rename would give a new file that nobody holds locked.
    owner = {"pid": os.getpid(), "host": socket.gethostname(), "started": _process_start(os.getpid()),
             "since_utc": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")}
    os.ftruncate(fd, 0)
    os.lseek(fd, 0, os.SEEK_SET)
    os.write(fd, (json.dumps(owner) + "\n").encode("utf-8"))
    os.fsync(fd)


def _owner_alive(owner: dict[str, Any]) -> bool:
    """Whether a recorded owner may still run (another host's cannot be checked: assume it does)."""
    if owner.get("host") != socket.gethostname():
        return True
    pid = owner.get("pid")
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # alive, owned by another user
    started = owner.get("started")
    return started is None or _process_start(pid) in (None, started)  # a reused pid starts later


def _process_start(pid: int) -> int | None:
    """Start time of a process in clock ticks since boot (Linux), to tell a reused pid apart."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[-1].split()
    return int(fields[19]) if len(fields) > 19 else None


def _in_use(out: Path, owner: dict[str, Any]) -> OutputDirError:
    who = f"pid {owner.get('pid', '?')} on {owner.get('host', 'an unknown host')}"
    since = f", since {owner['since_utc']}" if owner.get("since_utc") else ""
    return OutputDirError(f"output folder {out} is in use by {who} (another edgekd build{since})",
                          fix="wait for that build to finish, or pass another --out")


def refuse_out_inside_data(out: Path, data: Any) -> None:
    """``--out`` must not lie inside a data folder: the next build would read it as a class folder.

    Raises:
        OutputDirError: ``out`` is ``data.root`` or ``data.test_root``, or under one of them.
    """
    target = out.resolve()
    for key in ("root", "test_root"):
        value = getattr(data, key, None)
        if not value:
            continue
        folder = Path(value).resolve()
        if target == folder or folder in target.parents:
            raise OutputDirError(f"--out {out} is inside data.{key} ({value}): the next build would read the build "
                                 "folder as data (a class folder of its own)",
                                 fix="put --out outside the data folders, e.g. --out runs/build")
