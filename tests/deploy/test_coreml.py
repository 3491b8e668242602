"""The bundle's Core ML package: the measured ML program made a classifier, labels and descriptions set."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from edgekd.deploy.coreml import class_labels, classifier_package
from edgekd.export.coreml import export_coreml, inspect_coreml

_spec = importlib.util.spec_from_file_location("edgekd_tests_tiny", Path(__file__).parents[1] / "export/tiny.py")
tiny = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(tiny)

LABELS = ["north", "east", "south", "west"]


@pytest.mark.parametrize("precision, weights_int8", [("fp16", False), ("fp16", True)])
def test_classifier_package_keeps_the_program_and_names_classes(tmp_path, precision, weights_int8):
    source = export_coreml(tiny.TinyNet().eval(), tiny.SHAPE, tmp_path / "m.mlpackage", precision=precision,
                           weights_int8=weights_int8)
    out = tmp_path / "bundle" / "model.mlpackage"
    out.parent.mkdir()
    classifier_package(source, out, LABELS, input_description="float32 1x3x16x16 NCHW",
                       short_description="tiny", metadata={"edgekd.artifact": "m.mlpackage"})
    assert class_labels(out) == LABELS and class_labels(source) == []
    before, after = inspect_coreml(source), inspect_coreml(out)
    assert after["precision"] == before["precision"]  # INT8 weights stay compressed
    for op in ("conv", "linear", "constexpr_affine_dequantize"):
        assert after["ops"].get(op) == before["ops"].get(op)
    assert after["ops"].get("softmax") == 1 and after["ops"].get("classify") == 1
    import coremltools as ct

    spec = ct.utils.load_spec(str(out))
    assert spec.description.input[0].shortDescription == "float32 1x3x16x16 NCHW"
    assert spec.description.metadata.shortDescription == "tiny"
    assert spec.description.metadata.userDefined["edgekd.artifact"] == "m.mlpackage"
    assert {o.name for o in spec.description.output} == {"classLabel", "classLabel_probs"}
    assert [p.name for p in out.parent.iterdir()] == ["model.mlpackage"]  # written atomically, no temp left
