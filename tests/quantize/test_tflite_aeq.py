"""AeqModel: AI Edge Quantizer recipes on an FP32 .tflite (all int8, float/int16 per op, int8 or float I/O)."""

from __future__ import annotations

import numpy as np
import pytest

from edgekd.quantize.tflite_aeq import (
    COMPUTE_OPS,
    AeqModel,
    build_recipe,
    list_ops,
    op_precisions,
    supports,
    up_to_first_conv,
)
from edgekd.runtimes import open_runner


@pytest.fixture(scope="module")
def fp32(tiny_tflite):
    return tiny_tflite


@pytest.fixture(scope="module")
def aeq(fp32, data):
    return AeqModel(fp32, data[0])


def top1_agreement(model_bytes: bytes, tmp_path, tiny_model, lib, x) -> float:
    path = tmp_path / "q.tflite"
    path.write_bytes(model_bytes)
    got = open_runner(path, "tflite").predict(x)
    return float(np.mean(got.argmax(1) == lib.torch_logits(tiny_model, x).argmax(1)))


def test_list_ops_names_every_op_by_its_quantizer_scope(fp32):
    ops = list_ops(fp32.read_bytes())
    kinds = [op.kind for op in ops]
    assert kinds[:3] == ["CONV_2D", "DEPTHWISE_CONV_2D", "CONV_2D"] and kinds[-1] == "FULLY_CONNECTED"
    assert all(op.scope.endswith(";") for op in ops) and len({op.scope for op in ops}) == len(ops)
    assert ops[0].label.startswith("CONV_2D#0 ") and "Conv2d" in ops[0].label


@pytest.mark.parametrize("int8_io", [True, False])
def test_all_int8_is_fully_integer_and_agrees(aeq, data, tmp_path, tiny_model, lib, int8_io):
    _, x, _ = data
    model = aeq.quantize({}, int8_io=int8_io)
    types = op_precisions(model)
    compute = [t for t in types if t[0] in COMPUTE_OPS]
    assert compute and all(t[1] == "INT8" and t[2] == "INT8" for t in compute)
    assert [t[0] for t in types].count("QUANTIZE") == (0 if int8_io else 1)
    assert [t[0] for t in types].count("DEQUANTIZE") == (0 if int8_io else 1)
    assert top1_agreement(model, tmp_path, tiny_model, lib, x) >= 0.8


@pytest.mark.parametrize("mode, dtype", [("float", "FLOAT32"), ("int16", "INT16")])
def test_one_op_falls_back_and_the_rest_stays_int8(aeq, data, tmp_path, tiny_model, lib, mode, dtype):
    _, x, _ = data
    target = next(op for op in aeq.ops if op.kind == "CONV_2D" and op.index > 0)
    model = aeq.quantize({target.scope: mode}, int8_io=True)
    by_kind = [t for t in op_precisions(model) if t[0] in COMPUTE_OPS]
    fallback = by_kind[[op.index for op in aeq.ops if op.kind in COMPUTE_OPS].index(target.index)]
    assert fallback[2] == dtype
    assert sum(t[2] == "INT8" for t in by_kind) == len(by_kind) - 1
    assert top1_agreement(model, tmp_path, tiny_model, lib, x) >= 0.8


def test_int8_io_with_int16_fallback_at_the_input_stays_integer(aeq):
    first = aeq.ops[0]
    types = op_precisions(aeq.quantize({first.scope: "int16"}, int8_io=True))
    assert types[0] == ("QUANTIZE", "INT8", "INT16")  # int8 input requantized to int16 in the graph
    assert all("FLOAT32" not in t for t in types)


def test_recipe_rejects_unknown_modes(aeq):
    with pytest.raises(ValueError, match="int4"):
        build_recipe(aeq.ops, {aeq.ops[0].scope: "int4"}, default="int8", int8_io=False)
    assert supports("CONV_2D", "int16") and supports("ANY_OP", "float")


def test_up_to_first_conv_keeps_the_first_conv_and_the_padding_before_it():
    from types import SimpleNamespace as Op

    ops = [Op(kind=k) for k in ("PAD", "DEPTHWISE_CONV_2D", "DEPTHWISE_CONV_2D", "CONV_2D", "MEAN")]
    assert [op.kind for op in up_to_first_conv(ops)] == ["PAD", "DEPTHWISE_CONV_2D"]
    first, second = Op(kind="CONV_2D"), Op(kind="CONV_2D")
    assert up_to_first_conv([first, second]) == [first]
    assert up_to_first_conv([Op(kind="MEAN")]) == []
