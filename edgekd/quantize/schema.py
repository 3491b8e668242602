"""The ``quantize`` config section (kept in the quantize room; :mod:`edgekd.config` embeds it)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from ..sections import Section


class QuantizeConfig(Section):
    """Post-training static INT8, activation ranges set on the representative samples."""

    enabled: bool = Field(True, description="write INT8 models (static, on the representative samples)")
    method: Literal["minmax", "entropy", "percentile"] = Field("minmax",
        description="how activation ranges are chosen from the representative samples")
    per_channel: bool = Field(True, description="per-output-channel weight scales (else per tensor)")
    accuracy_aware: bool = Field(False, description="keep the most sensitive ops in float (ONNX; TFLite: see "
                                 "tflite_fallback) until the val top-1 drop fits max_top1_drop")
    engine: Literal["edgekd", "inc"] = Field("edgekd", description="ONNX INT8: edgekd = onnxruntime static "
                                             "(accuracy-aware loop with accuracy_aware); inc = Intel Neural "
                                             "Compressor's autotune on the val split (always accuracy-aware)")
    tflite_engine: Literal["aeq", "pt2e", "qat", "auto"] = Field(
        "auto", description="TFLite INT8: aeq = AI Edge Quantizer on the FP32 .tflite (per-op recipes, fast); pt2e = "
        "litert-torch PT2E (converts the model again, every op int8); qat = PT2E after quantization-aware "
        "fine-tuning towards the FP32 model's outputs (qat_epochs over the train split; every op int8); auto = pt2e "
        "(aeq with accuracy_aware or a float first conv), then qat only if its val drop misses max_top1_drop (the "
        "smaller val drop is kept)")
    tflite_fallback: Literal["auto", "float", "int16", "none"] = Field(
        "auto", description="accuracy-aware TFLite (aeq): sensitive ops fall back to float, or to int16 activations "
        "with int8 weights (stays fully integer); auto = int16 for tflite-micro, none for edgetpu, else float")
    max_top1_drop: float | None = Field(None, ge=0, le=1, description="accuracy-aware budget (absolute, on val); "
                                        "default: the target's max_top1_drop, else 0.01")
    max_trials: int = Field(10, ge=1, description="accuracy-aware: most op sets tried")
    qat_epochs: int = Field(2, ge=1, description="tflite_engine qat: fine-tuning passes over the train split")
    qat_lr: float = Field(1e-5, gt=0, le=1, description="tflite_engine qat: Adam learning rate of the fine-tune")
    tflite_int8_io: Literal["auto"] | bool = Field("auto", description="int8 TFLite input/output; auto = "
                                                    "true for tflite-micro and edgetpu runtimes")
    float_first_conv: Literal["auto"] | bool = Field(
        "auto", description="keep the first conv (and ops before it) in float: int8 kernels pad a conv's input "
        "channels to their tile, so on a one-channel input it can run slower than float; auto = when the target's "
        "latency model predicts it >= 3% faster (never on tflite-micro/edgetpu, with engine inc or tflite_engine "
        "pt2e/qat); ONNX, TFLite aeq/auto")

    @model_validator(mode="after")
    def _float_first_conv_needs_a_per_op_engine(self) -> "QuantizeConfig":
        if self.float_first_conv is True and (self.tflite_engine in ("pt2e", "qat") or self.engine == "inc"):
            raise ValueError("float_first_conv needs engine edgekd and tflite_engine aeq or auto (inc chooses its "
                             "own float ops; pt2e and qat make every op int8)")
        return self
