"""An ONNX teacher: a black box in onnxruntime (CPU), plus its size read from the graph."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import ModelFileError
from .blackbox import BlackBoxTeacher, check_file, load_failed
from .schema import OnnxTeacher

_FIX = "re-export the model (torch.onnx.export); the file may be truncated or not an ONNX model"
_FLOAT_TYPES = {"tensor(float)": np.float32, "tensor(float16)": np.float16, "tensor(double)": np.float64}


class OnnxTeacherModel(BlackBoxTeacher):
    """The first input and first output of an ONNX model, run in onnxruntime.

    Args:
        path: The ``.onnx`` file.
        threads: onnxruntime intra-op threads.

    Raises:
        ModelFileError: Missing, empty, truncated or invalid file; a non-float input; more
            than one required input.
    """

    kind = "onnx"
    prefer_layout = "nchw"

    def __init__(self, path: Path, threads: int = 2):
        check_file(path, "onnx")
        import onnxruntime as ort

        opts = ort.SessionOptions()
        opts.intra_op_num_threads = max(1, int(threads))
        opts.log_severity_level = 3  # initializer warnings are not the user's problem
        try:
            session = ort.InferenceSession(str(path), sess_options=opts, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime's Fail / InvalidProtobuf / InvalidGraph
            raise load_failed(path, "onnx", exc, _FIX) from None
        inputs = session.get_inputs()
        if len(inputs) != 1:
            raise ModelFileError(f"teacher {path.name} (onnx) has {len(inputs)} inputs "
                                 f"({', '.join(i.name for i in inputs)}); edgekd feeds one image tensor",
                                 fix="export the teacher with a single input")
        inp = inputs[0]
        if inp.type not in _FLOAT_TYPES:
            raise ModelFileError(f"teacher {path.name} (onnx) takes {inp.type} input; edgekd feeds float images",
                                 fix="export the teacher with a float input")
        dims = [d if isinstance(d, int) and d > 0 else None for d in inp.shape]
        batch = dims[0] if dims else None
        super().__init__(path, dims[1:], batch)
        self.session = session
        self.input_name = inp.name
        self.input_dtype = _FLOAT_TYPES[inp.type]
        self.output_name = session.get_outputs()[0].name

    def run(self, x: np.ndarray) -> np.ndarray:  # noqa: D102
        return self.session.run([self.output_name], {self.input_name: x.astype(self.input_dtype, copy=False)})[0]

    def size(self, input_shape) -> tuple[int, int | None]:
        """Parameters and per-sample MACs counted from the graph (``edgekd.predict.model_facts``)."""
        from ..predict.model_facts import facts_or_unknown

        params, macs = facts_or_unknown(self.path, "onnx", [1, *self.model_input(input_shape)])
        return params or 0, macs


def load_onnx_teacher(cfg: OnnxTeacher) -> tuple[OnnxTeacherModel, str]:
    """Open an ONNX teacher (see :class:`OnnxTeacherModel`)."""
    model = OnnxTeacherModel(cfg.path)
    return model, f"ONNX teacher {cfg.path.name} (onnxruntime, black box)"
