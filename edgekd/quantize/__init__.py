"""Post-training INT8: onnxruntime static, Intel Neural Compressor tuning, TFLite, Core ML."""
