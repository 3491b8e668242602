"""Every config key with its type, default and description, read from the pydantic models themselves.

``edgekd config show [SECTION] [--json]`` prints this. The tagged unions (``data.kind``,
``teacher.kind``) are expanded: each kind is its own section (``data.image_folder``,
``teacher.onnx``, ...) with the keys that kind takes. Nothing here is written by hand, so the
listing cannot drift from what the config accepts.
"""

from __future__ import annotations

import types
import typing
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from .errors import ConfigError


def config_sections(only: str | None = None) -> list[dict[str, Any]]:
    """The config as sections of keys.

    Args:
        only: A section (``distill``), a kind of a tagged section (``data.image_folder``) or a
            tagged section with all its kinds (``data``); ``None`` for everything.

    Returns:
        ``[{"section", "kind", "description", "keys": [{"key", "type", "default", "description"}]}]``;
        ``kind`` is the tag value for the kinds of ``data`` and ``teacher``, else ``None``.

    Raises:
        ConfigError: ``only`` names no section (the message lists them).
    """
    from .config import BuildConfig

    top_keys: list[dict[str, Any]] = []
    sections: list[dict[str, Any]] = [{"section": "(top level)", "kind": None, "description": _doc(BuildConfig),
                                       "keys": top_keys}]
    for name, field in BuildConfig.model_fields.items():
        members = _models_in(field.annotation)
        if not members:
            top_keys.append(_key(name, field))
            continue
        tagged = len(members) > 1
        for model in members:
            kind = model.model_fields["kind"].default if tagged else None
            sections.append({"section": f"{name}.{kind}" if tagged else name, "kind": kind,
                             "description": _doc(model), "keys": _keys(model, name)})
    if only is None:
        return sections
    chosen = [s for s in sections if s["section"] == only or s["section"].startswith(only + ".")]
    if not chosen:
        names = ", ".join(s["section"] for s in sections[1:])
        raise ConfigError(f"no config section {only!r}", fix=f"use one of: {names}")
    return chosen


def _keys(model: type[BaseModel], prefix: str) -> list[dict[str, Any]]:
    """Every leaf key of ``model`` (nested sections flattened to dotted keys)."""
    out = []
    for name, field in model.model_fields.items():
        nested = _models_in(field.annotation)
        if len(nested) == 1 and isinstance(field.annotation, type) and issubclass(field.annotation, BaseModel):
            out += _keys(nested[0], f"{prefix}.{name}")
        else:
            out.append(_key(f"{prefix}.{name}", field))
    return out


def _key(key: str, field: FieldInfo) -> dict[str, Any]:
    return {"key": key, "type": type_name(field.annotation) + _bounds(field), "default": _default(field),
            "description": field.description or ""}


def _doc(model: type) -> str:
    """The class docstring as one paragraph."""
    return " ".join((model.__doc__ or "").split())


def _default(field: FieldInfo) -> Any:
    if field.default_factory is not None:
        value = field.default_factory()  # type: ignore[call-arg]
    elif field.default is PydanticUndefined:
        return "(required)"
    else:
        value = field.default
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    return str(value) if isinstance(value, Path) else value


def _bounds(field: FieldInfo) -> str:
    """Numeric constraints of a field, e.g. ``, >= 1`` or ``, > 0 and <= 100``."""
    parts = []
    for meta in field.metadata:
        for attr, sign in (("gt", ">"), ("ge", ">="), ("lt", "<"), ("le", "<=")):
            value = getattr(meta, attr, None)
            if value is not None:
                parts.append(f"{sign} {value}")
    return f", {' and '.join(parts)}" if parts else ""


def type_name(annotation: Any) -> str:
    """A readable type: ``int``, ``'auto' | int``, ``list['onnx' | 'tflite'] | null``, ``path``."""
    if annotation is None or annotation is type(None):
        return "null"
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Annotated:
        inner = type_name(args[0])
        bounds = _bounds(FieldInfo.from_annotation(annotation))
        return f"{inner} ({bounds[2:]})" if bounds else inner
    if origin is typing.Literal:
        return " | ".join(repr(a) for a in args)
    if origin in (typing.Union, types.UnionType):
        return " | ".join(type_name(a) for a in args)
    if origin in (list, tuple, dict):
        inner = ", ".join("..." if a is Ellipsis else type_name(a) for a in args)
        return f"{origin.__name__}[{inner}]"
    if isinstance(annotation, type):
        if issubclass(annotation, Path):
            return "path"
        return "any" if annotation is object else annotation.__name__
    return "any" if annotation is Any else str(annotation).replace("typing.", "")


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    """The config sections an annotation holds (one, or the members of a tagged union)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    found: list[type[BaseModel]] = []
    for arg in typing.get_args(annotation):
        found += _models_in(arg)
    return found
