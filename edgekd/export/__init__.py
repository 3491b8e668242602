"""Exporters: ONNX, TFLite (litert-torch) and Core ML (coremltools). Backends load lazily."""

from __future__ import annotations

from typing import Any

_LAZY = {"export_onnx": "onnx", "export_tflite": "tflite", "export_coreml": "coreml", "inspect_coreml": "coreml"}
__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    # Lazy: `import edgekd.export` must not load torch, litert-torch or coremltools.
    if name in _LAZY:
        from importlib import import_module

        return getattr(import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
