"""Exporters: ONNX, TFLite (litert-torch) and Core ML (coremltools). Backends load lazily."""
