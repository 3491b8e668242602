"""The one student registry: builders register by name, ``build_student`` validates and builds.

A builder is a function ``fn(num_classes, input_shape, *, opt=default, ...) -> nn.Module``; its
keyword-only parameters *are* its options (names, defaults and types), so an option cannot be
documented in one place and accepted in another. Values are type-checked here against the
default's type; range checks (``width > 0``...) live in the builder via :func:`check_option`.
"""

from __future__ import annotations

import difflib
import inspect
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from torch import nn

from ..errors import ConfigError

TASKS = ("image", "audio", "any")

Builder = Callable[..., nn.Module]


@dataclass(frozen=True)
class StudentInfo:
    """What ``edgekd students list`` shows about one registered student.

    Attributes:
        name: Registry name, e.g. ``mobilenetv2``.
        task: ``image``, ``audio`` or ``any`` (works on images and spectrograms alike).
        description: One line for humans.
        defaults: Every option with its default value (the builder's).
        build_defaults: The options a build uses when ``student.options`` does not set them
            (sized for edge builds, e.g. ``mobilenetv2`` at width 0.35); the rest take ``defaults``.
    """

    name: str
    task: str
    description: str
    defaults: dict[str, Any] = field(default_factory=dict)
    build_defaults: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-friendly copy."""
        return {"name": self.name, "task": self.task, "description": self.description,
                "defaults": dict(self.defaults), "build_defaults": dict(self.build_defaults)}


_REGISTRY: dict[str, tuple[StudentInfo, Builder]] = {}


def register_student(name: str, task: str, description: str,
                     build_defaults: dict[str, Any] | None = None) -> Callable[[Builder], Builder]:
    """Decorator that registers a student builder under ``name``.

    Args:
        name: Registry name (lowercase, hyphens).
        task: ``image``, ``audio`` or ``any``.
        description: One line shown by ``edgekd students list``.
        build_defaults: Options a build uses unless ``student.options`` sets them (see
            :func:`build_options`); each must be one of the builder's options.

    Returns:
        The decorator; it returns the builder unchanged.

    Raises:
        ValueError: On a duplicate name, an unknown task, or an option without a default
            (programming errors, not user input).
    """
    if task not in TASKS:
        raise ValueError(f"task must be one of {TASKS}, got {task!r}")

    def decorator(fn: Builder) -> Builder:
        if name in _REGISTRY:
            raise ValueError(f"student {name!r} is already registered")
        defaults = {}
        for p in inspect.signature(fn).parameters.values():
            if p.kind is not inspect.Parameter.KEYWORD_ONLY:
                continue
            if p.default is inspect.Parameter.empty:
                raise ValueError(f"option {p.name!r} of student {name!r} needs a default")
            defaults[p.name] = p.default
        unknown = set(build_defaults or {}) - set(defaults)
        if unknown:
            raise ValueError(f"build_defaults of student {name!r} name unknown options {sorted(unknown)}")
        _REGISTRY[name] = (StudentInfo(name, task, description, defaults, dict(build_defaults or {})), fn)
        return fn

    return decorator


def build_options(name: str, options: dict[str, Any] | None) -> dict[str, Any]:
    """The options a build passes to :func:`build_student`: the student's build defaults, then ``options``.

    Raises:
        ConfigError: Unknown student.
    """
    info, _fn = _lookup(name)
    return {**info.build_defaults, **(options or {})}


def list_students() -> list[StudentInfo]:
    """Every registered student, sorted by name."""
    return [info for _, (info, _fn) in sorted(_REGISTRY.items())]


def build_student(name: str, num_classes: int, input_shape: Sequence[int], **options: Any) -> nn.Module:
    """Build a registered student for one task shape.

    Args:
        name: Registry name (see :func:`list_students`).
        num_classes: Number of output logits (>= 1).
        input_shape: ``(C, H, W)``, channels first, without the batch dimension.
        **options: Student options; unspecified ones take their defaults.

    Returns:
        A freshly initialised ``nn.Module`` in training mode mapping ``(N, C, H, W)`` to
        ``(N, num_classes)`` logits, with a ``feature_layers()`` method.

    Raises:
        ConfigError: Unknown student or option, an option value of the wrong type or out of
            range, or an invalid ``num_classes`` / ``input_shape``.
    """
    info, fn = _lookup(name)
    if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 1:
        raise ConfigError(f"student {name!r}: num_classes must be a positive integer, got {num_classes!r}",
                          fix="pass the number of classes in the dataset")
    shape = tuple(input_shape) if isinstance(input_shape, Sequence) else ()
    if len(shape) != 3 or any(isinstance(s, bool) or not isinstance(s, int) or s < 1 for s in shape):
        raise ConfigError(f"student {name!r}: input_shape must be (C, H, W) positive integers, got {input_shape!r}",
                          fix="pass the channels-first shape of one sample, e.g. (3, 32, 32)")
    check_student_config(name, options)
    values = {**info.defaults, **{key: _coerce(name, key, value, info.defaults[key]) for key, value in options.items()}}
    return fn(num_classes, shape, **values)


def check_student_config(name: str, options: dict[str, Any]) -> None:
    """Check ``student.name`` and the option names and types before a build spends time on its teacher.

    Value ranges are the builder's to check (they may depend on the data's shape).

    Raises:
        ConfigError: Unknown student or option, or an option value of the wrong type.
    """
    info, _fn = _lookup(name)
    for key, value in (options or {}).items():
        if key not in info.defaults:
            allowed = ", ".join(sorted(info.defaults)) or "(none)"
            raise ConfigError(f"student {name!r} has no option {key!r}{_did_you_mean(key, info.defaults)}",
                              fix=f"use one of: {allowed}")
        _coerce(name, key, value, info.defaults[key])


def check_option(student: str, option: str, value: Any, ok: bool, expected: str) -> None:
    """Raise a one-line ConfigError when a builder's range check fails.

    Args:
        student: Student name, for the message.
        option: Option name.
        value: The value given.
        ok: The result of the check; nothing happens when true.
        expected: What a valid value looks like, e.g. ``"a number > 0"``.

    Raises:
        ConfigError: When ``ok`` is false.
    """
    if not ok:
        raise ConfigError(f"student {student!r}: {option}={value!r} is invalid, expected {expected}",
                          fix=f"set {option} to {expected}")


def _lookup(name: str) -> tuple[StudentInfo, Builder]:
    if name in _REGISTRY:
        return _REGISTRY[name]
    names = sorted(_REGISTRY)
    raise ConfigError(f"unknown student {name!r}{_did_you_mean(str(name), names)}",
                      fix=f"use one of: {', '.join(names)} (see `edgekd students list`)")


def _did_you_mean(word: str, choices) -> str:
    # Compare case-insensitively without separators so "MobileNet_V2" still finds "mobilenetv2".
    def norm(s: str) -> str:
        return s.lower().replace("_", "").replace("-", "")

    by_norm = {norm(c): c for c in choices}
    key = norm(word)
    # A family prefix ("mobilenet_v3") names every member; difflib alone would pick "mobilenetv2".
    matches = sorted(n for n in by_norm if key and n.startswith(key) and n != key)
    matches = matches or difflib.get_close_matches(key, list(by_norm), n=1, cutoff=0.6)
    return f" (did you mean {' or '.join(repr(by_norm[m]) for m in matches)}?)" if matches else ""


def _coerce(student: str, key: str, value: Any, default: Any) -> Any:
    """Check ``value`` against the type of the option's default (ints are fine for floats)."""
    if isinstance(default, bool):
        check_option(student, key, value, isinstance(value, bool), "true or false")
        return value
    if isinstance(default, float):
        ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
        check_option(student, key, value, ok, "a number")
        return float(value)
    if isinstance(default, int):
        check_option(student, key, value, isinstance(value, int) and not isinstance(value, bool), "an integer")
        return value
    if isinstance(default, str):
        check_option(student, key, value, isinstance(value, str), "a string")
        return value
    return value
