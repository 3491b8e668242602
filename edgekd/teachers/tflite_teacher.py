"""A TFLite teacher: a black box in the LiteRT interpreter (``ai_edge_litert``).

Integer I/O, batching and a fixed batch are the runner's (``edgekd.runtimes.litert_runner``);
NHWC models get our NCHW batches transposed (decided from the declared input shape, see
``resolve_layout``).
"""

from __future__ import annotations

from pathlib import Path

from ..errors import ModelFileError
from .blackbox import RunnerTeacher, check_file
from .schema import TFLiteTeacher

_FIX = "re-export the model (litert_torch.convert(...).export(path) or tf.lite.TFLiteConverter); the file may be " \
       "truncated or not a .tflite"


class TFLiteTeacherModel(RunnerTeacher):
    """The first input and output of a ``.tflite`` model in LiteRT (:class:`LiteRTRunner`).

    Raises:
        ModelFileError: Missing, empty, truncated or not a TFLite file; integer I/O without
            a single scale.
    """

    kind = "tflite"
    prefer_layout = "nhwc"  # TF's convention, when the shape alone cannot tell

    def __init__(self, path: Path, threads: int = 2):
        from ..runtimes.litert_runner import LiteRTRunner

        check_file(path, "tflite")
        try:
            runner = LiteRTRunner(path, threads)
        except ModelFileError as exc:
            raise ModelFileError(f"teacher {path.name} (tflite): {exc.message}", fix=exc.fix or _FIX) from None
        super().__init__(path, runner)
        self.input_q, self.output_q = runner.input_q, runner.output_q


def load_tflite_teacher(cfg: TFLiteTeacher) -> tuple[TFLiteTeacherModel, str]:
    """Open a TFLite teacher (see :class:`TFLiteTeacherModel`)."""
    model = TFLiteTeacherModel(cfg.path)
    io = "int8 I/O" if model.input_q or model.output_q else "float I/O"
    return model, f"TFLite teacher {cfg.path.name} (LiteRT, black box, {io})"
