"""edgekd: distil a teacher into a small student that is proven to fit an edge device.

``import edgekd`` is light: the API and every backend load on first use.
"""

from __future__ import annotations

import os
from typing import Any

# onnxruntime >= 1.29 sends usage telemetry from its Linux wheels (DNS lookups to Microsoft's
# collector after a session is created) unless this is set before its first session; a build must
# make no network access. A user who wants it can set ORT_DISABLE_TELEMETRY=0 themselves.
os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")

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
