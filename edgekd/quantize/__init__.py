"""Post-training INT8: onnxruntime static (+ accuracy-aware loop), Intel Neural Compressor, AI Edge Quantizer."""

from __future__ import annotations

from typing import Any

_LAZY = {"quantize_onnx_static": "ort_static", "tune_onnx_int8": "inc_tune", "tune_onnx_inc": "inc_engine",
         "tune_tflite_int8": "tflite_selective"}
__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    # Lazy: `import edgekd.quantize` must not load onnxruntime or the quantizers.
    if name in _LAZY:
        from importlib import import_module

        return getattr(import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
