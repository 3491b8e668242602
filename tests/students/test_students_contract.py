"""Every registered student honours the build/forward/count/export contract."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from edgekd.students import build_student, count_params_macs, list_students

# Small, odd shapes on purpose: non-square, unusual channel counts, class counts that are not
# 10 or 1000, so a hard-coded assumption anywhere shows up as a shape error.
SMALL_SHAPE = {"image": (3, 20, 24), "audio": (1, 49, 10), "any": (2, 18, 14)}
NUM_CLASSES = 7

CASES = [pytest.param(info.name, {}, SMALL_SHAPE[info.task], id=info.name) for info in list_students()]
# Option combinations the defaults do not exercise (SE + hard-swish in V2, DS-CNN M/L strides).
CASES += [
    pytest.param("mobilenetv2", {"se": True, "activation": "hswish", "width": 0.5, "depth": 0.5},
                 (3, 16, 16), id="mobilenetv2-se-hswish"),
    pytest.param("ds-cnn", {"size": "m", "width": 0.25}, (1, 30, 12), id="ds-cnn-m"),
    pytest.param("ds-cnn", {"size": "l", "width": 0.25}, (2, 12, 8), id="ds-cnn-l"),
]


def _randomise_batchnorm(model: nn.Module) -> None:
    # Fresh BN layers are identities; random statistics make the export check cover BN folding.
    g = torch.Generator().manual_seed(0)
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            n = m.num_features
            m.running_mean.copy_(torch.rand(n, generator=g) * 0.2 - 0.1)
            m.running_var.copy_(torch.rand(n, generator=g) + 0.5)
            m.weight.data.copy_(torch.rand(n, generator=g) + 0.5)
            m.bias.data.copy_(torch.rand(n, generator=g) * 0.2 - 0.1)
        elif isinstance(m, nn.Linear):
            # The reference init (std 0.01) gives near-zero logits, which would make any
            # absolute tolerance pass; use torch's default init instead.
            m.reset_parameters()


def test_registry_lists_the_families():
    names = {info.name for info in list_students()}
    assert {"mobilenetv2", "mobilenetv3-small", "mobilenetv3-large", "ds-cnn"} <= names


@pytest.mark.parametrize(("name", "options", "shape"), CASES)
def test_student_contract(name, options, shape, tmp_path):
    import onnxruntime as ort

    torch.manual_seed(0)
    model = build_student(name, NUM_CLASSES, shape, **options)
    assert model.training, "a fresh student is ready to train"

    # Forward, in training mode too (BatchNorm needs > 1 sample per channel there).
    x = torch.randn(3, *shape)
    assert model(x).shape == (3, NUM_CLASSES)

    # Feature layers: 2-4 submodules whose outputs are 4-D feature maps of this input.
    layers = model.feature_layers()
    assert 2 <= len(layers) <= 4
    submodules = set(model.modules())
    assert all(m in submodules for m in layers.values())
    seen = {}
    hooks = [m.register_forward_hook(lambda _m, _i, out, k=k: seen.__setitem__(k, out.shape))
             for k, m in layers.items()]
    model.eval()
    with torch.no_grad():
        model(x)
    for h in hooks:
        h.remove()
    assert set(seen) == set(layers) and all(len(s) == 4 and s[0] == 3 for s in seen.values())

    params, macs = count_params_macs(model, shape)
    assert params == sum(p.numel() for p in model.parameters()) and macs > 0

    # ONNX (legacy exporter, opset 17) runs in onnxruntime and matches torch.
    _randomise_batchnorm(model)
    model.eval()
    path = tmp_path / f"{name}.onnx"
    torch.onnx.export(model, (x[:1],), str(path), opset_version=17, dynamo=False,
                      input_names=["input"], output_names=["logits"],
                      dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}})
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    with torch.no_grad():
        expected = model(x).numpy()
    got = session.run(None, {"input": x.numpy()})[0]
    assert got.shape == expected.shape
    assert np.abs(expected).max() > 1e-3, "logits too small for the tolerance to mean anything"
    assert np.abs(got - expected).max() < 1e-4
