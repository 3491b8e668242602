"""benchmarks/first_conv.py: the RESULTS section from a results dict worked by hand."""


def _decision(float_, ms, method="device-model:onnxruntime"):
    if ms is None:
        return {"float": False, "reason": "auto: the tflite-micro runtime runs integer kernels only",
                "predicted_ms": None}
    return {"float": float_, "reason": f"auto: predicted on x ({method}) ...",
            "predicted_ms": {"all_int8": ms[0], "first_conv_float": ms[1]}}


def test_section_shows_the_ratio_the_decision_and_the_host_measurement(bench_module):
    bench = bench_module("first_conv")
    both = lambda d: {"onnx": d, "tflite": d}  # noqa: E731
    results = {"date_utc": "2026-12-01 04:00 UTC", "students": {
        "speech": {"input_shape": [1, 97, 40], "decisions": {
            "raspberry-pi-4": both(_decision(True, (2.0, 1.3))),
            "host": {"onnx": _decision(False, (0.10, 0.111), "roofline"),
                     "tflite": _decision(False, (0.10, 0.109), "roofline")},
            "stm32h743": both(_decision(False, None))}}},
        "measured_host": {"speech": {"onnx": {"int8-ort.onnx": 0.230, "int8-ort-f1.onnx": 0.209},
                                     "tflite": {"int8-aeq.tflite": 0.233}}}}
    lines = bench.render(results).splitlines()
    assert "| raspberry-pi-4 | device-model:onnxruntime | **F** 0.65 |" in lines  # 1.3 / 2.0
    assert "| host | roofline | 1.11 / 1.09 |" in lines  # the formats differ: both shown
    assert "| stm32h743 | – | – |" in lines
    assert "| speech | 0.91 (209 / 230 µs) | – |" in lines  # 0.209 / 0.230; TFLite lacks the f1 run
