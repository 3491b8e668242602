"""Temperature scaling (Guo et al. 2017) fitted on the val split and folded into the student.

With ``calibration.temperature_scaling: true`` the calibrate stage runs after training and
before export: it fits ``T`` minimising the validation NLL of ``softmax(logits / T)``, then divides
the weights and bias of the student's last linear layer by ``T``, so every exported format
(ONNX, TFLite, Core ML, and the INT8 models quantized from them) emits calibrated logits with
no extra op. When the last layer cannot be found or folding does not reproduce
``logits / T``, the student is wrapped in a module that divides its output by ``T`` instead.
Top-1 never changes; the report gets ECE before/after on val and test.
"""

from __future__ import annotations

import copy
import math

import numpy as np
import torch
import torch.nn as nn

from ..measure.calibration import check_logits, log_softmax

# The stage runs inside a build, which has imported torch already (``import edgekd`` never loads this).
# Folding is accepted when it reproduces logits / T this closely (float32 rounding only).
_FOLD_ATOL = 1e-4
# Temperature search range. T below 0.05 or above 20 means the model is broken rather
# than miscalibrated; clipping keeps the optimiser away from flat, meaningless regions.
T_MIN, T_MAX = 0.05, 20.0


def scale_student(model, data) -> tuple[object, dict]:
    """Fit ``T`` on ``data.val`` and return ``(scaled copy of model, report entry)``."""
    from ..measure.calibration import calibration_metrics

    x_val, y_val = data.val.numpy()
    x_test, y_test = data.test.numpy()
    val_logits, test_logits = _logits(model, x_val), _logits(model, x_test)
    t = fit_temperature(val_logits, y_val)
    scaled, where = fold_temperature(model, t, x_val[:16])
    before = {"val": calibration_metrics(val_logits, y_val)["ece"],
              "test": calibration_metrics(test_logits, y_test)["ece"]}
    after = {"val": calibration_metrics(_logits(scaled, x_val), y_val)["ece"],
             "test": calibration_metrics(_logits(scaled, x_test), y_test)["ece"]}
    return scaled, {"enabled": True, "temperature": float(t), "fitted_on": "val", "folded_into": where,
                    "ece_before": before, "ece_after": after}


def fold_temperature(model, temperature: float, sample: np.ndarray):
    """A copy of ``model`` whose logits are ``model(x) / temperature``.

    Returns:
        ``(module, where)``: ``where`` names the layer the division was folded into, or says
        the model was wrapped.
    """
    expected = _logits(model, sample) / temperature
    folded = copy.deepcopy(model).eval()
    last_name, last = _last_linear(folded)
    if last is not None:
        with torch.no_grad():
            last.weight.div_(temperature)
            if last.bias is not None:
                last.bias.div_(temperature)
        if np.allclose(_logits(folded, sample), expected, atol=_FOLD_ATOL, rtol=1e-4):
            return folded, f"folded into the weights of the last layer '{last_name}'"
    wrapped = TemperatureScaled(copy.deepcopy(model).eval(), temperature)
    return wrapped, "a division after the last layer"


def _last_linear(model):
    """The last ``nn.Linear`` (or 1x1 conv head) in registration order: the classifier of our students."""
    found: tuple[str | None, nn.Module | None] = (None, None)
    for name, module in model.named_modules():
        if isinstance(module, nn.Linear) or (isinstance(module, nn.Conv2d) and module.kernel_size == (1, 1)):
            found = (name, module)
    return found


def _logits(model, x: np.ndarray) -> np.ndarray:
    model.eval()
    outs = []
    with torch.inference_mode():
        for i in range(0, len(x), 256):
            outs.append(model(torch.as_tensor(x[i:i + 256])).float().reshape(min(256, len(x) - i), -1).numpy())
    return np.concatenate(outs).astype(np.float64)


class TemperatureScaled(nn.Module):
    """``inner(x) / T`` with ``T`` a constant (exported as one Div by every converter)."""

    def __init__(self, inner: nn.Module, temperature: float) -> None:
        super().__init__()
        self.inner = inner
        self.temperature = float(temperature)

    def forward(self, x):  # noqa: D102
        return self.inner(x) / self.temperature


def _nll_at(logits: np.ndarray, labels: np.ndarray, temperature: float) -> float:
    logp = log_softmax(logits / temperature)
    return float(-logp[np.arange(len(labels)), labels].mean())


def fit_temperature(val_logits, val_labels) -> float:
    """Temperature ``T`` minimising validation NLL of ``softmax(logits / T)``.

    A one-dimensional bounded search on ``log T`` in ``[log 0.05, log 20]`` (scipy's
    bounded Brent method; the NLL is smooth and unimodal in ``log T`` for fixed logits).
    Temperature scaling never changes top-1, only confidence.

    Args:
        val_logits: Validation logits ``[N, K]`` (never the test split).
        val_labels: Validation labels ``[N]``.

    Returns:
        The fitted temperature, or ``1.0`` for degenerate input (no samples, one class,
        non-finite logits, or logits that are constant per row so ``T`` has no effect).
    """
    logits, labels = check_logits(val_logits, val_labels)
    if logits.shape[0] == 0 or logits.shape[1] < 2 or not np.isfinite(logits).all():
        return 1.0
    if np.ptp(logits, axis=1).max() <= 1e-12:
        return 1.0
    from scipy.optimize import minimize_scalar

    res = minimize_scalar(lambda lt: _nll_at(logits, labels, math.exp(lt)),
                          bounds=(math.log(T_MIN), math.log(T_MAX)), method="bounded",
                          options={"xatol": 1e-6})
    t = float(math.exp(res.x))
    # Keep T=1 unless the fit really is better: avoids reporting noise as a correction.
    if not np.isfinite(t) or _nll_at(logits, labels, t) > _nll_at(logits, labels, 1.0):
        return 1.0
    return t
