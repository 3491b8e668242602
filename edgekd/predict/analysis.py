"""The ONNX graph each artifact is analysed on (for predicted latency and memory).

Prediction and the activation arena are computed on an ONNX graph of the same network
at the same precision: the artifact itself when it is ONNX, otherwise an analysis-only
export kept in the work folder (never shipped as an artifact), quantized with the build's
own INT8 settings. A black-box teacher (a model in another runtime) is never exported:
it has no torch graph to export.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from ..artifact import Artifact, torch_ancestor


def graph_for(art: Artifact, artifacts: Sequence[Artifact], ctx) -> Path | None:
    """Path of an ONNX graph equivalent to ``art`` (same network, same precision), or None."""
    if art.format == "onnx":
        return ctx.resolve(art.path)
    same_net = [a for a in artifacts if a.format == "onnx" and a.precision == art.precision
                and torch_ancestor(a, artifacts) == torch_ancestor(art, artifacts)]
    if same_net:
        return ctx.resolve(same_net[0].path)
    return _analysis_export(art, artifacts, ctx)


def _analysis_export(art: Artifact, artifacts: Sequence[Artifact], ctx) -> Path | None:
    from ..export.onnx import export_onnx
    from ..teachers.blackbox import is_black_box

    by_name = {a.name: a for a in artifacts}
    torch_art = by_name.get(torch_ancestor(art, artifacts))
    if torch_art is None or torch_art.format != "torch" or torch_art.model is None or is_black_box(torch_art.model):
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
        from ..quantize.first_conv import kept_float_nodes
        from ..quantize.ort_static import quantize_onnx_static

        qcfg = ctx.config.quantize
        quantize_onnx_static(fp32, int8, ctx.data.representative.x.numpy(), method=qcfg.method,
                             per_channel=qcfg.per_channel, nodes_to_exclude=kept_float_nodes(fp32, ctx, art.format))
    return int8
