"""The latency the gate would judge for an in-memory torch model: exported, quantized as the build ships it.

The search screens untrained candidates with it and the prune stage prunes to a latency target
with it, so both judge the figure the budget gate judges: the predicted upper bound on the build
target, at the precision the target runs (static INT8 with the build's own settings when it runs
INT8), costed on the ONNX graph with the runtime model of the format the build ships first.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..stage import BuildContext


def deploy_precision(ctx: BuildContext) -> str:
    """The precision the build would ship on the target (the gate judges that artifact)."""
    precisions = ctx.target.precisions
    if "int8" in precisions and ctx.config.quantize.enabled:
        return "int8"
    return "fp16" if "fp16" in precisions and "onnx" not in ctx.formats()[:1] else "fp32"


def deployed_graph(model, ctx: BuildContext, folder: Path, stem: str) -> tuple[Path, str, str]:
    """``model`` (eval mode) exported to ONNX and quantized as the build ships it: (graph, precision, format)."""
    from ..export.onnx import export_onnx

    data = ctx.data
    graph = export_onnx(model, data.input_shape, folder / f"{stem}.fp32.onnx", opset=ctx.config.export.opset)
    precision = deploy_precision(ctx)
    if precision == "int8":
        from ..quantize.first_conv import kept_float_nodes
        from ..quantize.ort_static import quantize_onnx_static

        qcfg = ctx.config.quantize
        graph = quantize_onnx_static(graph, folder / f"{stem}.int8.onnx", data.representative.x[:64].numpy(),
                                     method=qcfg.method, per_channel=qcfg.per_channel,
                                     nodes_to_exclude=kept_float_nodes(graph, ctx, ctx.formats()[0]))
    return Path(graph), precision, ctx.formats()[0]


def predicted_standin(model, ctx: BuildContext, folder: Path, stem: str) -> dict[str, Any]:
    """The same prediction on the float graph costed at the deployed precision (no quantization: ~50x faster).

    The device model and the roofline cost an INT8 network from its float graph as they cost the
    quantized one (the same layers at INT8 rates); measured on MobileNetV2-0.35 at 32x32 the two
    agree exactly on pixel-8 and raspberry-pi-4 and within 0.5% on stm32h743. Loops that try many
    variants (pruning steps) use it and confirm the last one with :func:`predicted_deployed`.
    """
    from ..export.onnx import export_onnx
    from .latency import FORMAT_RUNTIMES, predict_latency

    graph = export_onnx(model, ctx.data.input_shape, folder / f"{stem}.fp32.onnx", opset=ctx.config.export.opset)
    return predict_latency(graph, ctx.target, deploy_precision(ctx), runtime=FORMAT_RUNTIMES.get(ctx.formats()[0]))


def predicted_deployed(model, ctx: BuildContext, folder: Path, stem: str) -> tuple[dict[str, Any], Path, str, str]:
    """Predicted latency (``p50``, ``low``, ``high``, ``method``) of ``model`` as shipped, with its graph."""
    from .latency import FORMAT_RUNTIMES, predict_latency

    graph, precision, fmt = deployed_graph(model, ctx, folder, stem)
    return predict_latency(graph, ctx.target, precision, runtime=FORMAT_RUNTIMES.get(fmt)), graph, precision, fmt
