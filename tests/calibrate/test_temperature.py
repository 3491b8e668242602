"""Temperature scaling folded into the student: logits / T from the last layer, in every format."""

import numpy as np
import pytest
import torch
import torch.nn as nn

from edgekd.calibrate.temperature import TemperatureScaled, fit_temperature, fold_temperature
from edgekd.measure.calibration import calibration_metrics


class Tiny(nn.Module):
    def __init__(self, k=4):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(1, 6, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.head = nn.Linear(6, k)

    def forward(self, x):
        return self.head(self.features(x))


class HeadThenScale(Tiny):
    """A constant follows the last Linear, so dividing that layer by T is not logits / T."""

    def forward(self, x):
        return self.head(self.features(x)) + 1.0


def logits(model, x):
    with torch.inference_mode():
        return model(torch.as_tensor(x)).numpy()


@pytest.fixture
def x():
    return np.random.default_rng(0).standard_normal((16, 1, 8, 8)).astype(np.float32)


def test_fold_into_last_linear_divides_logits(x):
    torch.manual_seed(0)
    model = Tiny().eval()
    before = logits(model, x)
    folded, where = fold_temperature(model, 2.5, x)
    assert "last layer 'head'" in where
    np.testing.assert_allclose(logits(folded, x), before / 2.5, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(logits(model, x), before)  # the original is untouched
    assert not any(isinstance(m, TemperatureScaled) for m in folded.modules())


def test_wraps_when_folding_would_be_wrong(x):
    torch.manual_seed(0)
    model = HeadThenScale().eval()
    scaled, where = fold_temperature(model, 3.0, x)
    assert where == "a division after the last layer" and isinstance(scaled, TemperatureScaled)
    np.testing.assert_allclose(logits(scaled, x), logits(model, x) / 3.0, rtol=1e-5, atol=1e-6)


def test_folded_model_exports_to_onnx_with_the_scaled_logits(x, tmp_path):
    import onnxruntime as ort

    from edgekd.export.onnx import export_onnx

    torch.manual_seed(0)
    folded, _ = fold_temperature(Tiny().eval(), 4.0, x)
    path = export_onnx(folded, (1, 8, 8), tmp_path / "t.onnx")
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    out = session.run(None, {session.get_inputs()[0].name: x[:1]})[0]
    np.testing.assert_allclose(out, logits(folded, x[:1]), atol=1e-5)


def test_fitted_temperature_fixes_overconfidence():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 5, 2000)
    clean = rng.standard_normal((2000, 5))
    clean[np.arange(2000), labels] += 1.5
    overconfident = 4.0 * clean  # same ranking, far too sharp
    t = fit_temperature(overconfident, labels)
    assert 2.5 < t < 6.0
    assert calibration_metrics(overconfident / t, labels)["ece"] < calibration_metrics(overconfident, labels)["ece"]


def test_stage_scales_the_exported_student_not_the_unpruned_one(x):
    """With pruning, ``student-pruned`` is exported, so it is the one that gets calibrated logits."""
    from types import SimpleNamespace

    from edgekd.artifact import Artifact
    from edgekd.calibrate.stage import run
    from edgekd.state import BuildState

    class Split:
        def __init__(self, seed):
            rng = np.random.default_rng(seed)
            self.x, self.y = rng.standard_normal((64, 1, 8, 8)).astype(np.float32), rng.integers(0, 4, 64)

        def numpy(self):
            return self.x, self.y

    torch.manual_seed(0)
    models = {name: Tiny().eval() for name in ("student", "student-pruned")}
    arts = [Artifact(name=n, role="student", format="torch", precision="fp32", model=m, input_shape=(1, 8, 8))
            for n, m in models.items()]
    ctx = SimpleNamespace(config=SimpleNamespace(calibration=SimpleNamespace(temperature_scaling=True)),
                          data=SimpleNamespace(val=Split(1), test=Split(2)),
                          reporter=SimpleNamespace(note=lambda text: None))
    state = run(BuildState(artifacts=tuple(arts)), ctx)
    out = {a.name: a for a in state.artifacts}
    assert out["student"].model is models["student"]
    assert out["student-pruned"].model is not models["student-pruned"]
    t = state.temperature_scaling["temperature"]
    np.testing.assert_allclose(logits(out["student-pruned"].model, x), logits(models["student-pruned"], x) / t,
                               rtol=1e-4, atol=1e-5)
