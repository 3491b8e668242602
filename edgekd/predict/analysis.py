"""The ONNX graph each artifact is analysed on (for predicted latency and memory).

Prediction and the activation arena are computed on an ONNX graph of the same network
at the same precision: the artifact itself when it is ONNX, otherwise an analysis-only
export kept in the work folder (never shipped as an artifact).
"""

from __future__ import annotations

from pathlib import Path

from ..artifact import Artifact


def graph_for(art: Artifact, artifacts: list[Artifact], ctx) -> Path | None:
    """Path of an ONNX graph equivalent to ``art`` (same network, same precision)."""
    if art.format == "onnx":
        return ctx.resolve(art.path)
    same_net = [a for a in artifacts if a.format == "onnx" and a.precision == art.precision
                and _network(a, artifacts) == _network(art, artifacts)]
    if same_net:
        return ctx.resolve(same_net[0].path)
    return _analysis_export(art, artifacts, ctx)


def torch_ancestor(art: Artifact, artifacts: list[Artifact]) -> str:
    """Name of the torch model an artifact derives from (follows ``parent``)."""
    return _network(art, artifacts)


def _network(art: Artifact, artifacts: list[Artifact]) -> str:
    """Name of the torch model an artifact derives from (follows ``parent``)."""
    by_name = {a.name: a for a in artifacts}
    while art.format != "torch" and art.parent in by_name:
        art = by_name[art.parent]
    return art.name


def _analysis_export(art: Artifact, artifacts: list[Artifact], ctx) -> Path | None:
    from ..export.onnx import export_onnx

    by_name = {a.name: a for a in artifacts}
    torch_art = by_name.get(_network(art, artifacts))
    if torch_art is None or torch_art.model is None:
        return None
    folder = ctx.work_dir / "graphs"
    fp32 = folder / f"{torch_art.name}-fp32.onnx"
    if not fp32.exists():
        from ..errors import ConversionError

        try:
            export_onnx(torch_art.model, torch_art.input_shape, fp32, opset=ctx.config.export.opset)
        except ConversionError:  # already reported by the export stage when ONNX was asked for
            return None
    if art.precision != "int8":
        return fp32
    int8 = folder / f"{torch_art.name}-int8.onnx"
    if not int8.exists():
        from ..quantize.ort_static import quantize_onnx_static

        quantize_onnx_static(fp32, int8, ctx.data.calibration.x.numpy(), method=ctx.config.quantize.method)
    return int8
