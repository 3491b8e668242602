"""Config sections of the teachers room: one class per teacher kind, tagged by ``kind``.

``scratch-cnn`` trains a teacher on the spot; every other kind loads the user's own model
file. File kinds share ``input_layout`` (how the model wants its input: edgekd's data is
always NCHW) and a free-text ``preprocess`` note (recorded in the report, not applied).
Relative paths are resolved against the current working directory.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal, Union, get_args

from pydantic import Field, field_validator

from ..data.schema import AudioFeatures
from ..sections import BatchSize, Section

InputLayout = Literal["nchw", "nhwc", "auto"]


class ScratchTeacher(Section):
    """A small CNN teacher trained on the spot on the training split."""

    kind: Literal["scratch-cnn"] = Field("scratch-cnn", description="selects this teacher kind")
    width: int = Field(48, ge=4, le=512, description="channels of the first conv; doubles twice")
    epochs: int = Field(12, ge=1, description="training epochs of the teacher")
    lr: float = Field(3e-3, gt=0, description="learning rate (AdamW, cosine schedule)")
    weight_decay: float = Field(5e-4, ge=0, description="AdamW weight decay")
    batch_size: BatchSize = Field("auto", description="an integer, or auto: 64 unless that gives fewer than 20 "
                                                   "optimizer steps per epoch, then ceil(train samples / 20)")


def _layout() -> Any:
    return Field("auto", description="layout the model takes: nchw, nhwc, or auto (from the model's declared input "
                                     "shape; torch kinds: nchw)")


def _features() -> Any:
    return Field(None, description="audio only: the teacher's own front end (same keys as data.features, e.g. "
                                   "{preset: tensorflow-kws, type: mfcc}), computed from the same clips (and the "
                                   "same augmented waveforms) as the student's; the clips are shared, so set "
                                   "data.clip_align as the teacher's pipeline cut them; null = the student's features")


def _preprocess() -> Any:
    return Field(None, description="how the teacher expects its input normalised (a note for the report; edgekd "
                                   "does not apply it: make the data section produce the same normalisation)")


class TorchTeacher(Section):
    """A torch model built by the user's factory function, with weights from a checkpoint.

    The factory file is imported from its path only (never through ``sys.path``) and must
    be self-contained apart from installed packages.
    """

    kind: Literal["torch"] = Field("torch", description="selects this teacher kind")
    factory: str = Field(..., description='"path/to/file.py:make_model": the file and the function that builds the '
                                          "model")
    factory_kwargs: dict[str, Any] = Field(default_factory=dict, description="keyword arguments of the factory")
    weights: Path | None = Field(None, description="state_dict checkpoint (torch.save); None keeps the factory's "
                                                   "weights")
    allow_pickle: bool = Field(False, description="also load checkpoints that are full Python pickles (this runs "
                                                  "code stored in the file: only for files you trust)")
    input_layout: InputLayout = _layout()
    preprocess: str | None = _preprocess()
    features: AudioFeatures | None = _features()

    @field_validator("factory")
    @classmethod
    def _factory_form(cls, value: str) -> str:
        path, sep, func = value.rpartition(":")
        if not sep or not path.endswith(".py") or not func.isidentifier():
            raise ValueError('expected "path/to/file.py:function_name"')
        return value

    def factory_parts(self) -> tuple[Path, str]:
        """The factory's file and function name."""
        path, _, func = self.factory.rpartition(":")
        return Path(path), func


class TorchScriptTeacher(Section):
    """A TorchScript file (``torch.jit.save``); loaded on the CPU."""

    kind: Literal["torchscript"] = Field("torchscript", description="selects this teacher kind")
    path: Path = Field(..., description="the TorchScript file")
    input_layout: InputLayout = _layout()
    preprocess: str | None = _preprocess()
    features: AudioFeatures | None = _features()


class OnnxTeacher(Section):
    """An ONNX model run as a black box in onnxruntime (its first output is the logits)."""

    kind: Literal["onnx"] = Field("onnx", description="selects this teacher kind")
    path: Path = Field(..., description="the .onnx file")
    input_layout: InputLayout = _layout()
    preprocess: str | None = _preprocess()
    features: AudioFeatures | None = _features()


class TFLiteTeacher(Section):
    """A ``.tflite`` model run as a black box in LiteRT (int8/uint8 I/O is (de)quantized)."""

    kind: Literal["tflite"] = Field("tflite", description="selects this teacher kind")
    path: Path = Field(..., description="the .tflite file")
    input_layout: InputLayout = _layout()
    preprocess: str | None = _preprocess()
    features: AudioFeatures | None = _features()


class KerasTeacher(Section):
    """A Keras model (``.keras``, ``.h5``) or a TensorFlow SavedModel folder, run as a black box."""

    kind: Literal["keras"] = Field("keras", description="selects this teacher kind")
    path: Path = Field(..., description="a .keras or .h5 file, or a SavedModel folder")
    input_layout: InputLayout = _layout()
    preprocess: str | None = _preprocess()
    features: AudioFeatures | None = _features()


FileTeacher = TorchTeacher | TorchScriptTeacher | OnnxTeacher | TFLiteTeacher | KerasTeacher

# A named Union (not a tuple) so type checkers see the config's teacher field as one of these.
TeacherSection = Union[ScratchTeacher, TorchTeacher, TorchScriptTeacher, OnnxTeacher, TFLiteTeacher, KerasTeacher]
TEACHER_SECTIONS = get_args(TeacherSection)
