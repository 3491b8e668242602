"""Export a torch module to ``.tflite`` with litert-torch (no TensorFlow needed).

* FP32: ``litert_torch.convert`` straight from the module.
* Layout: with ``channels_last_io`` the model takes NHWC input (what LiteRT delegates and
  TF-style pipelines expect); ``litert_torch.to_channel_last_io`` moves the transpose into the
  graph, where the converter folds it away.
* INT8: PT2E static quantization with litert-torch's ``PT2EQuantizer`` (symmetric per-channel
  int8 weights, int8 activations, HistogramObserver ranges from the representative set), then the
  converter in ``STATIC`` QDQ mode (``QuantConfig(pt2e_quantizer=...)``). Without that
  QuantConfig the converter keeps QUANTIZE/DEQUANTIZE pairs around float kernels; with it the
  model is fully integer and its input/output are int8.
* Float I/O around an integer model (``int8_io=False``): the converter has no switch for it,
  so the flatbuffer is edited: a float32 input feeding a QUANTIZE op and a DEQUANTIZE op
  producing a float32 output are added (what the TF converter emits by default).

The graph is exported with batch 1 (fixed): MCU and mobile runtimes run one sample at a time.
"""

from __future__ import annotations

import copy
import re
from pathlib import Path

import numpy as np

from ..atomic import atomic_path
from ..errors import ConfigError, ConversionError
from ._common import first_line, quiet, with_batch

MAX_REPRESENTATIVE = 1024  # PT2E observers converge long before this; keeps the range-setting pass bounded

# Messages litert-torch / torch.export give for an op they cannot lower, e.g.
# "No lowering found for aten.linalg_svd.default" or "... 'aten::linalg_svd' ...".
_OP_PATTERNS = (
    re.compile(r"(?:lowering|lower|decomposition)[^\n]*?\b(aten[.:]{1,2}[\w.]+)", re.I),
    re.compile(r"\b(aten[.:]{1,2}[\w.]+)[^\n]*?(?:not supported|unsupported|no lowering)", re.I),
    re.compile(r"'(tfl\.[\w.]+)' op", re.I),
    re.compile(r"\b(aten[.:]{1,2}[\w]+(?:\.[\w]+)?)"),
)


def export_tflite(module, input_shape, path, *, int8: bool = False, representative: np.ndarray | None = None,
                  int8_io: bool = False, channels_last_io: bool = True) -> Path:
    """Convert ``module`` to a ``.tflite`` file with litert-torch.

    The module is deep-copied and put in eval mode; the caller's module is never changed.

    Args:
        module: The ``torch.nn.Module`` (NCHW input, logits output).
        input_shape: Sample shape ``(C, H, W)`` or ``(1, C, H, W)``.
        path: Destination ``.tflite``; written atomically.
        int8: Fully-integer INT8 (PT2E static) instead of FP32.
        representative: Float32 NCHW samples ``[N, C, H, W]``, the representative data for the
            activation ranges; required when ``int8`` (at most 1024 are used).
        int8_io: With ``int8``, keep int8 input and output tensors (what TFLite Micro and Edge
            TPU need; callers quantize with the tensor's scale/zero point). When False the
            model takes and returns float32 and quantizes inside.
        channels_last_io: Input is NHWC ``[1, H, W, C]`` when True, NCHW otherwise.

    Returns:
        The final path.

    Raises:
        ConfigError: ``int8`` without a representative array of the right shape.
        ConversionError: litert-torch cannot convert the model; names the op when it can.
    """
    import torch

    shape = with_batch(input_shape)
    if int8:
        representative = check_representative(representative, shape)
    model = copy.deepcopy(module).eval()
    sample = torch.randn(*shape, dtype=torch.float32)
    with torch.no_grad():
        return write_tflite(path, lambda: _convert(model, sample, int8, representative, channels_last_io),
                            add_float_io=int8 and not int8_io)


def write_tflite(path, convert, *, add_float_io: bool = False) -> Path:
    """Run ``convert() -> flatbuffer bytes`` with the converter's output silenced; write the result atomically.

    ``add_float_io`` gives an int8-I/O model float32 input/output (:func:`float_io`). Any converter
    failure becomes one :class:`ConversionError` line (naming the op when it can), and nothing is written.
    """
    final = Path(path)
    with atomic_path(final) as tmp:
        with quiet() as log:
            try:
                data = convert()
                if add_float_io:
                    data = float_io(data)
            except Exception as exc:  # litert-torch raises many types; the user needs one line
                error: Exception | None = exc
            else:
                error = None
        if error is not None:
            raise conversion_error(error, log.text) from error
        tmp.write_bytes(data)
    return final


def _convert(model, sample, int8: bool, representative, channels_last_io: bool) -> bytes:
    import litert_torch

    model = export_ready(model, channels_last_io)
    if channels_last_io:
        sample = sample.permute(0, 2, 3, 1).contiguous()
    if not int8:
        return bytes(litert_torch.convert(model, (sample,)).model_content())
    import torch
    from torchao.quantization.pt2e import quantize_pt2e

    quantizer = pt2e_quantizer()
    graph = torch.export.export(model, (sample,)).module()
    prepared = quantize_pt2e.prepare_pt2e(graph, quantizer)
    for x in representative:  # batch 1: the exported graph carries batch 1 in its reshapes
        xt = torch.from_numpy(np.ascontiguousarray(x[None]))
        prepared(xt.permute(0, 2, 3, 1).contiguous() if channels_last_io else xt)
    return lower_pt2e(prepared, sample, quantizer)


def export_ready(model, channels_last_io: bool):
    """The module litert-torch converts: BN folded, and with ``channels_last_io`` an NHWC-input wrapper."""
    import litert_torch

    from .fold_bn import fold_batchnorm

    model = fold_batchnorm(model)  # fewer nodes for litert-torch's repeated traces (see fold_bn.py)
    return litert_torch.to_channel_last_io(model, args=[0]).eval() if channels_last_io else model


def pt2e_quantizer(qat: bool = False):
    """litert-torch's PT2E quantizer: symmetric per-channel int8 weights, int8 activations (fake-quant for QAT)."""
    from litert_torch.quantize import pt2e_quantizer as pt2eq

    class FoldedBnQuantizer(pt2eq.PT2EQuantizer):
        # Its QAT-only conv+BN patterns never match a BN-folded graph (export_ready folds BN), and
        # building them fails with this torchao (it passes torch.export a function, not a module).
        STATIC_QAT_ONLY_OPS: list[str] = []

        def annotate(self, model):
            return _own_pool_output_ranges(super().annotate(model), self.global_config)

    return FoldedBnQuantizer().set_global(pt2eq.get_symmetric_quantization_config(is_per_channel=True, is_qat=qat))


def _own_pool_output_ranges(model, config):
    """Give every global average pool an output range of its own instead of its input's.

    litert-torch ties an average pool's output quantization to its input's, as for a max pool. A
    global average is far narrower than its input: a student distilled from a Keras KWS teacher
    had a last conv output in [0, 44] and a pooled output in [0.1, 4.6], so the classifier read
    the pool at a 0.14 step (about 33 levels); PT2E lost 27.7 points of test top-1 there, where
    the AI Edge Quantizer, which calibrates the MEAN output on its own, lost 1.0. TFLite's MEAN
    requantizes, so the two scales may differ.
    """
    import torch
    from litert_torch.quantize.pt2e_quantizer_utils import get_output_act_qspec
    from torchao.quantization.pt2e.quantizer import SharedQuantizationSpec

    pools = {torch.ops.aten.adaptive_avg_pool2d.default, torch.ops.aten._adaptive_avg_pool2d.default,
             torch.ops.aten.mean.dim, torch.ops.aten.mean.default}
    for node in model.graph.nodes:
        annotation = node.meta.get("quantization_annotation")
        if node.target in pools and annotation is not None and isinstance(annotation.output_qspec,
                                                                          SharedQuantizationSpec):
            annotation.output_qspec = get_output_act_qspec(config)
    return model


def lower_pt2e(prepared, sample, quantizer) -> bytes:
    """A PT2E-prepared graph whose ranges are set, as a fully integer ``.tflite`` flatbuffer."""
    import litert_torch
    from litert_torch.quantize.quant_config import QuantConfig
    from torchao.quantization.pt2e import quantize_pt2e

    quantized = quantize_pt2e.convert_pt2e(prepared, fold_quantize=False)
    try:
        from torchao.quantization.pt2e import move_exported_model_to_eval

        move_exported_model_to_eval(quantized)
    except ImportError:  # older torchao: the graph is already in eval form
        pass
    # STATIC mode: the converter fuses Q/DQ pairs into integer kernels (fully int8 model).
    edge = litert_torch.convert(quantized, (sample,), quant_config=QuantConfig(pt2e_quantizer=quantizer))
    return bytes(edge.model_content())


def check_representative(representative, shape) -> np.ndarray:
    if representative is None:
        raise ConfigError("tflite int8 export needs representative data",
                          fix="pass representative= a float32 NCHW array of representative inputs")
    arr = np.asarray(representative, dtype=np.float32)
    if arr.ndim == 3:
        arr = arr[None]
    if arr.ndim != 4 or tuple(arr.shape[1:]) != tuple(shape[1:]) or len(arr) == 0:
        raise ConfigError(f"representative data has shape {list(arr.shape)}, the model takes {list(shape)} (NCHW)",
                          fix="pass representative samples shaped like the model input")
    return arr[:MAX_REPRESENTATIVE]


def float_io(model_bytes: bytes) -> bytes:
    """Give a model with int8 input/output float32 ones (QUANTIZE in, DEQUANTIZE out).

    Args:
        model_bytes: A ``.tflite`` flatbuffer whose inputs/outputs are quantized int8/uint8.

    Returns:
        The edited flatbuffer; tensors that are already float are left as they are.
    """
    from ai_edge_litert import schema_py_generated as fb
    from ai_edge_litert.tools import flatbuffer_utils

    model = flatbuffer_utils.convert_bytearray_to_object(bytearray(model_bytes))
    sub = model.subgraphs[0]
    quant_op = _opcode_index(model, fb, fb.BuiltinOperator.QUANTIZE)
    dequant_op = _opcode_index(model, fb, fb.BuiltinOperator.DEQUANTIZE)
    integer = (fb.TensorType.INT8, fb.TensorType.UINT8)
    remap: dict[int, int] = {}
    front, back = [], []
    for slot, old in enumerate(list(sub.inputs)):
        if sub.tensors[old].type in integer:
            new = _float_twin(model, sub, fb, old)
            front.append(_op(fb, quant_op, new, old, fb.BuiltinOptions.QuantizeOptions, fb.QuantizeOptionsT()))
            sub.inputs[slot] = remap[old] = new
    for slot, old in enumerate(list(sub.outputs)):
        if sub.tensors[old].type in integer:
            new = _float_twin(model, sub, fb, old)
            back.append(_op(fb, dequant_op, old, new, fb.BuiltinOptions.DequantizeOptions, fb.DequantizeOptionsT()))
            sub.outputs[slot] = remap[old] = new
    sub.operators = front + list(sub.operators or []) + back
    for sig in model.signatureDefs or []:
        for entry in list(sig.inputs or []) + list(sig.outputs or []):
            entry.tensorIndex = remap.get(entry.tensorIndex, entry.tensorIndex)
    return bytes(flatbuffer_utils.convert_object_to_bytearray(model))


def _opcode_index(model, fb, builtin: int) -> int:
    for i, code in enumerate(model.operatorCodes):
        if max(code.builtinCode, code.deprecatedBuiltinCode) == builtin:
            return i
    code = fb.OperatorCodeT()
    code.builtinCode = builtin
    code.deprecatedBuiltinCode = min(builtin, 127)  # 127 = PLACEHOLDER_FOR_GREATER_OP_CODES
    code.version = 2  # int8 <-> float32 kernels are version 2 of QUANTIZE / DEQUANTIZE
    model.operatorCodes.append(code)
    return len(model.operatorCodes) - 1


def _float_twin(model, sub, fb, index: int) -> int:
    """Append a float32 tensor shaped like ``index``; the integer one is renamed ``*_int8``."""
    old = sub.tensors[index]
    twin = fb.TensorT()
    twin.shape = None if old.shape is None else list(old.shape)
    twin.shapeSignature = None if old.shapeSignature is None else list(old.shapeSignature)
    twin.type = fb.TensorType.FLOAT32
    twin.name = old.name
    model.buffers.append(fb.BufferT())
    twin.buffer = len(model.buffers) - 1
    old.name = (old.name.decode() if isinstance(old.name, bytes) else str(old.name)) + "_int8"
    sub.tensors.append(twin)
    return len(sub.tensors) - 1


def _op(fb, opcode: int, src: int, dst: int, options_type: int, options) -> object:
    op = fb.OperatorT()
    op.opcodeIndex = opcode
    op.inputs = [src]
    op.outputs = [dst]
    op.builtinOptionsType = options_type
    op.builtinOptions = options
    return op


def _op_name(text: str) -> str | None:
    for pattern in _OP_PATTERNS:
        match = pattern.search(text)
        if match:
            return match.group(1).replace("::", ".")
    return None


def conversion_error(exc: BaseException, log: str) -> ConversionError:
    op = _op_name(str(exc)) or _op_name(log)
    if op:
        return ConversionError(f"tflite: op {op} is not supported by litert-torch", fmt="tflite", op=op,
                               fix=f"replace {op} in the model, or drop tflite from the formats")
    return ConversionError(f"tflite: conversion failed: {first_line(exc)}", fmt="tflite")
