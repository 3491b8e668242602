"""Train/val/test index splits shared by every file-based dataset kind.

Everything here works on index arrays into one pool of samples, so the loaders decode
each file once and only then take the splits.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from ..errors import DataError
from .schema import PatternRule, SplitSpec

_RANGE = re.compile(r"^\s*(-?\d+)\s*-\s*(-?\d+)\s*$")


@dataclass(frozen=True)
class SplitIndices:
    """Sorted indices into the sample pool; ``test`` is empty when the test set is separate."""

    train: np.ndarray
    val: np.ndarray
    test: np.ndarray


def stratified_take(labels: np.ndarray, pool: np.ndarray, fraction: float,
                    rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Move ``fraction`` of each class of ``pool`` out, at random.

    Every class with at least two samples gives at least one and keeps at least one, so
    small classes are still represented on both sides (a class of one stays on the left).

    Returns:
        (kept, taken) sorted index arrays.
    """
    kept, taken = [], []
    for label in np.unique(labels[pool]):
        members = rng.permutation(pool[labels[pool] == label])
        n_take = int(round(len(members) * fraction))
        if len(members) >= 2:
            n_take = min(max(n_take, 1), len(members) - 1)
        else:
            n_take = 0
        taken.append(members[:n_take])
        kept.append(members[n_take:])
    return np.sort(np.concatenate(kept)), np.sort(np.concatenate(taken))


def split_pool(spec: SplitSpec, labels: np.ndarray, seed: int, *, separate_test: bool,
               paths: Sequence[str] | None = None, fields: Sequence[dict[str, str]] | None = None,
               root: str = "") -> SplitIndices:
    """Split one pool of samples by ``spec``.

    Args:
        spec: The ``split`` section.
        labels: Class index of every sample in the pool.
        seed: Seeds the ratio carves.
        separate_test: The test set comes from elsewhere (``test_root``, npz ``x_test``):
            the pool is only split into train and val.
        paths: Each sample's path relative to the root (``lists`` method).
        fields: Each sample's file-name fields (``pattern`` method).
        root: Shown in error messages.

    Raises:
        DataError: a list names an unknown file, or a pattern rule matches nothing.
    """
    rng = np.random.default_rng(seed)
    everything = np.arange(len(labels))
    empty = np.zeros(0, dtype=np.int64)
    if spec.method == "lists":
        assert paths is not None, "the lists method needs each sample's relative path"
        lookup = {p: i for i, p in enumerate(paths)}
        train = read_list(spec.train_list, lookup, root)
        test = empty if separate_test else read_list(spec.test_list, lookup, root)
        if spec.val_list:
            val = read_list(spec.val_list, lookup, root)
        else:
            train, val = stratified_take(labels, train, spec.val_fraction, rng)
        return SplitIndices(train, val, test)
    if spec.method == "pattern" and not separate_test:
        assert fields is not None, "the pattern method needs each sample's file-name fields"
        assert spec.field is not None and spec.test is not None  # the SplitSpec validator requires both
        values = [f[spec.field] for f in fields]
        test = _matching(values, spec.test, spec, "test")
        rest = np.setdiff1d(everything, test)
        if spec.val is not None:
            val = _matching(values, spec.val, spec, "val")
            return SplitIndices(np.setdiff1d(rest, val), np.setdiff1d(val, test), test)
        train, val = stratified_take(labels, rest, spec.val_fraction, rng)
        return SplitIndices(train, val, test)
    if separate_test:
        train, val = stratified_take(labels, everything, spec.val_fraction, rng)
        return SplitIndices(train, val, empty)
    rest, test = stratified_take(labels, everything, spec.test_fraction, rng)
    # val_fraction is of the whole set, as in the digits kind, so carve its share of the rest.
    train, val = stratified_take(labels, rest, spec.val_fraction / (1.0 - spec.test_fraction), rng)
    return SplitIndices(train, val, test)


def read_list(list_path: str | None, lookup: dict[str, int], root: str) -> np.ndarray:
    """Indices of the files a list names (one relative path per line; blank lines and ``#`` skipped)."""
    path = Path(str(list_path))
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"split list {path} cannot be read ({exc.__class__.__name__})",
                        fix="set data.split.*_list to a UTF-8 text file of relative paths, one per line") from None
    found = []
    for number, line in enumerate(lines, 1):
        entry = line.strip()
        if not entry or entry.startswith("#"):
            continue
        key = Path(entry).as_posix().removeprefix("./")
        if key not in lookup:
            raise DataError(f"split list {path} line {number}: {entry!r} is not a data file under {root}",
                            fix="write paths relative to the data root, e.g. cat/0001.jpg")
        found.append(lookup[key])
    return np.unique(np.asarray(found, dtype=np.int64))


def _rule_items(rule: PatternRule) -> list[str]:
    items = rule if isinstance(rule, list) else [rule]
    out: list[str] = []
    for item in items:
        text = str(item)
        # "0-4,7" is a list written as one string.
        out.extend(part.strip() for part in text.split(",") if part.strip())
    return out


def rule_matches(value: str, rule: PatternRule) -> bool:
    """Whether a file-name field value falls under a pattern rule (value, ``a-b`` range, or list)."""
    for item in _rule_items(rule):
        span = _RANGE.match(item)
        if span and re.fullmatch(r"-?\d+", value):
            if int(span.group(1)) <= int(value) <= int(span.group(2)):
                return True
        elif value == item:
            return True
    return False


def _matching(values: list[str], rule: PatternRule, spec: SplitSpec, which: str) -> np.ndarray:
    idx = np.asarray([i for i, v in enumerate(values) if rule_matches(v, rule)], dtype=np.int64)
    if len(idx) == 0:
        seen = sorted(set(values))
        shown = ", ".join(seen[:8]) + (" …" if len(seen) > 8 else "")
        raise DataError(f"split rule {which}={rule!r} on field {spec.field!r} matches no file "
                        f"(values found: {shown})", fix=f"set data.split.{which} to values that occur")
    return idx


def check_covers_classes(labels: np.ndarray, idx: np.ndarray, split: str, class_names: Sequence[str],
                         where: str) -> None:
    """Fail when a class has no samples in ``split`` (its accuracy could not be measured).

    Args:
        labels: Labels of the pool ``idx`` indexes.
        idx: The split's indices into the pool.
        split: ``train`` or ``test`` (for the message).
        class_names: Every class.
        where: The data root or file (for the message).

    Raises:
        DataError: naming the first class that is missing.
    """
    present = set(np.unique(labels[idx]).tolist()) if len(idx) else set()
    for label, name in enumerate(class_names):
        if label not in present:
            total = int((labels == label).sum())
            raise DataError(f"{where}: the split leaves class {name!r} with no {split} samples "
                            f"({total} of its samples in this set, {len(idx)} {split} samples in all)",
                            fix="add samples of that class or change data.split (fractions, lists or rule)")


def representative_indices(train: np.ndarray, count: int, seed: int) -> np.ndarray:
    """A seeded random subset of train: INT8's representative samples (all of train when it is smaller)."""
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(train, size=min(count, len(train)), replace=False))
