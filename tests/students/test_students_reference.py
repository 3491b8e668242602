"""Published size figures, scaling behaviour and the small-input stride rule."""

from __future__ import annotations

import pytest
import torch

from edgekd.students import build_student, count_params_macs
from edgekd.students.blocks import adapt_strides, make_divisible


def _size(name, shape, classes=1000, **options):
    return count_params_macs(build_student(name, classes, shape, **options), shape)


def test_mobilenetv2_reference_300m_macs_347m_params():
    params, macs = _size("mobilenetv2", (3, 224, 224))
    assert macs == pytest.approx(300e6, rel=0.02)
    assert params == pytest.approx(3.47e6, rel=0.02)


@pytest.mark.parametrize(("name", "ref_macs", "ref_params"), [
    ("mobilenetv3-large", 217e6, 5.4e6),
    ("mobilenetv3-small", 56e6, 2.5e6),
])
def test_mobilenetv3_reference(name, ref_macs, ref_params):
    params, macs = _size(name, (3, 224, 224))
    assert macs == pytest.approx(ref_macs, rel=0.05)
    assert params == pytest.approx(ref_params, rel=0.05)


@pytest.mark.parametrize(("size", "paper_ops"), [("s", 5.4e6), ("m", 19.8e6), ("l", 56.9e6)])
def test_dscnn_matches_hello_edge_ops(size, paper_ops):
    # The paper counts one MAC as two operations, at 1 x 49 x 10 MFCC and 12 classes.
    _params, macs = _size("ds-cnn", (1, 49, 10), classes=12, size=size)
    assert 2 * macs == pytest.approx(paper_ops, rel=0.05)


@pytest.mark.parametrize(("size", "expected"), [("s", (64, 25, 5)), ("m", (172, 25, 9))])
def test_dscnn_first_conv_padding_is_near_tensorflow_same(size, expected):
    # S matches the paper's TF 'SAME' (ceil(49/2) x ceil(10/2)); M's stride-1 axis cannot be
    # matched with symmetric padding and an even kernel (10 -> 9, see edgekd/students/dscnn.py).
    model = build_student("ds-cnn", 12, (1, 49, 10), size=size).eval()
    assert model.conv1(torch.zeros(1, 1, 49, 10)).shape == (1, *expected)


def test_dscnn_exports_without_pad_ops(tmp_path):
    import onnx

    model = build_student("ds-cnn", 12, (1, 49, 10), size="m").eval()
    torch.onnx.export(model, (torch.zeros(1, 1, 49, 10),), str(tmp_path / "m.onnx"), opset_version=17, dynamo=False)
    ops = {node.op_type for node in onnx.load(str(tmp_path / "m.onnx")).graph.node}
    assert "Pad" not in ops and "Slice" not in ops


@pytest.mark.parametrize("name", ["mobilenetv2", "mobilenetv3-small", "mobilenetv3-large", "ds-cnn"])
def test_width_lowers_macs_monotonically(name):
    shape = (1, 49, 10) if name == "ds-cnn" else (3, 32, 32)
    sizes = [_size(name, shape, classes=10, width=w) for w in (1.0, 0.75, 0.5, 0.35)]
    macs = [m for _p, m in sizes]
    params = [p for p, _m in sizes]
    assert macs == sorted(macs, reverse=True) and len(set(macs)) == len(macs)
    assert params == sorted(params, reverse=True)


def test_mobilenetv2_depth_and_se_change_size():
    base = _size("mobilenetv2", (3, 32, 32), classes=10)
    shallow = _size("mobilenetv2", (3, 32, 32), classes=10, depth=0.5)
    with_se = _size("mobilenetv2", (3, 32, 32), classes=10, se=True)
    assert shallow[1] < base[1] and shallow[0] < base[0]
    assert with_se[0] > base[0]


def test_make_divisible():
    assert make_divisible(32) == 32
    assert make_divisible(32 * 0.35) == 16  # 8 would drop > 10 % of 11.2
    assert make_divisible(3) == 8
    assert all(make_divisible(v) % 8 == 0 for v in (12.5, 100, 1280 * 0.75))


@pytest.mark.parametrize(("hw", "expected"), [
    ((224, 224), [2, 1, 2, 2, 2, 1, 2, 1]),  # ImageNet: untouched, 7x7 at the end
    ((64, 64), [2, 1, 2, 2, 2, 1, 2, 1]),    # threshold: still ImageNet-style, 2x2 at the end
    ((32, 32), [1, 1, 1, 2, 2, 1, 2, 1]),    # CIFAR: stem and first stride-2 stage -> 4x4
    ((40, 32), [1, 1, 1, 2, 2, 1, 2, 1]),    # log-mel 40x32 -> 5x4
    ((8, 8), [1, 1, 1, 1, 2, 1, 2, 1]),      # digits: one more stride dropped -> 2x2
    ((1, 1), [1, 1, 1, 1, 1, 1, 1, 1]),      # nothing left to drop
])
def test_small_input_stride_rule(hw, expected):
    assert adapt_strides([2, 1, 2, 2, 2, 1, 2, 1], hw) == expected


@pytest.mark.parametrize("name", ["mobilenetv2", "mobilenetv3-small", "mobilenetv3-large"])
@pytest.mark.parametrize("shape", [(1, 8, 8), (3, 32, 32), (1, 40, 32)])
def test_final_feature_map_at_least_2x2(name, shape):
    model = build_student(name, 10, shape).eval()
    with torch.no_grad():
        features = model.stages(model.stem(torch.zeros(1, *shape)))
    assert min(features.shape[-2:]) >= 2
