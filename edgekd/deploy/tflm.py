"""C++ sources for TensorFlow Lite Micro: the model as an aligned C array, its arena and its op resolver.

What is written (all text, no compiler needed to produce it):

* ``model_data.h`` / ``model_data.cc``: the ``.tflite`` bytes as ``alignas(16) const unsigned
  char g_model_data[]`` (TFLM reads the flatbuffer in place; 16-byte alignment is what its
  allocator and the flatbuffer's own buffers expect), the class labels, and the tensor arena:
  ``EDGEKD_TFLM_ARENA_MEASURED_BYTES`` is the arena the TFLM interpreter measured for this
  very file (:mod:`edgekd.predict.tflm_arena`); a margin the user can override is added for
  the optimized kernels' scratch buffers, which the reference kernels do not ask for.
* ``model_ops.h``: ``tflite::MicroMutableOpResolver<N>`` with exactly the builtin ops the
  flatbuffer uses (read with :func:`edgekd.predict.tflite_read.read_tflite`), one ``Add*`` call
  each; TFLM resolves ops at ``AllocateTensors`` time, so a missing one fails there.
* ``main.cc``: a minimal program: load, allocate, quantize one input, invoke, print the top class.

The ``Add*`` method names are those of ``tensorflow/lite/micro/micro_mutable_op_resolver.h``
(TFLM, 2026): one per builtin operator.
"""

from __future__ import annotations

from typing import Any, Sequence

# BuiltinOperator name (as read from the flatbuffer) -> MicroMutableOpResolver method.
RESOLVER_METHODS: dict[str, str] = {
    "ABS": "AddAbs", "ADD": "AddAdd", "ADD_N": "AddAddN", "ARG_MAX": "AddArgMax", "ARG_MIN": "AddArgMin",
    "ASSIGN_VARIABLE": "AddAssignVariable", "AVERAGE_POOL_2D": "AddAveragePool2D",
    "BATCH_MATMUL": "AddBatchMatMul", "BATCH_TO_SPACE_ND": "AddBatchToSpaceNd", "BROADCAST_ARGS": "AddBroadcastArgs",
    "BROADCAST_TO": "AddBroadcastTo", "CALL_ONCE": "AddCallOnce", "CAST": "AddCast", "CEIL": "AddCeil",
    "CONCATENATION": "AddConcatenation", "CONV_2D": "AddConv2D", "COS": "AddCos", "CUMSUM": "AddCumSum",
    "DEPTH_TO_SPACE": "AddDepthToSpace", "DEPTHWISE_CONV_2D": "AddDepthwiseConv2D", "DEQUANTIZE": "AddDequantize",
    "DIV": "AddDiv", "DYNAMIC_UPDATE_SLICE": "AddDynamicUpdateSlice", "EMBEDDING_LOOKUP": "AddEmbeddingLookup",
    "ELU": "AddElu", "EQUAL": "AddEqual", "EXP": "AddExp", "EXPAND_DIMS": "AddExpandDims", "FILL": "AddFill",
    "FLOOR": "AddFloor", "FLOOR_DIV": "AddFloorDiv", "FLOOR_MOD": "AddFloorMod",
    "FULLY_CONNECTED": "AddFullyConnected", "GATHER": "AddGather", "GATHER_ND": "AddGatherNd",
    "GREATER": "AddGreater", "GREATER_EQUAL": "AddGreaterEqual", "HARD_SWISH": "AddHardSwish", "IF": "AddIf",
    "L2_NORMALIZATION": "AddL2Normalization", "L2_POOL_2D": "AddL2Pool2D", "LEAKY_RELU": "AddLeakyRelu",
    "LESS": "AddLess", "LESS_EQUAL": "AddLessEqual", "LOG": "AddLog", "LOGICAL_AND": "AddLogicalAnd",
    "LOGICAL_NOT": "AddLogicalNot", "LOGICAL_OR": "AddLogicalOr", "LOGISTIC": "AddLogistic",
    "LOG_SOFTMAX": "AddLogSoftmax", "MAXIMUM": "AddMaximum", "MAX_POOL_2D": "AddMaxPool2D",
    "MIRROR_PAD": "AddMirrorPad", "MEAN": "AddMean", "MINIMUM": "AddMinimum", "MUL": "AddMul", "NEG": "AddNeg",
    "NOT_EQUAL": "AddNotEqual", "PACK": "AddPack", "PAD": "AddPad", "PADV2": "AddPadV2", "PRELU": "AddPrelu",
    "QUANTIZE": "AddQuantize", "READ_VARIABLE": "AddReadVariable", "REDUCE_ALL": "AddReduceAll",
    "REDUCE_MAX": "AddReduceMax", "REDUCE_MIN": "AddReduceMin", "RELU": "AddRelu", "RELU6": "AddRelu6",
    "RESHAPE": "AddReshape", "RESIZE_BILINEAR": "AddResizeBilinear",
    "RESIZE_NEAREST_NEIGHBOR": "AddResizeNearestNeighbor", "REVERSE_V2": "AddReverseV2", "ROUND": "AddRound",
    "RSQRT": "AddRsqrt", "SELECT_V2": "AddSelectV2", "SHAPE": "AddShape", "SIN": "AddSin", "SLICE": "AddSlice",
    "SOFTMAX": "AddSoftmax", "SPACE_TO_BATCH_ND": "AddSpaceToBatchNd", "SPACE_TO_DEPTH": "AddSpaceToDepth",
    "SPLIT": "AddSplit", "SPLIT_V": "AddSplitV", "SQUEEZE": "AddSqueeze", "SQRT": "AddSqrt", "SQUARE": "AddSquare",
    "SQUARED_DIFFERENCE": "AddSquaredDifference", "STRIDED_SLICE": "AddStridedSlice", "SUB": "AddSub",
    "SUM": "AddSum", "SVDF": "AddSvdf", "TANH": "AddTanh", "TRANSPOSE_CONV": "AddTransposeConv",
    "TRANSPOSE": "AddTranspose", "UNPACK": "AddUnpack",
    "UNIDIRECTIONAL_SEQUENCE_LSTM": "AddUnidirectionalSequenceLSTM", "VAR_HANDLE": "AddVarHandle",
    "WHILE": "AddWhile", "ZEROS_LIKE": "AddZerosLike",
}
# Not measured: room for what the reference kernels the arena was measured with do not ask for
# (CMSIS-NN / ESP-NN scratch buffers). A default, overridable at compile time.
DEFAULT_ARENA_MARGIN_BYTES = 1024
ALIGN = 16
_BYTES_PER_LINE = 16


def model_ops(op_types: Sequence[str]) -> tuple[list[str], list[str]]:
    """The distinct ops in first-use order, split into (resolvable builtins, ops TFLM has no ``Add*`` for)."""
    ordered = list(dict.fromkeys(op_types))
    return [o for o in ordered if o in RESOLVER_METHODS], [o for o in ordered if o not in RESOLVER_METHODS]


def c_string(text: str) -> str:
    """``text`` as a C string literal (quotes, backslashes and non-printables escaped)."""
    out = []
    for ch in text:
        if ch in '"\\':
            out.append("\\" + ch)
        elif " " <= ch <= "~":
            out.append(ch)
        else:
            out.extend(f"\\{b:03o}" for b in ch.encode("utf-8"))
    return '"' + "".join(out) + '"'


def model_data_h(*, arena_bytes: int | None, arena_note: str, num_classes: int, source: str) -> str:
    """``model_data.h``: declarations, the measured arena and the class count."""
    if arena_bytes is None:
        arena = (f"// Not measured by edgekd: {_comment(arena_note)}.\n"
                 "// Measure it on the device and pass it, e.g. -DEDGEKD_TFLM_ARENA_MEASURED_BYTES=65536.\n"
                 "#ifndef EDGEKD_TFLM_ARENA_MEASURED_BYTES\n"
                 '#error "TFLite Micro arena not measured: define EDGEKD_TFLM_ARENA_MEASURED_BYTES"\n'
                 "#endif\n")
    else:
        arena = (f"// Measured: the smallest tensor arena with which the TFLite Micro interpreter (reference\n"
                 f"// kernels) allocates and runs one inference of this model (edgekd predict stage).\n"
                 f"#define EDGEKD_TFLM_ARENA_MEASURED_BYTES {int(arena_bytes)}\n")
    return f"""// Generated by edgekd from {source}. Do not edit: rebuild instead.
#ifndef EDGEKD_MODEL_DATA_H_
#define EDGEKD_MODEL_DATA_H_

{arena}// Not measured: room for optimized kernels' scratch buffers (CMSIS-NN, ESP-NN), which the
// reference kernels did not ask for. Raise it if AllocateTensors() fails on the device.
#ifndef EDGEKD_TFLM_ARENA_MARGIN_BYTES
#define EDGEKD_TFLM_ARENA_MARGIN_BYTES {DEFAULT_ARENA_MARGIN_BYTES}
#endif
#define EDGEKD_TENSOR_ARENA_BYTES (EDGEKD_TFLM_ARENA_MEASURED_BYTES + EDGEKD_TFLM_ARENA_MARGIN_BYTES)
#define EDGEKD_NUM_CLASSES {int(num_classes)}

extern const unsigned char g_model_data[];
extern const unsigned int g_model_data_len;
extern const char* const g_labels[EDGEKD_NUM_CLASSES];

#endif  // EDGEKD_MODEL_DATA_H_
"""


def model_data_cc(model_bytes: bytes, labels: Sequence[str], source: str) -> str:
    """``model_data.cc``: the flatbuffer as a 16-byte-aligned array, and the labels."""
    rows = []
    for start in range(0, len(model_bytes), _BYTES_PER_LINE):
        chunk = model_bytes[start:start + _BYTES_PER_LINE]
        rows.append("    " + ", ".join(f"0x{b:02x}" for b in chunk) + ",")
    label_rows = "\n".join(f"    {c_string(str(label))}," for label in labels)
    return f"""// Generated by edgekd from {source} ({len(model_bytes)} bytes). Do not edit: rebuild instead.
#include "model_data.h"

// TFLite Micro reads the flatbuffer in place: keep it aligned (and in flash: it is const).
alignas({ALIGN}) const unsigned char g_model_data[] = {{
{chr(10).join(rows)}
}};
const unsigned int g_model_data_len = {len(model_bytes)};

const char* const g_labels[EDGEKD_NUM_CLASSES] = {{
{label_rows}
}};
"""


def model_ops_h(op_types: Sequence[str]) -> str:
    """``model_ops.h``: a ``MicroMutableOpResolver`` sized for exactly the model's ops."""
    builtins, missing = model_ops(op_types)
    adds = "\n".join(f"  if (resolver.{RESOLVER_METHODS[op]}() != kTfLiteOk) return kTfLiteError;  // {op}"
                     for op in builtins)
    errors = "".join(f'#error "op {op} has no MicroMutableOpResolver method: register it with AddCustom"\n'
                     for op in missing)
    return f"""// Generated by edgekd: the ops model.tflite uses, read from its flatbuffer, and no others.
#ifndef EDGEKD_MODEL_OPS_H_
#define EDGEKD_MODEL_OPS_H_

#include "tensorflow/lite/micro/micro_mutable_op_resolver.h"

{errors}constexpr unsigned int kEdgekdOpCount = {len(builtins)};
using EdgekdOpResolver = tflite::MicroMutableOpResolver<kEdgekdOpCount>;

inline TfLiteStatus RegisterEdgekdOps(EdgekdOpResolver& resolver) {{
{adds}
  return kTfLiteOk;
}}

#endif  // EDGEKD_MODEL_OPS_H_
"""


def main_cc(input_info: dict[str, Any]) -> str:
    """``main.cc``: load the model, allocate the measured arena, run one input, print the top class."""
    shape = "x".join(str(d) for d in input_info.get("shape", []))
    return f"""// Generated by edgekd: a minimal TFLite Micro program for model_data.cc.
// Build it with your TFLM tree, e.g. the TFLM Makefile's generated project, or add these files to
// your firmware and call RunEdgekdModel() from it.
#include <cstdint>

#include "model_data.h"
#include "model_ops.h"
#include "tensorflow/lite/micro/micro_interpreter.h"
#include "tensorflow/lite/micro/micro_log.h"
#include "tensorflow/lite/micro/system_setup.h"
#include "tensorflow/lite/schema/schema_generated.h"

namespace {{
alignas({ALIGN}) uint8_t tensor_arena[EDGEKD_TENSOR_ARENA_BYTES];

// The model takes {shape} ({input_info.get("layout", "")}) {input_info.get("dtype", "")} values; see model.json
// for the preprocessing. An int8 input is quantized as round(x / scale) + zero_point.
void FillInput(TfLiteTensor* input, const float* features, int count) {{
  for (int i = 0; i < count; ++i) {{
    if (input->type == kTfLiteInt8) {{
      const float scaled = features[i] / input->params.scale;
      int q = static_cast<int>(scaled >= 0 ? scaled + 0.5f : scaled - 0.5f) + input->params.zero_point;
      q = q < -128 ? -128 : (q > 127 ? 127 : q);
      input->data.int8[i] = static_cast<int8_t>(q);
    }} else {{
      input->data.f[i] = features[i];
    }}
  }}
}}

float OutputValue(const TfLiteTensor* output, int i) {{
  if (output->type == kTfLiteInt8) {{
    return (output->data.int8[i] - output->params.zero_point) * output->params.scale;
  }}
  return output->data.f[i];
}}
}}  // namespace

// Runs one inference on `features` (already preprocessed, `count` values) and returns the top class.
int RunEdgekdModel(const float* features, int count) {{
  const tflite::Model* model = tflite::GetModel(g_model_data);
  if (model->version() != TFLITE_SCHEMA_VERSION) {{
    MicroPrintf("model schema %d, TFLM expects %d", static_cast<int>(model->version()), TFLITE_SCHEMA_VERSION);
    return -1;
  }}
  static EdgekdOpResolver resolver;
  static bool registered = false;
  if (!registered) {{
    if (RegisterEdgekdOps(resolver) != kTfLiteOk) return -1;
    registered = true;
  }}
  tflite::MicroInterpreter interpreter(model, resolver, tensor_arena, EDGEKD_TENSOR_ARENA_BYTES);
  if (interpreter.AllocateTensors() != kTfLiteOk) {{
    MicroPrintf("AllocateTensors failed: raise EDGEKD_TFLM_ARENA_MARGIN_BYTES");
    return -1;
  }}
  TfLiteTensor* input = interpreter.input(0);
  const int input_count = input->type == kTfLiteInt8 ? static_cast<int>(input->bytes)
                                                     : static_cast<int>(input->bytes / sizeof(float));
  FillInput(input, features, count < input_count ? count : input_count);
  if (interpreter.Invoke() != kTfLiteOk) return -1;
  const TfLiteTensor* output = interpreter.output(0);
  int best = 0;
  for (int i = 1; i < EDGEKD_NUM_CLASSES; ++i) {{
    if (OutputValue(output, i) > OutputValue(output, best)) best = i;
  }}
  MicroPrintf("top-1: %d %s (arena used %d of %d bytes)", best, g_labels[best],
              static_cast<int>(interpreter.arena_used_bytes()), EDGEKD_TENSOR_ARENA_BYTES);
  return best;
}}

#ifndef EDGEKD_NO_MAIN
int main() {{
  tflite::InitializeTarget();
  static float features[{max(1, _elements(input_info))}] = {{}};  // replace with real, preprocessed input
  return RunEdgekdModel(features, {max(1, _elements(input_info))}) < 0 ? 1 : 0;
}}
#endif
"""


def tflm_sources(*, model_bytes: bytes, op_types: Sequence[str], labels: Sequence[str], arena_bytes: int | None,
                 arena_note: str, input_info: dict[str, Any], source: str) -> dict[str, str]:
    """Every TFLite Micro source file of the bundle, by file name."""
    return {
        "model_data.h": model_data_h(arena_bytes=arena_bytes, arena_note=arena_note, num_classes=len(labels),
                                     source=source),
        "model_data.cc": model_data_cc(model_bytes, labels, source),
        "model_ops.h": model_ops_h(op_types),
        "main.cc": main_cc(input_info),
    }


def _elements(info: dict[str, Any]) -> int:
    count = 1
    for dim in info.get("shape", []):
        count *= int(dim)
    return count


def _comment(text: str) -> str:
    return " ".join(str(text).replace('"', "'").replace("\\", "/").split())[:200]
