"""``quantize.float_first_conv``: whether every INT8 model keeps its first conv in float.

Why it matters: integer conv kernels pad each kernel tap's input channels up to their reduction
tile (XNNPACK's int8 kernels work on 8 or 16 input channels at a time, 4 with dot-product
instructions), so a first conv on a one-channel input (a spectrogram, a grayscale image) does up
to 16x its MACs in INT8, where the float kernel does not pad. Measured on the x86 host
(bench-compress, 2026-12-01): both one-channel speech students ran faster with that conv in float
(TFLite 0.74x vs 0.78x FP32, 0.86x vs 0.99x); on three-channel and one-channel 8x8 inputs it
made no difference.

``auto`` (the default) decides per build and runtime by the build target's *predicted* latency:
the fp32 graph is quantized twice (every op int8; the first conv float, a few representative
samples: ranges do not change the cost), both are costed with the target's latency model, and the
first conv stays float only when that is predicted at least ``MARGIN`` faster. The prediction is
as good as the target's model: the device models pad to the kernels' tiles (on a Raspberry Pi 4
the speech student is predicted 1.40x FP32 all-int8 and 0.91x with its first conv float), while
the roofline of profiles without device facts does not, and there auto keeps every op int8. Off
where it cannot apply: integer-only runtimes (TFLite Micro, Edge TPU), ``engine: inc`` (it picks
its own float ops) and ``tflite_engine`` pt2e or qat (every op int8).
"""

from __future__ import annotations

import hashlib
import json
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

from ..atomic import TMP_MARK

INTEGER_ONLY_RUNTIMES = frozenset({"tflite-micro", "edgetpu"})  # no float kernel (Edge TPU: it would leave the TPU)
MARGIN = 0.03  # keep the all-int8 model unless the float first conv is predicted >= 3% faster
PROBE_SAMPLES = 8  # representative samples the two costed graphs are calibrated on
_DECISIONS: dict[tuple[str, str], "FirstConv"] = {}  # memo: the search screen and the predictor ask again per graph


@dataclass(frozen=True)
class FirstConv:
    """The decision: keep the first conv float or not, why, and the predicted latencies behind it."""

    float: bool
    reason: str
    predicted_ms: dict | None = None  # {"all_int8", "first_conv_float"} (p50), for auto only

    def as_metrics(self) -> dict:
        return asdict(self)


def first_conv(fp32_onnx: Path | Callable[[], Path], ctx, fmt: str) -> FirstConv:
    """Resolve ``quantize.float_first_conv`` for the INT8 ``fmt`` model of the network in ``fp32_onnx``.

    ``fp32_onnx`` may be a function that writes the graph: it is called only when auto has to predict.
    """
    qcfg = ctx.config.quantize
    if qcfg.float_first_conv != "auto":
        return FirstConv(bool(qcfg.float_first_conv), "quantize.float_first_conv is set in the config")
    why_not = _not_applicable(ctx, fmt)
    if why_not:
        return FirstConv(False, f"auto: {why_not}")
    fp32_onnx = Path(fp32_onnx() if callable(fp32_onnx) else fp32_onnx)
    key = _memo_key(fp32_onnx, ctx)
    if (key, fmt) not in _DECISIONS:
        if len(_DECISIONS) > 256:
            _DECISIONS.clear()
        # One quantization pair serves every format: only the runtime model costing it differs.
        _DECISIONS.update({(key, f): d for f, d in _predicted(fp32_onnx, ctx).items()})
    return _DECISIONS[(key, fmt)]


def kept_float_nodes(fp32_onnx: Path, ctx, fmt: str = "onnx") -> list[str]:
    """The ONNX nodes the ``fmt`` INT8 model keeps in float: the first conv, or none."""
    from .ort_static import first_conv_node

    return first_conv_node(fp32_onnx) if first_conv(fp32_onnx, ctx, fmt).float else []


def _not_applicable(ctx, fmt: str) -> str:
    qcfg, runtime = ctx.config.quantize, ctx.target.runtime.name
    if runtime in INTEGER_ONLY_RUNTIMES:
        return f"the {runtime} runtime runs integer kernels only"
    if fmt == "onnx" and qcfg.engine == "inc":
        return "engine inc chooses its own float ops"
    if fmt == "tflite" and qcfg.tflite_engine in ("pt2e", "qat"):
        return f"tflite_engine {qcfg.tflite_engine} makes every op int8"
    return "" if fmt in ("onnx", "tflite") else f"{fmt} INT8 does not quantize activations"


def _predicted(fp32_onnx: Path, ctx) -> dict[str, FirstConv]:
    """The decision for each format with a runtime model (ONNX, TFLite), from one pair of INT8 graphs."""
    from ..predict.latency import FORMAT_RUNTIMES
    from .ort_static import first_conv_node, quantize_onnx_static

    node = first_conv_node(fp32_onnx)
    if not node:
        return {fmt: FirstConv(False, "auto: the network has no Conv") for fmt in FORMAT_RUNTIMES}
    samples = ctx.data.representative.x[:PROBE_SAMPLES].numpy()
    ctx.work_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f"first-conv{TMP_MARK}", dir=ctx.work_dir) as folder:
        graphs = {name: quantize_onnx_static(fp32_onnx, Path(folder) / f"{name}.onnx", samples,
                                             per_channel=ctx.config.quantize.per_channel, nodes_to_exclude=excluded)
                  for name, excluded in (("all_int8", []), ("first_conv_float", node))}
        return {fmt: _compare(graphs, ctx, runtime) for fmt, runtime in FORMAT_RUNTIMES.items()}


def _compare(graphs: dict, ctx, runtime: str) -> FirstConv:
    """Both INT8 graphs costed for ``runtime`` on the target; float when >= MARGIN faster."""
    from ..errors import TargetError
    from ..predict.latency import predict_latency

    try:
        preds = {name: predict_latency(graph, ctx.target, "int8", runtime=runtime) for name, graph in graphs.items()}
    except TargetError as exc:  # a profile without an int8 rate: nothing to compare
        return FirstConv(False, f"auto: no INT8 latency prediction on {ctx.target.name} ({exc})")
    ms = {name: round(float(pred["p50"]), 6) for name, pred in preds.items()}
    keep = ms["first_conv_float"] <= (1 - MARGIN) * ms["all_int8"]
    reason = (f"auto: predicted on {ctx.target.name} ({preds['all_int8']['method']}) {ms['first_conv_float']:.3f} ms "
              f"with the first conv float vs {ms['all_int8']:.3f} ms all-int8")
    return FirstConv(keep, reason, ms)


def _memo_key(fp32_onnx: Path, ctx) -> str:
    material = {"graph": hashlib.sha256(Path(fp32_onnx).read_bytes()).hexdigest(),
                "target": ctx.target.model_dump(mode="json"), "per_channel": ctx.config.quantize.per_channel}
    return hashlib.sha256(json.dumps(material, sort_keys=True, default=str).encode()).hexdigest()


def student_graph(student, ctx) -> Callable[[], Path]:
    """A function writing (once) the FP32 ONNX graph of the torch ``student`` in the build's work folder.

    The same file the predictor analyses a TFLite-only build on (``predict/analysis.py``).
    """
    def write() -> Path:
        from ..export.onnx import export_onnx

        path = ctx.work_dir / "graphs" / f"{student.name}-fp32.onnx"
        if not path.exists():
            export_onnx(student.model, student.input_shape, path, opset=ctx.config.export.opset)
        return path

    return write
