"""Runners: one small interface (:class:`Runner`) over torch, onnxruntime and LiteRT.

``open_runner(path, fmt, threads)`` opens an exported artifact in the runtime it really
ships in. Backends are imported when a runner is opened, never on ``import edgekd``.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import BadInputError, ConfigError
from .base import CHUNK, Runner

__all__ = ["CHUNK", "CoreMLPredictionUnavailable", "Runner", "TorchRunner", "open_runner"]

FORMATS = ("onnx", "tflite", "coreml")


class CoreMLPredictionUnavailable(BadInputError):
    """Core ML models can be converted and inspected on Linux, but only run on macOS.

    A usage error (exit 2): the fix is to run the bench on a Mac or skip Core ML prediction.
    """


def open_runner(path: str | Path, fmt: str, threads: int = 1) -> Runner:
    """Open an exported model in its runtime.

    Args:
        path: The model file (``.onnx`` or ``.tflite``).
        fmt: ``"onnx"`` (onnxruntime) or ``"tflite"`` (LiteRT). ``"coreml"`` is known but
            cannot run here.
        threads: Intra-op threads for the runtime.

    Returns:
        A :class:`Runner`.

    Raises:
        CoreMLPredictionUnavailable: ``fmt == "coreml"`` (prediction needs macOS).
        ConfigError: Unknown format.
        ModelFileError: The file is missing, empty, truncated or corrupt.
    """
    fmt = str(fmt).lower()
    if fmt == "onnx":
        from .onnx_runner import OrtRunner

        return OrtRunner(path, threads)
    if fmt == "tflite":
        from .litert_runner import LiteRTRunner

        return LiteRTRunner(path, threads)
    if fmt == "coreml":
        raise CoreMLPredictionUnavailable(
            f"cannot run Core ML model {path}: Core ML prediction needs macOS (no Core ML runner on Linux)",
            fix="run the bench on a Mac, or check the Core ML spec (inputs, outputs, ops) instead")
    raise ConfigError(f"unknown model format {fmt!r} for {path}", fix=f"use one of {', '.join(FORMATS)}")


def __getattr__(name: str):
    # TorchRunner imports torch; keep `from edgekd.runtimes import open_runner` light.
    if name == "TorchRunner":
        from .torch_runner import TorchRunner

        return TorchRunner
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
