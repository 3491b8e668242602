"""Finding data files: class folders, file-name patterns, and the errors users can fix."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

from ..errors import DataError

_DIGITS = re.compile(r"(\d+)")


def natural_key(text: str) -> tuple:
    """Sort key that orders ``x_2`` before ``x_10`` (so ``limit_per_class`` takes 0, 1, 2 …)."""
    return tuple(int(part) if part.isdigit() else part for part in _DIGITS.split(text))


def require_dir(root: str | Path, key: str) -> Path:
    """The folder ``root`` or a DataError naming the config key that set it."""
    path = Path(root).expanduser()
    if not path.is_dir():
        what = "is a file, not a folder" if path.exists() else "does not exist"
        raise DataError(f"data folder {path} {what}", fix=f"set {key} to an existing folder")
    return path


def require_two_classes(class_names: Sequence[str], where: str) -> None:
    """Classification needs at least two classes."""
    if len(class_names) < 2:
        found = ", ".join(class_names) or "none"
        raise DataError(f"{where}: found {len(class_names)} class ({found}); a classifier needs at least 2",
                        fix="add a folder (or labelled files) for every class")


@dataclass
class FileList:
    """Files of a dataset with their labels and (for flat layouts) file-name fields."""

    class_names: tuple[str, ...]
    files: list[Path]
    labels: list[int]
    rel_paths: list[str]
    fields: list[dict[str, str]] = field(default_factory=list)


def scan_class_folders(root: Path, extensions: tuple[str, ...], limit: int | None, key: str,
                       expected: Sequence[str] | None = None) -> FileList:
    """``root/{class}/*.{ext}`` in ImageFolder order (sorted class names, natural file order).

    Args:
        root: The folder of class folders.
        extensions: Lower-case suffixes that count as data files (``.jpg`` …).
        limit: Take at most this many files per class (the first in natural order).
        key: The config key that names ``root`` (for messages).
        expected: Class names the folder must have (a test folder must match train).

    Raises:
        DataError: no class folders, an empty class folder, or classes that differ from ``expected``.
    """
    classes = sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not classes:
        raise DataError(f"{root} has no class folders", fix=f"put one folder per class under {key}, "
                        f"e.g. {root}/cat/0001{extensions[0]}")
    if expected is not None and list(classes) != list(expected):
        missing = sorted(set(expected) - set(classes))
        extra = sorted(set(classes) - set(expected))
        raise DataError(f"{root} has different classes from the train folder (missing: {missing}, extra: {extra})",
                        fix=f"make {key} hold the same class folders as the train root")
    files: list[Path] = []
    labels: list[int] = []
    for label, name in enumerate(classes):
        found = sorted((p for p in (root / name).iterdir() if p.is_file() and p.suffix.lower() in extensions
                        and not p.name.startswith(".")), key=lambda p: natural_key(p.name))
        if not found:
            raise DataError(f"class folder {root / name} has no {'/'.join(extensions)} files",
                            fix="add files to it or remove the folder")
        found = found[:limit] if limit else found
        files.extend(found)
        labels.extend([label] * len(found))
    rel = [p.relative_to(root).as_posix() for p in files]
    return FileList(tuple(classes), files, labels, rel)


def compile_pattern(pattern: str) -> tuple[re.Pattern, list[str]]:
    """``"{label}_{speaker}_{index}.wav"`` → a regex with one named group per field."""
    names = re.findall(r"{(\w+)}", pattern)
    if len(names) != len(set(names)):
        raise DataError(f"label_pattern {pattern!r} repeats a field", fix="name each {field} once")
    regex = ""
    for literal, name in re.findall(r"([^{]*)(?:{(\w+)})?", pattern):
        regex += re.escape(literal)
        if name:
            # Non-greedy, no path separator: '{label}_{speaker}' splits at the first '_'.
            regex += f"(?P<{name}>[^/]+?)"
    return re.compile(regex, re.IGNORECASE), names


def scan_flat(root: Path, pattern: str, extensions: tuple[str, ...], limit: int | None) -> FileList:
    """Files directly under ``root`` whose names give their label via ``pattern``.

    Labels are sorted numerically when every label is an integer, else alphabetically.

    Raises:
        DataError: no files, or a file name that does not match the pattern (named).
    """
    regex, _ = compile_pattern(pattern)
    paths = sorted((p for p in root.iterdir() if p.is_file() and p.suffix.lower() in extensions
                    and not p.name.startswith(".")), key=lambda p: natural_key(p.name))
    if not paths:
        raise DataError(f"{root} has no {'/'.join(extensions)} files", fix="point data.root at the recordings")
    parsed: list[dict[str, str]] = []
    for path in paths:
        match = regex.fullmatch(path.name)
        if match is None:
            raise DataError(f"file name {path} does not match label_pattern {pattern!r}",
                            fix="rename or remove the file, or set data.label_pattern to match every name")
        parsed.append(match.groupdict())
    names = sorted({f["label"] for f in parsed},
                   key=lambda v: (0, int(v), "") if re.fullmatch(r"-?\d+", v) else (1, 0, v))
    index = {name: i for i, name in enumerate(names)}
    per_class: dict[int, int] = {}
    out = FileList(tuple(names), [], [], [], [])
    for path, fields in zip(paths, parsed):
        label = index[fields["label"]]
        if limit and per_class.get(label, 0) >= limit:
            continue
        per_class[label] = per_class.get(label, 0) + 1
        out.files.append(path)
        out.labels.append(label)
        out.rel_paths.append(path.name)
        out.fields.append(fields)
    return out
