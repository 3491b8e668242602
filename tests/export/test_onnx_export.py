"""export_onnx: one checked file, dynamic batch, torch parity, one-line errors."""

from __future__ import annotations

import copy

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch

from edgekd.errors import ConversionError
from edgekd.export.onnx import export_onnx


def test_onnx_matches_torch_and_is_one_checked_file(tmp_path, tiny_model, data, lib):
    before = copy.deepcopy(tiny_model.state_dict())
    path = export_onnx(tiny_model, lib.SHAPE, tmp_path / "m.onnx")
    assert path == tmp_path / "m.onnx"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.onnx"]  # no .onnx.data, no temporaries
    proto = onnx.load(str(path))
    onnx.checker.check_model(proto, full_check=True)
    assert [i.name for i in proto.graph.input] == ["input"]
    assert [o.name for o in proto.graph.output] == ["logits"]
    assert proto.graph.input[0].type.tensor_type.shape.dim[0].dim_param == "batch"
    assert len(proto.graph.value_info) > 0  # shape inference was applied and saved
    assert proto.opset_import[0].version == 17
    _, x, _ = data
    got = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, {"input": x[:7]})[0]
    np.testing.assert_allclose(got, lib.torch_logits(tiny_model, x[:7]), atol=1e-5, rtol=0)
    for key, value in tiny_model.state_dict().items():  # the caller's module was not touched
        assert torch.equal(value, before[key])
    assert not tiny_model.training


def test_onnx_unsupported_op_names_op_and_format(tmp_path, lib):
    with pytest.raises(ConversionError) as info:
        export_onnx(lib.SvdNet(), lib.SHAPE, tmp_path / "svd.onnx")
    assert info.value.fmt == "onnx"
    assert "svd" in (info.value.op or "")
    assert "svd" in str(info.value) and "\n" not in str(info.value)
    assert list(tmp_path.iterdir()) == []
