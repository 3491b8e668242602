"""quantize.float_first_conv: explicit values, where auto cannot apply, and auto decided on the target's prediction."""

from __future__ import annotations

import onnx
import pytest
import torch

from edgekd.artifact import Artifact
from edgekd.config import load_config
from edgekd.data.bundle import DataBundle, Split
from edgekd.export.onnx import export_onnx
from edgekd.pipeline import BuildContext
from edgekd.progress import NullReporter
from edgekd.quantize import first_conv as fc
from edgekd.quantize import stage
from edgekd.state import BuildState
from edgekd.students import build_student
from edgekd.targets import load_target

SPECTROGRAM = (1, 49, 10)  # a keyword-spotting input: one channel, 49 frames x 10 coefficients


def _ctx(tmp_path, overrides=(), target="raspberry-pi-4", shape=SPECTROGRAM) -> BuildContext:
    def split(n, seed):
        g = torch.Generator().manual_seed(seed)
        return Split(x=torch.randn((n, *shape), generator=g), y=torch.randint(0, 4, (n,), generator=g))

    data = DataBundle(name="kws", task="audio", class_names=tuple("abcd"), input_shape=shape, train=split(16, 1),
                      val=split(16, 2), test=split(16, 3), representative=split(16, 4))
    return BuildContext(config=load_config(None, list(overrides)), target=load_target(target), out_dir=tmp_path,
                        data=data, reporter=NullReporter(), threads=1)


def _ds_cnn():
    torch.manual_seed(0)
    return build_student("ds-cnn", 4, SPECTROGRAM, size="s", width=0.75).eval()


IMAGE = (3, 32, 32)


@pytest.fixture(scope="module")
def graphs(tmp_path_factory):
    """FP32 ONNX of the DS-CNN student on a spectrogram and of MobileNetV2 (width 0.35) on a 32x32 RGB image."""
    folder = tmp_path_factory.mktemp("first-conv")
    torch.manual_seed(0)
    image_net = build_student("mobilenetv2", 4, IMAGE, width=0.35).eval()
    return {"kws": export_onnx(_ds_cnn(), SPECTROGRAM, folder / "ds-cnn.onnx"),
            "image": export_onnx(image_net, IMAGE, folder / "mobilenetv2.onnx")}


@pytest.fixture(autouse=True)
def fresh_memo():
    fc._DECISIONS.clear()


def test_auto_keeps_a_one_channel_first_conv_float_where_the_device_model_predicts_it_faster(tmp_path, graphs):
    # The Raspberry Pi 4's int8 kernels (no dot product) pad each tap's input channels to 8: the
    # 10x4 first conv on one channel does 8x its MACs in int8, not in fp32. (Predicted 0.80x here;
    # 0.65x for the bench's speech student on its 97x40 log-mels.)
    decision = fc.first_conv(graphs["kws"], _ctx(tmp_path), "onnx")
    ms = decision.predicted_ms
    assert decision.float and ms["first_conv_float"] < 0.9 * ms["all_int8"], decision
    assert "raspberry-pi-4 (device-model:onnxruntime)" in decision.reason


def test_auto_keeps_every_op_int8_for_a_3x3_conv_on_rgb(tmp_path, graphs):
    # 3 channels padded to 8 on a 3x3 kernel: a small conv of the whole; the float conv's output must be
    # quantized for the next layer anyway, so it is not predicted >= 3% faster.
    decision = fc.first_conv(graphs["image"], _ctx(tmp_path, shape=IMAGE), "tflite")
    ms = decision.predicted_ms
    assert not decision.float and ms["first_conv_float"] > (1 - fc.MARGIN) * ms["all_int8"], decision


def test_auto_keeps_every_op_int8_where_the_prediction_is_a_roofline(tmp_path, graphs):
    # A profile without device facts is costed by the roofline, which pads no tile: it sees only a
    # float conv slower than an int8 one, so auto never keeps it float there.
    decision = fc.first_conv(graphs["kws"], _ctx(tmp_path, target="jetson-orin-nano"), "onnx")
    assert not decision.float and "(roofline)" in decision.reason, decision


@pytest.mark.parametrize(("overrides", "target", "fmt", "why"), [
    ((), "stm32h743", "tflite", "the tflite-micro runtime runs integer kernels only"),
    ((), "coral-dev-board", "tflite", "the edgetpu runtime runs integer kernels only"),
    (("quantize.tflite_engine=pt2e",), "raspberry-pi-4", "tflite", "tflite_engine pt2e makes every op int8"),
    (("quantize.engine=inc",), "raspberry-pi-4", "onnx", "engine inc chooses its own float ops"),
    ((), "raspberry-pi-4", "coreml", "coreml INT8 does not quantize activations"),
])
def test_auto_is_off_where_a_float_conv_cannot_be_kept_and_predicts_nothing(tmp_path, overrides, target, fmt, why):
    decision = fc.first_conv(lambda: pytest.fail("no graph is needed"), _ctx(tmp_path, overrides, target), fmt)
    assert (decision.float, decision.reason, decision.predicted_ms) == (False, f"auto: {why}", None)


@pytest.mark.parametrize("value", [True, False])
def test_an_explicit_value_is_used_as_set(tmp_path, value):
    decision = fc.first_conv(lambda: pytest.fail("no graph is needed"),
                             _ctx(tmp_path, [f"quantize.float_first_conv={str(value).lower()}"]), "onnx")
    assert (decision.float, decision.predicted_ms) == (value, None)


def test_a_decision_is_made_once_per_graph_and_target(tmp_path, graphs, monkeypatch):
    from edgekd.quantize import ort_static

    calls = []
    real = ort_static.quantize_onnx_static
    monkeypatch.setattr(ort_static, "quantize_onnx_static", lambda *a, **k: calls.append(1) or real(*a, **k))
    ctx = _ctx(tmp_path)
    first = fc.first_conv(graphs["kws"], ctx, "onnx")
    assert fc.first_conv(graphs["kws"], ctx, "onnx") == first and len(calls) == 2  # two variants, costed once
    fc.first_conv(graphs["kws"], _ctx(tmp_path, target="pixel-8"), "onnx")
    assert len(calls) == 4


def test_the_quantize_stage_ships_the_decision_and_records_why(tmp_path):
    ctx = _ctx(tmp_path)
    model = _ds_cnn()
    student = Artifact(name="student", role="student", format="torch", precision="fp32", model=model,
                       input_shape=SPECTROGRAM)
    path, rel = ctx.artifact_file("student-fp32.onnx")
    export_onnx(model, SPECTROGRAM, path)
    fp32 = student.evolve(name="student-fp32.onnx", format="onnx", path=rel, parent="student")
    int8 = stage.run(BuildState(artifacts=(student, fp32)), ctx).artifacts[-1]
    graph = onnx.load(str(ctx.resolve(int8.path))).graph
    made_by = {out: node.op_type for node in graph.node for out in node.output}
    weight_sources = [made_by.get(node.input[1], "initializer") for node in graph.node if node.op_type == "Conv"]
    assert weight_sources[0] == "initializer" and set(weight_sources[1:]) == {"DequantizeLinear"}
    assert int8.metrics["first_conv"]["float"] and "first conv kept in float" in int8.notes[0]
    assert int8.metrics["first_conv"]["reason"].startswith("auto: predicted on raspberry-pi-4")
    assert int8.notes[1].startswith("quantize.float_first_conv auto: predicted on raspberry-pi-4")
