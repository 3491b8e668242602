"""Cost tables of every network in the device table, cached: ONNX FP32 and QDQ INT8, costed once.

For each network key and precision the validation needs: export the torch build to ONNX
(``edgekd.export.onnx.export_onnx``; an existing export in ``benchmarks/work/devices/`` is
reused), for INT8 quantize it with onnxruntime static QDQ (``quantize_onnx_static``, 4 random
calibration inputs: the ranges are wrong for accuracy but the int8 graph is the one a real
calibration gives, which is what costing needs), read the ``OpCost`` rows with their layer
shapes (``edgekd.predict.layers.costs_with_shapes``) and store them as JSON in
``benchmarks/work/devices/costs/``. A graph with an uncostable node raises (no silent zeros).
Re-running skips what is cached; ``--only NAME`` limits the run::

    .venv/bin/python benchmarks/devices/costs.py                 # every (network, precision) needed
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from dataclasses import asdict
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from benchmarks.devices.export import OUT_DIR, artifact_stem  # noqa: E402

COST_DIR = OUT_DIR / "costs"
CALIBRATION_SAMPLES = 4


def cost_path(name: str, precision: str) -> Path:
    return COST_DIR / f"{artifact_stem(name)}-{precision}.json"


def needed(rows: list[dict]) -> list[tuple[str, str]]:
    """(network, graph precision) pairs the measurement rows need: int8 rows an INT8 graph, the rest FP32."""
    pairs = {(r["model"], "int8" if r["precision"] == "int8" else "fp32") for r in rows}
    return sorted(pairs, key=lambda p: (p[0], p[1]))


def _fp32_onnx(name: str) -> Path:
    from benchmarks.devices.networks import build
    from edgekd.export.onnx import export_onnx

    path = OUT_DIR / f"{artifact_stem(name)}.onnx"
    if not path.exists():
        module, shape = build(name)
        export_onnx(module, shape, path)
    return path


def _int8_onnx(name: str, fp32: Path) -> Path:
    import numpy as np
    import onnx

    from edgekd.quantize.ort_static import quantize_onnx_static

    path = OUT_DIR / f"{artifact_stem(name)}-int8-qdq.onnx"
    if not path.exists():
        model = onnx.load(str(fp32), load_external_data=False)
        dims = [d.dim_value or 1 for d in model.graph.input[0].type.tensor_type.shape.dim][1:]
        data = np.random.default_rng(0).standard_normal((CALIBRATION_SAMPLES, *dims)).astype(np.float32)
        quantize_onnx_static(fp32, path, data, per_channel=True)
    return path


def _row_dict(row) -> dict:
    out = asdict(row)
    out["shape"] = asdict(row.shape) if row.shape is not None else None
    return out


# Families whose graph does not depend on the input resolution (convolutions, then global pooling):
# one export serves every resolution, costed with the input's H and W set in the graph.
_RESOLUTION_FREE = re.compile(r"^(mobilenet_v[123]|mnasnet|resnet|squeezenet|inception_v1)")
_RESOLUTION = re.compile(r"_(\d+)(?=@|$)")


def graph_source(name: str) -> tuple[str, int | None]:
    """The network whose export ``name`` reuses, and the input size to set (None: its own export)."""
    match = _RESOLUTION.search(name)
    if not _RESOLUTION_FREE.match(name) or match is None:
        return name, None
    canonical = _RESOLUTION.sub("_224", name, count=1)
    return canonical, (int(match.group(1)) if canonical != name else None)


def _with_input_size(graph: Path, size: int):
    """The ONNX model of ``graph`` with its input's H and W set to ``size`` (shapes re-inferred when costed)."""
    import onnx

    model = onnx.load(str(graph), load_external_data=False)
    dims = model.graph.input[0].type.tensor_type.shape.dim
    for axis in (2, 3):
        dims[axis].Clear()
        dims[axis].dim_value = size
    return model


def cost_one(name: str, precision: str) -> Path:
    """Cost ``name`` at ``precision`` (export/quantize when needed); return the JSON path."""
    from edgekd.atomic import write_json
    from edgekd.predict.layers import costs_with_shapes

    out = cost_path(name, precision)
    if out.exists():
        return out
    source, size = graph_source(name)
    graph = _fp32_onnx(source)
    if precision == "int8":
        graph = _int8_onnx(source, graph)
    rows = costs_with_shapes(_with_input_size(graph, size) if size else graph)
    live = [r for r in rows if not r.folded]
    if any(r.op_class in ("conv", "pointwise", "depthwise", "grouped", "gemm") and not r.macs for r in live):
        raise RuntimeError(f"{name} {precision}: a conv/gemm node has 0 MACs")
    COST_DIR.mkdir(parents=True, exist_ok=True)
    write_json(out, {"network": name, "precision": precision, "graph": graph.name, "input_size": size,
                     "rows": [_row_dict(r) for r in rows]})
    return out


def load_rows(name: str, precision: str) -> list:
    """The cached ``OpCost`` rows (with ``LayerShape``) of ``name`` at ``precision``."""
    from edgekd.predict.graph import OpCost
    from edgekd.predict.layers import LayerShape

    data = json.loads(cost_path(name, precision).read_text())
    rows = []
    for raw in data["rows"]:
        shape = raw.pop("shape", None)
        raw = {k: v for k, v in raw.items() if k in OpCost.__dataclass_fields__}
        if shape is not None:
            shape = LayerShape(**{k: tuple(v) if isinstance(v, list) else v for k, v in shape.items()})
        rows.append(OpCost(**raw, shape=shape) if "shape" in OpCost.__dataclass_fields__ else OpCost(**raw))
    return rows


def main(argv: list[str] | None = None) -> int:
    """Command line: ``--only NAME`` (repeatable)."""
    import yaml

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", action="append")
    args = parser.parse_args(argv)
    rows = yaml.safe_load((Path(__file__).with_name("measurements.yaml")).read_text())["measurements"]
    pairs = [p for p in needed(rows) if not args.only or p[0] in args.only]
    failed = 0
    for name, precision in pairs:
        if cost_path(name, precision).exists():
            continue
        start = time.perf_counter()
        try:
            cost_one(name, precision)
            print(f"{name:45s} {precision}  ok {time.perf_counter() - start:7.1f} s", flush=True)
        except Exception as exc:  # keep going; report at the end
            failed += 1
            print(f"{name:45s} {precision}  FAILED {type(exc).__name__}: {str(exc).splitlines()[0][:200]}", flush=True)
    print(f"{len(pairs) - failed} cost tables ready, {failed} failed -> {COST_DIR}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
