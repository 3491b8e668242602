"""An ONNX teacher: a black box in onnxruntime (CPU), plus its size read from the graph."""

from __future__ import annotations

from pathlib import Path

from ..errors import ModelFileError
from .blackbox import RunnerTeacher, check_file
from .schema import OnnxTeacher

_FIX = "re-export the model (torch.onnx.export); the file may be truncated or not an ONNX model"


class OnnxTeacherModel(RunnerTeacher):
    """The first input and first output of an ONNX model, run in onnxruntime (:class:`OrtRunner`).

    Args:
        path: The ``.onnx`` file.
        threads: onnxruntime intra-op threads.

    Raises:
        ModelFileError: Missing, empty, truncated or invalid file; a non-float input; more
            than one input.
    """

    kind = "onnx"
    prefer_layout = "nchw"

    def __init__(self, path: Path, threads: int = 2):
        from ..runtimes.onnx_runner import OrtRunner

        check_file(path, "onnx")
        try:
            runner = OrtRunner(path, threads)
        except ModelFileError as exc:
            raise ModelFileError(f"teacher {path.name} (onnx): {exc.message}", fix=exc.fix or _FIX) from None
        super().__init__(path, runner)

    def size(self, input_shape) -> tuple[int, int | None]:
        """Parameters and per-sample MACs counted from the graph (``edgekd.predict.model_facts``)."""
        from ..predict.model_facts import facts_or_unknown

        params, macs = facts_or_unknown(self.path, "onnx", [1, *self.model_input(input_shape)])
        return params or 0, macs


def load_onnx_teacher(cfg: OnnxTeacher) -> tuple[OnnxTeacherModel, str]:
    """Open an ONNX teacher (see :class:`OnnxTeacherModel`)."""
    model = OnnxTeacherModel(cfg.path)
    return model, f"ONNX teacher {cfg.path.name} (onnxruntime, black box)"
