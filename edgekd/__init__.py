"""edgekd: distil a teacher into a small student that is proven to fit an edge device.

``import edgekd`` is light: the API and every backend load on first use.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"
__all__ = ["build", "check", "profile", "BuildResult", "load_config", "load_target", "list_targets", "__version__"]


def __getattr__(name: str) -> Any:
    if name in {"build", "check", "profile", "BuildResult", "list_targets", "load_target"}:
        from . import api

        return getattr(api, name)
    if name == "load_config":
        from .config import load_config

        return load_config
    raise AttributeError(f"module 'edgekd' has no attribute {name!r}")
