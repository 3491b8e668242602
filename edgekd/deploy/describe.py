"""``model.json``: what a device program needs to feed the bundle's model and read its answer.

Three parts, each from a real source: the tensors (read from the model file itself: names,
shapes, dtypes, layout, INT8 scale and zero point), the preprocessing (from the data section
of the config the model was trained with, machine-readable, next to the data room's own
description), and the figures the build measured and predicted for this model.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ..artifact import Artifact

SCHEMA = "edgekd-deploy/1"
_ONNX_TYPES = {1: "float32", 2: "uint8", 3: "int8", 6: "int32", 7: "int64", 10: "float16"}


def onnx_tensors(path: Path) -> tuple[list[dict], list[dict]]:
    """Inputs and outputs of an ONNX model (a symbolic batch is written as 1: the bundle runs one input)."""
    import onnx

    graph = onnx.load(str(path), load_external_data=False).graph
    constants = {init.name for init in graph.initializer}

    def one(value) -> dict[str, Any]:
        dims = [d.dim_value if d.HasField("dim_value") else 1 for d in value.type.tensor_type.shape.dim]
        return {"name": value.name, "shape": dims, "dtype": _ONNX_TYPES.get(value.type.tensor_type.elem_type, "?"),
                "layout": "NCHW" if len(dims) == 4 else None, "quantization": None}

    return [one(v) for v in graph.input if v.name not in constants], [one(v) for v in graph.output]


def tflite_tensors(path: Path, sample_shape: tuple[int, ...] | None = None) -> tuple[list[dict], list[dict]]:
    """Inputs and outputs of a ``.tflite``, with the scale and zero point of integer tensors (from the flatbuffer).

    Args:
        path: The ``.tflite`` file.
        sample_shape: The data's per-sample NCHW shape: a 4-D tensor whose shape is it moved
            channel-last is ``NHWC`` (edgekd's exports), one that equals it is ``NCHW``.
    """
    from ai_edge_litert import schema_py_generated as fb

    from ..predict.tflite_read import read_tflite

    graph = read_tflite(path)
    sub = fb.ModelT.InitFromPackedBuf(path.read_bytes(), 0).subgraphs[0]

    def one(index: int) -> dict[str, Any]:
        tensor = graph.tensors[index]
        quant = sub.tensors[index].quantization
        scales = list(quant.scale) if quant is not None and quant.scale is not None else []
        zero_points = list(quant.zeroPoint) if quant is not None and quant.zeroPoint is not None else []
        integer = tensor.dtype in ("INT8", "UINT8", "INT16")
        shape = list(tensor.shape or ())
        return {"name": tensor.name, "shape": shape, "dtype": tensor.dtype.lower(),
                "layout": _layout(shape, sample_shape),
                "quantization": {"scale": float(scales[0]), "zero_point": int(zero_points[0]),
                                 "formula": "q = round(x / scale) + zero_point; x = (q - zero_point) * scale"}
                if integer and len(scales) == 1 else None}

    return [one(i) for i in graph.inputs], [one(i) for i in graph.outputs]


def _layout(shape: list[int], sample: tuple[int, ...] | None) -> str | None:
    """NCHW or NHWC for a 4-D tensor (NCHW when the data's shape says so, as LiteRTRunner decides)."""
    if len(shape) != 4:
        return None
    if sample is not None and tuple(shape[1:]) == tuple(sample):
        return "NCHW"
    return "NHWC"


def coreml_tensors(path: Path) -> tuple[list[dict], list[dict]]:
    """Inputs and outputs of a Core ML package, from its spec (runs on Linux)."""
    from ..export.coreml import inspect_coreml

    info = inspect_coreml(path)
    inputs = [{**t, "layout": "NCHW" if len(t["shape"]) == 4 else None, "quantization": None} for t in info["inputs"]]
    outputs = [{**t, "quantization": None} for t in info["outputs"]]
    return inputs, outputs


def preprocessing(data_cfg: Any, data: Any, frontend: dict | None) -> dict[str, Any]:
    """Machine-readable preprocessing of the training data (what ``run.py`` applies), plus its description.

    Args:
        data_cfg: The config's data section (the source of the numbers).
        data: The loaded :class:`~edgekd.data.bundle.DataBundle` (input shape, description).
        frontend: For audio, ``{"in_graph": bool, "params": dict}`` (see :mod:`edgekd.deploy.audio`).
    """
    kind = data_cfg.kind
    # The data room's note on how a front end *can* go in a graph is not a claim about this bundle's
    # model: the boolean frontend_in_graph below is.
    description = {k: v for k, v in data.preprocessing.items() if k != "frontend_in_graph"}
    out: dict[str, Any] = {"input_shape": list(data.input_shape), "description": description}
    if kind == "image_folder":
        channels, height, width = data.input_shape
        # A size the student search chose differs from the files' own: the device resizes to it too.
        resized = data_cfg.size is not None or "search_resize" in data.preprocessing
        out.update(kind="image", color="RGB" if channels == 3 else "L", size=[height, width],
                   resize=resized, scale=1.0 / 255.0,
                   mean=list(data_cfg.mean or [0.0] * channels), std=list(data_cfg.std or [1.0] * channels),
                   layout="NCHW", formula="x = (pixel / 255 - mean) / std")
    elif kind == "audio_folder" and frontend is not None:
        out.update(kind="audio", sample_rate=data_cfg.sample_rate,
                   clip_samples=int(round(data_cfg.clip_seconds * data_cfg.sample_rate)),
                   clip_align=data_cfg.clip_align, mix_to_mono=data_cfg.mix_to_mono, resample=data_cfg.resample,
                   scale="int PCM / 2^(bits-1) (8-bit: (x - 128) / 128), float as stored",
                   frontend_in_graph=frontend["in_graph"], frontend=frontend["params"])
    else:
        out.update(kind="tensor", source=data.preprocessing.get("source", kind))
    return out


def figures(chosen: Artifact, accuracy_of: Artifact, budgets: list[dict], target: Any) -> dict[str, Any]:
    """The measured and predicted figures of the bundled model, and its budgets on the build's target."""
    from ..report.build_report import cpu_model
    from ..report.gate import peak_ram_bytes

    latency = chosen.metrics.get("latency_ms") or {}
    memory = chosen.metrics.get("memory") or {}
    accuracy = accuracy_of.metrics.get("accuracy") or {}
    return {
        "measured": {
            "accuracy": {**accuracy, "split": "test (held out from training and model selection)",
                         "model": accuracy_of.name},
            # the scalar metrics (ECE, NLL, Brier); the reliability bins stay in report.json
            "calibration": {k: v for k, v in (accuracy_of.metrics.get("calibration") or {}).items()
                            if not isinstance(v, (list, dict))} or None,
            "size_bytes": chosen.metrics.get("size_bytes"),
            "host_latency_ms": {**(latency.get("host") or {}), "cpu": cpu_model()} if latency.get("host") else None,
            "tflm_arena_bytes": memory.get("tflm_arena_bytes"),
        },
        "predicted": {
            "latency_ms": latency.get("predicted"),
            "weights_bytes": memory.get("weights_bytes"),
            "peak_activation_bytes": memory.get("peak_activation_bytes"),
            "peak_ram_bytes": peak_ram_bytes(chosen, target),
        },
        "budgets": [{k: b.get(k) for k in ("metric", "limit", "value", "passed")} for b in budgets],
        "passed": all(b["passed"] for b in budgets),
    }


def jsonable(value: Any) -> Any:
    """``value`` with numpy scalars and tuples turned into plain JSON types."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value
