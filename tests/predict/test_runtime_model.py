"""Per-runtime latency models: the fit, the prediction, the profile section, the predictor's choice."""

from __future__ import annotations

import numpy as np
import pytest

from edgekd.errors import TargetError
from edgekd.predict.latency import predict_latency
from edgekd.predict.runtime_model import FEATURES, fit, fit_model, graph_features, node_features, predict_with_model
from edgekd.targets import load_target, profile_from_dict

from .test_latency import _conv_model

# Plausible seconds per unit: 5 µs per run, 2 µs per conv node, 0.5 µs per other node, ...
TRUE_COEF = np.array([5e-6, 2e-6, 5e-7, 1e-11, 8e-11, 1.5e-11, 4e-11, 2e-12, 6e-12, 5e-11, 1e-11, 3e-12])


def _networks(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    rows = np.column_stack([np.ones(n), rng.integers(5, 60, n), rng.integers(1, 12, n),
                            rng.uniform(0, 5e7, n), rng.uniform(0, 3e6, n), rng.uniform(0, 4e7, n),
                            rng.uniform(1e3, 2e6, n), rng.uniform(1e5, 1e7, n), rng.uniform(1e3, 1e6, n),
                            rng.uniform(0, 1e6, n), rng.uniform(0, 1e7, n), rng.uniform(0, 1e6, n)])
    return rows


def test_fit_recovers_the_coefficients_of_exact_data():
    features = _networks(30)
    coef = fit(features, features @ TRUE_COEF)
    np.testing.assert_allclose(coef, TRUE_COEF, rtol=1e-6, atol=1e-15)


def test_fit_model_reports_leave_one_out_quality_and_band():
    features = _networks(30, seed=1)
    noise = np.random.default_rng(2).normal(0, 0.03, 30)
    model = fit_model({(1, 1): features}, features @ TRUE_COEF * (1 + noise), {"threads": 2})
    assert set(model["coefficients"]) == set(FEATURES)
    assert all(v >= 0 for v in model["coefficients"].values())
    assert 0 < model["fit"]["loo_median_abs_error"] < 0.06
    assert model["band"]["low"] < 0 < model["band"]["high"]
    assert model["fit"]["networks"] == 30 and model["about"] == {"threads": 2}


def test_fit_model_needs_more_networks_than_coefficients():
    features = _networks(13)
    with pytest.raises(ValueError, match="at least 14"):
        fit_model({(1, 1): features}, features @ TRUE_COEF, {})


def test_fit_model_keeps_the_channel_tile_that_explains_the_timings():
    good = _networks(30, seed=3)
    bad = good.copy()
    bad[:, 3] *= np.random.default_rng(4).uniform(0.3, 1.7, 30)  # dense MACs as another tile would pad them
    model = fit_model({(1, 1): bad, (8, 8): good}, good @ TRUE_COEF, {})
    assert (model["channel_tile"], model["align_tile"]) == (8, 8) and model["fit"]["loo_median_abs_error"] < 1e-6


def test_node_features_pad_channels_to_the_tile_and_mark_unaligned_convs():
    assert node_features("pointwise", 1000, 64, (16, 20), tiles=(1, 1)) == {
        "conv_nodes": 1.0, "macs_pointwise": 1000.0, "bytes_conv": 64.0}
    aligned = node_features("pointwise", 1000, 64, (16, 32), tiles=(16, 16))
    assert aligned == {"conv_nodes": 1.0, "macs_pointwise": 1000.0, "bytes_conv": 64.0}
    odd = node_features("pointwise", 1000, 64, (16, 20), tiles=(16, 16))  # 20 channels run as 32
    assert odd["macs_pointwise"] == pytest.approx(1600.0) and odd["macs_unaligned_dense"] == 1000.0
    assert odd["bytes_unaligned"] == 64.0
    padded_only = node_features("pointwise", 1000, 64, (16, 20), tiles=(16, 4))  # padded, not slow-path
    assert padded_only["macs_pointwise"] == pytest.approx(1600.0) and "macs_unaligned_dense" not in padded_only
    depthwise = node_features("depthwise", 90, 8, (24, 24), tiles=(16, 16))
    assert depthwise["macs_unaligned_depthwise"] == 90.0 and "macs_unaligned_dense" not in depthwise
    assert node_features("elementwise", 0, 32, None, tiles=(16, 16)) == {"other_nodes": 1.0, "bytes_other": 32.0}


def _model_dict(band=(-0.1, 0.2)) -> dict:
    return {"channel_tile": 1, "align_tile": 1, "coefficients": dict(zip(FEATURES, TRUE_COEF.tolist())),
            "band": {"low": band[0], "high": band[1]},
            "fit": {"networks": 24, "loo_median_abs_error": 0.04, "loo_within_10pct": 0.9,
                    "measured_ms_range": [0.05, 3.0]}, "about": {}}


def test_prediction_is_the_sum_of_node_shares_plus_the_run_cost(tmp_path):
    path = _conv_model(tmp_path)
    vector, nodes = graph_features(path)
    assert [n["op_class"] for n in nodes] == ["conv", "pool", "gemm"]  # relu fused, flatten a view
    pred = predict_with_model(path, _model_dict())
    assert pred["p50"] == pytest.approx(float(vector @ TRUE_COEF) * 1e3)
    assert pred["p50"] == pytest.approx(pred["run_ms"] + sum(op["ms"] for op in pred["per_op"]))
    # measured <= p50 / (1 - 0.1) and >= p50 / (1 + 0.2)
    assert pred["low"] == pytest.approx(pred["p50"] / 1.2) and pred["high"] == pytest.approx(pred["p50"] / 0.9)


def test_predictor_uses_the_runtime_model_only_for_its_runtime_and_precision(tmp_path):
    data = load_target("host").model_dump(mode="json")
    data["latency_models"] = {"litert": {"fp32": _model_dict()}}
    profile = profile_from_dict(data)
    path = _conv_model(tmp_path)
    litert = predict_latency(path, profile, "fp32", runtime="litert")
    assert litert["method"] == "runtime-model:litert"
    assert litert["p50"] == pytest.approx(predict_with_model(path, _model_dict())["p50"])
    for runtime, precision in (("onnxruntime", "fp32"), ("litert", "int8"), (None, "fp32")):
        other = predict_latency(path if precision == "fp32" else _conv_model(tmp_path, qdq=True), profile, precision,
                                runtime=runtime)
        assert other["method"] == "roofline"


@pytest.mark.parametrize(("change", "message"), [
    (lambda m: m["coefficients"].pop("run"), "coefficients must name exactly"),
    (lambda m: m["coefficients"].update(bytes_other=-1.0), "cannot be negative"),
    (lambda m: m.update(extra=1), "unknown key"),
])
def test_profile_rejects_a_bad_runtime_model_in_one_line(change, message):
    data = load_target("host").model_dump(mode="json")
    model = _model_dict()
    change(model)
    data["latency_models"] = {"onnxruntime": {"fp32": model}}
    with pytest.raises(TargetError) as info:
        profile_from_dict(data, source="board.yaml")
    text = info.value.one_line()
    assert "latency_models.onnxruntime.fp32" in text and message in text and "\n" not in text


def test_profile_rejects_an_unknown_runtime():
    data = load_target("host").model_dump(mode="json")
    data["latency_models"] = {"tensorrt": {"fp32": _model_dict()}}
    with pytest.raises(TargetError, match="latency_models.tensorrt"):
        profile_from_dict(data)
