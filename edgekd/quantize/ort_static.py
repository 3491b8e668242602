"""Post-training static INT8 of an ONNX model with onnxruntime (QDQ format).

Choices, for onnxruntime's CPU execution provider on x86-64:

* QDQ format (QuantizeLinear/DequantizeLinear around float ops): portable to every EP, and
  ORT fuses each DQ -> op -> Q group into an integer kernel at session load.
* Weights QInt8, symmetric, per output channel (depthwise convolutions need per-channel
  scales: one scale per layer loses the small channels).
* Activations QUInt8 (U8S8). ORT's x86 integer conv/GEMM kernels (MLAS) are built on
  u8 x s8 products (VPMADDUBSW on AVX2, VPDPBUSD on AVX-VNNI), so U8S8 is their native
  path; S8S8 needs an extra shift on CPUs without VNNI. U8 also gives post-ReLU activations an
  asymmetric zero point. Measured on this machine (AVX-512 VNNI, 1 thread, a 64x64
  MobileNet-style net): U8S8 0.157 ms, S8S8 0.158 ms, FP32 0.149 ms, i.e. no difference
  here and INT8 no faster than FP32 at this size: the bench stage must measure, not assume.
  ``reduce_range`` (a remedy for U8S8 saturation on pre-VNNI AVX2) is not used: it costs
  accuracy on every CPU to help only those.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

from ..atomic import TMP_MARK, atomic_path
from ..errors import ConfigError, ConversionError, DataError
from ..export._common import quiet

METHODS = ("minmax", "entropy", "percentile")
CALIBRATION_BATCH = 8
MAX_REPRESENTATIVE = 1024  # entropy/percentile keep histograms of every activation: bound the data


class ArrayReader:
    """``CalibrationDataReader`` over an in-memory NCHW array, in small batches.

    Args:
        input_name: The model's input name.
        data: Float32 samples ``[N, C, H, W]``.
        batch: Samples per feed; 1 for models with a fixed batch of 1.
    """

    def __init__(self, input_name: str, data: np.ndarray, batch: int = CALIBRATION_BATCH):
        self.input_name = input_name
        self.data = np.ascontiguousarray(data, dtype=np.float32)
        self.batch = max(1, int(batch))
        self._pos = 0

    def get_next(self) -> dict[str, np.ndarray] | None:
        """The next feed dict, or None when the data is exhausted."""
        if self._pos >= len(self.data):
            return None
        chunk = self.data[self._pos:self._pos + self.batch]
        self._pos += self.batch
        return {self.input_name: chunk}

    def rewind(self) -> None:
        """Start again from the first sample."""
        self._pos = 0

    def __len__(self) -> int:
        return len(self.data)


def quantize_onnx_static(fp32_path, out_path, representative: np.ndarray, *, method: str = "minmax",
                         per_channel: bool = True, nodes_to_exclude: list[str] | None = None) -> Path:
    """Quantize an FP32 ONNX model to static INT8 (QDQ) with onnxruntime.

    Args:
        fp32_path: The FP32 ``.onnx`` (e.g. from :func:`edgekd.export.onnx.export_onnx`).
        out_path: Destination ``.onnx``; written atomically.
        representative: Float32 NCHW representative inputs ``[N, C, H, W]`` (at most 1024 used).
        method: How activation ranges are set: ``"minmax"``, ``"entropy"`` or ``"percentile"``.
        per_channel: Per-output-channel weight scales (recommended for depthwise convs).
        nodes_to_exclude: Node names to keep in float (used by accuracy-aware tuning).

    Returns:
        The final path.

    Raises:
        ConfigError: Unknown ``method``.
        DataError: Calibration data does not match the model input.
        ConversionError: onnxruntime could not quantize the model.
    """
    if method not in METHODS:
        raise ConfigError(f"unknown activation-range method {method!r}", fix=f"use one of {', '.join(METHODS)}")
    import onnx
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    fp32_path = Path(fp32_path)
    proto = onnx.load(str(fp32_path), load_external_data=False)
    input_name, fixed_batch = _input_info(proto)
    data = _check_representative(representative, proto, input_name)
    calib_method = {"minmax": CalibrationMethod.MinMax, "entropy": CalibrationMethod.Entropy,
                    "percentile": CalibrationMethod.Percentile}[method]
    final = Path(out_path)
    scratch = final.parent if final.parent.exists() else None
    # The scratch folder sits beside the output (the staging folder): its name carries the atomic temp mark,
    # so a build killed mid-quantization has it removed on --resume instead of promoting it as an artifact.
    with tempfile.TemporaryDirectory(prefix=f".edgekd-ortq{TMP_MARK}", dir=scratch) as work, \
            atomic_path(final) as tmp:
        prepped = Path(work) / "prepped.onnx"
        try:
            # Shape inference + ORT-level graph cleanup first: the quantizer needs every tensor's
            # shape, and folded Conv+BN / constant paths give fewer, better-calibrated tensors.
            quant_pre_process(str(fp32_path), str(prepped), skip_symbolic_shape=False)
        except Exception:  # pre-processing is an optimisation; quantize the original if it fails
            prepped = fp32_path
        reader = ArrayReader(input_name, data, batch=1 if fixed_batch else CALIBRATION_BATCH)
        extra: dict[str, bool | float] = {"ActivationSymmetric": False, "WeightSymmetric": True}
        if method == "percentile":
            extra["CalibPercentile"] = 99.999
        try:
            with quiet():  # the calibrators print progress to stdout
                quantize_static(str(prepped), str(tmp), reader, quant_format=QuantFormat.QDQ,
                                activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                                per_channel=per_channel, calibrate_method=calib_method,
                                nodes_to_exclude=list(nodes_to_exclude or []), extra_options=extra,
                                use_external_data_format=False)
        except Exception as exc:
            text = " ".join(str(exc).split())[:200]
            raise ConversionError(f"onnx int8: onnxruntime quantization failed: {text}", fmt="onnx") from exc
        stray = [p for p in tmp.parent.iterdir() if p != tmp]
        if stray:
            raise ConversionError(f"onnx int8: quantizer wrote external data {stray[0].name}", fmt="onnx")
    return final


def _input_info(proto) -> tuple[str, bool]:
    initializers = {t.name for t in proto.graph.initializer}
    inputs = [i for i in proto.graph.input if i.name not in initializers]
    if len(inputs) != 1:
        raise DataError(f"ONNX model has {len(inputs)} inputs; edgekd quantizes single-input models",
                        fix="export the model with one image input")
    dims = inputs[0].type.tensor_type.shape.dim
    fixed = bool(dims) and dims[0].HasField("dim_value") and dims[0].dim_value > 0
    return inputs[0].name, fixed


def _check_representative(representative, proto, input_name: str) -> np.ndarray:
    arr = np.asarray(representative, dtype=np.float32)
    if arr.ndim == 3:
        arr = arr[None]
    dims = next(i for i in proto.graph.input if i.name == input_name).type.tensor_type.shape.dim
    want = [d.dim_value if d.HasField("dim_value") else -1 for d in dims][1:]
    if len(arr) == 0 or arr.ndim != len(want) + 1 or any(w > 0 and w != s for w, s in zip(want, arr.shape[1:])):
        raise DataError(f"representative data has shape {list(arr.shape)}, the model input {input_name!r} takes "
                        f"[batch, {', '.join(str(w) for w in want)}]",
                        fix="pass representative samples shaped like the model input (NCHW float32)")
    return arr[:MAX_REPRESENTATIVE]


def first_conv_node(fp32_path) -> list[str]:
    """The name of the first Conv node of an ONNX graph (``quantize.float_first_conv``), or [] if none.

    Nodes are stored in topological order, so the first Conv is the network's first layer.
    """
    import onnx

    return [n.name for n in onnx.load(str(fp32_path)).graph.node if n.op_type == "Conv"][:1]

