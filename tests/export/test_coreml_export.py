"""export_coreml / inspect_coreml: packages load on Linux and name the right I/O (prediction needs macOS)."""

from __future__ import annotations

import pytest

from edgekd.errors import ConfigError, ConversionError
from edgekd.export.coreml import export_coreml, inspect_coreml


@pytest.mark.parametrize("precision, weights_int8, expected", [
    ("fp32", False, "fp32"), ("fp16", False, "fp16"), ("fp16", True, "int8-weights")])
def test_coreml_package_loads_with_right_io(tmp_path, tiny_model, lib, precision, weights_int8, expected):
    path = export_coreml(tiny_model, lib.SHAPE, tmp_path / "m.mlpackage", precision=precision,
                         weights_int8=weights_int8)
    assert path.is_dir() and sorted(p.name for p in tmp_path.iterdir()) == ["m.mlpackage"]
    info = inspect_coreml(path)
    assert info["inputs"] == [{"name": "input", "shape": [1, 3, 16, 16], "dtype": "FLOAT32"}]
    assert [o["name"] for o in info["outputs"]] == ["logits"]
    assert info["precision"] == expected
    assert info["spec_version"] >= 7  # iOS16 / macOS13 ML Program
    assert info["ops"].get("conv") == 3 and info["ops"].get("linear") == 1
    if weights_int8:  # every conv/linear weight is stored as int8
        assert info["ops"].get("constexpr_affine_dequantize") == 4


def test_coreml_rejects_unknown_precision(tmp_path, tiny_model, lib):
    with pytest.raises(ConfigError):
        export_coreml(tiny_model, lib.SHAPE, tmp_path / "m.mlpackage", precision="int4")


def test_coreml_unsupported_op_names_op_and_format(tmp_path, lib):
    with pytest.raises(ConversionError) as info:
        export_coreml(lib.SvdNet(), lib.SHAPE, tmp_path / "svd.mlpackage")
    assert info.value.fmt == "coreml"
    assert "svd" in (info.value.op or "")
    assert "coreml" in str(info.value) and "\n" not in str(info.value)
    assert list(tmp_path.iterdir()) == []
