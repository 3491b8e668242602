"""INT8 of an FP32 ``.tflite`` with Google's AI Edge Quantizer (``ai-edge-quantizer``), op by op.

Why this and not only litert-torch's PT2E path (:func:`edgekd.export.tflite.export_tflite` with
``int8=True``): PT2E quantizes every op and converts the whole torch graph a second time (minutes
for a small student), whereas the AI Edge Quantizer works on the FP32 flatbuffer the export
stage already wrote, takes a *recipe* per op (int8, int16 activations with int8 weights, or
float), and re-quantizes in under a second once the model is calibrated. That makes an
accuracy-aware loop (:mod:`edgekd.quantize.tflite_selective`) affordable.

Choices:

* Base recipe ``a8w8``: int8 activations, asymmetric per tensor (post-ReLU ranges use the whole
  code range); int8 weights, symmetric per output channel. This is TFLite's int8 spec.
* ``a16w8`` for an op: int16 activations (symmetric, the TFLite 16x8 spec) with int8 weights; the
  quantizer inserts the int8 <-> int16 requantize ops at the borders.
* ``float`` for an op: the op keeps float kernels; DEQUANTIZE/QUANTIZE are inserted around it.
* Input/output: with ``int8_io`` the graph's input and output tensors are int8 (what TFLite
  Micro and the Edge TPU need); otherwise they stay float32 and the model quantizes inside.
* Range setting runs once (TFLite's profiler-based pass over the representative samples, about 10x faster than keeping
  every tensor in Python, with the same min/max); every recipe re-uses the recorded ranges.

An op is named by its *scope*, the quantizer's key: its output tensor names joined by ``;``
with a trailing ``;``. :attr:`TfliteOp.label` is a short readable form for reports.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import ConversionError
from ..export._common import first_line, quiet

MAX_REPRESENTATIVE = 512  # min/max ranges settle long before this
MODES = ("int8", "int16", "float")
# Ops whose int8 error can matter (they compute new values and requantize). Layout ops
# (PAD, RESHAPE, CONCATENATION, ...) pass int8 values through with their input's scale, except
# one that reads the float graph input: the input is quantized there (TfliteOp.reads_input).
COMPUTE_OPS = ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "CONV_2D_TRANSPOSE", "BATCH_MATMUL", "ADD",
               "SUB", "MUL", "MEAN", "SUM", "AVERAGE_POOL_2D", "SOFTMAX", "LOGISTIC", "TANH", "HARD_SWISH")


@dataclass(frozen=True)
class TfliteOp:
    """One operator of the FP32 flatbuffer.

    Attributes:
        index: Position in the main subgraph.
        kind: TFLite builtin name, e.g. ``"CONV_2D"``.
        scope: The quantizer's key for the op (output tensor names, ``;``-joined and terminated).
        reads_input: The op reads a graph input: where a float input is quantized, whatever its kind.
    """

    index: int
    kind: str
    scope: str
    reads_input: bool = False

    @property
    def label(self) -> str:
        """``KIND#index module/path`` from the last fused name (litert-torch names tensors by module path)."""
        names = [n for n in self.scope.split(";") if n]
        paths = [n for n in names if "/" in n] or names  # fused names carry suffixes like ";1"
        path = paths[-1].split("/") if paths else []
        tail = "/".join(part.rsplit(".", 1)[-1] for part in path[-3:])
        return f"{self.kind}#{self.index} {tail}".strip()


def _recipe_configs():
    from ai_edge_quantizer import qtyping, recipe

    return {"int8": qtyping.OpQuantizationConfig.from_dict(recipe.static_wi8_ai8()[0]["op_config"]),
            "int16": qtyping.OpQuantizationConfig.from_dict(recipe.static_wi8_ai16()[0]["op_config"])}


def list_ops(model: bytes) -> list[TfliteOp]:
    """Every builtin operator of the main subgraph, in execution order."""
    from ai_edge_quantizer.utils import tfl_flatbuffer_utils as fu

    parsed = fu.read_model(model)
    graph = parsed.subgraphs[0]
    inputs = {int(i) for i in graph.inputs}
    ops = []
    for i, op in enumerate(graph.operators):
        code = parsed.operatorCodes[op.opcodeIndex].builtinCode
        name = fu.TFL_OP_CODE_TO_NAME.get(code)
        kind = str(getattr(name, "value", name or f"BUILTIN_{code}"))
        reads_input = any(int(t) in inputs for t in op.inputs)
        ops.append(TfliteOp(i, kind, fu.get_op_scope(op, graph.tensors), reads_input))
    return ops


def op_precisions(model: bytes) -> list[tuple[str, str, str]]:
    """``(op kind, first input dtype, first output dtype)`` per op, e.g. ``("CONV_2D", "INT8", "INT8")``.

    What a quantized model really runs: a float fallback op reads and writes ``FLOAT32``, an
    int16 one ``INT16``; QUANTIZE/DEQUANTIZE ops mark the borders.
    """
    from ai_edge_litert import schema_py_generated as fb
    from ai_edge_quantizer.utils import tfl_flatbuffer_utils as fu

    dtype = {v: k for k, v in vars(fb.TensorType).items() if not k.startswith("_")}
    builtin = {v: k for k, v in vars(fb.BuiltinOperator).items() if not k.startswith("_")}
    parsed = fu.read_model(model)
    graph = parsed.subgraphs[0]
    out = []
    for op in graph.operators:
        code = parsed.operatorCodes[op.opcodeIndex]
        kind = builtin.get(max(code.builtinCode, code.deprecatedBuiltinCode), "CUSTOM")
        out.append((kind, dtype[graph.tensors[op.inputs[0]].type], dtype[graph.tensors[op.outputs[0]].type]))
    return out


def supports(kind: str, mode: str) -> bool:
    """Whether the quantizer can run an op of ``kind`` in ``mode`` (``float`` always can)."""
    if mode == "float":
        return True
    from ai_edge_quantizer import algorithm_manager

    try:
        algorithm_manager.check_op_quantization_config(algorithm_manager.AlgorithmName.MIN_MAX_UNIFORM_QUANT, kind,
                                                       _recipe_configs()[mode])
    except ValueError:
        return False
    return True


class AeqModel:
    """An FP32 ``.tflite``, calibrated once, quantized with any per-op recipe.

    Args:
        fp32_path: The FP32 ``.tflite`` (e.g. from :func:`edgekd.export.tflite.export_tflite`).
        representative: Float32 NCHW samples ``[N, C, H, W]`` (at most 512 used); moved to the
            model's layout (NHWC for litert-torch exports) here.
        threads: Interpreter threads for range setting.

    Raises:
        ConversionError: The quantizer cannot read or calibrate the model.
        DataError: The representative samples do not fit the model input.
    """

    def __init__(self, fp32_path, representative: np.ndarray, threads: int = 1):
        from ..runtimes.litert_runner import LiteRTRunner

        self.path = Path(fp32_path)
        self.model = self.path.read_bytes()
        runner = LiteRTRunner(self.path, threads)  # validates the file and decides the layout
        x = np.asarray(representative, dtype=np.float32)[:MAX_REPRESENTATIVE]
        if x.ndim == 4 and runner.channels_last(x.shape[1:]):
            x = x.transpose(0, 2, 3, 1)
        signatures = runner.interpreter.get_signature_list()
        key = next(iter(signatures))
        input_name = signatures[key]["inputs"][0]
        self.ops = list_ops(self.model)
        self.qsvs = self._calibrate({key: [{input_name: np.ascontiguousarray(s[None])} for s in x]}, threads)

    def _calibrate(self, dataset: dict, threads: int) -> dict:
        from ai_edge_quantizer import calibrator, quantizer, recipe

        try:
            with quiet():
                q = quantizer.Quantizer(bytearray(self.model), recipe.static_wi8_ai8())
                return q.calibrate(dataset, num_threads=max(1, threads),
                                   mode=calibrator.CalibrationMode.CALIBRATION_PROFILER_BASED)
        except Exception as exc:
            raise ConversionError(f"tflite int8: AI Edge Quantizer range setting failed: {first_line(exc)}",
                                  fmt="tflite") from exc

    def quantize(self, modes: dict[str, str] | None = None, *, default: str = "int8", int8_io: bool = False) -> bytes:
        """The model quantized with ``default`` for every op and ``modes`` (scope -> mode) overriding it.

        Args:
            modes: Per-op modes (``"int8"``, ``"int16"``, ``"float"``) keyed by :attr:`TfliteOp.scope`.
            default: Mode of every other op: ``"int8"`` (the a8w8 recipe) or ``"float"``.
            int8_io: Int8 graph input/output; else float32 input/output.

        Returns:
            The quantized flatbuffer.

        Raises:
            ConversionError: The quantizer rejected the recipe or failed.
        """
        from ai_edge_quantizer import quantizer

        recipe = build_recipe(self.ops, modes or {}, default=default, int8_io=int8_io)
        try:
            with quiet():
                q = quantizer.Quantizer(bytearray(self.model), recipe)
                return bytes(q.quantize(self.qsvs, enable_progress_report=False).quantized_model)
        except Exception as exc:
            raise ConversionError(f"tflite int8: AI Edge Quantizer failed: {first_line(exc)}", fmt="tflite") from exc


def build_recipe(ops: list[TfliteOp], modes: dict[str, str], *, default: str, int8_io: bool) -> list[dict]:
    """An AI Edge Quantizer recipe: ``default`` for every op, then one exact-scope entry per override.

    Later entries win in the quantizer's recipe manager, so the overrides follow the default.
    """
    from ai_edge_quantizer import recipe_manager

    bad = {m for m in [default, *modes.values()] if m not in MODES}
    if bad or default == "int16":
        raise ValueError(f"unknown quantization mode(s) {sorted(bad) or [default]}; use int8, int16 or float")
    configs = _recipe_configs()
    no_quant = recipe_manager.AlgorithmName.NO_QUANTIZE
    manager = recipe_manager.RecipeManager()
    if default == "int8":
        manager.add_quantization_config(".*", "*", configs["int8"])
    kinds = {op.scope: op.kind for op in ops}
    for scope, mode in modes.items():
        if mode == default:
            continue
        regex = f"^{re.escape(scope)}$"
        if mode == "float":
            manager.add_quantization_config(regex, kinds[scope], None, no_quant)
        else:
            manager.add_quantization_config(regex, kinds[scope], configs[mode])
    for io in ("INPUT", "OUTPUT"):
        if int8_io:
            manager.add_quantization_config(".*", io, configs["int8"])
        else:
            manager.add_quantization_config(".*", io, None, no_quant)
    return manager.get_quantization_recipe()


def up_to_first_conv(ops: list[TfliteOp]) -> list[TfliteOp]:
    """The ops up to and including the first (depthwise) conv: the first layer and its input padding.

    TFLite writes a conv on a one-channel input as a DEPTHWISE_CONV_2D with a channel multiplier.
    """
    first = next((i for i, op in enumerate(ops) if op.kind in ("CONV_2D", "DEPTHWISE_CONV_2D")), -1)
    return ops[: first + 1]
