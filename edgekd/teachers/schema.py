"""Config sections of the teachers room: one class per teacher kind, tagged by ``kind``.

``scratch-cnn`` trains a teacher on the spot; every other kind loads the user's own model
file. File kinds share ``input_layout`` (how the model wants its input: edgekd's data is
always NCHW), ``input`` (the teacher's own image scaling, normalisation, size and layout,
applied to its batches while the student keeps its own), ``features`` (an audio teacher's own
front end), ``outputs`` (logits or probabilities), ``min_val_top1`` (the sanity check after
loading) and a free-text ``preprocess`` note (recorded in the report, not applied).
Relative paths are resolved against the current working directory.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal, Union, get_args

from pydantic import Field, field_validator, model_validator

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
    keep: Literal["best", "last"] = Field("best", description="the teacher's weights: best = the best val epoch's; "
                                          "last = the last epoch's (see distill.keep)")
    members: int = Field(1, ge=1, le=8, description="train this many teachers (seeds seed, seed+1, ...) and distil "
                                                   "the mean of their logits: an ensemble generalises better than "
                                                   "one network; each member costs a full teacher training")
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


class TeacherInput(Section):
    """What the teacher eats, in its own units: ``(pixel * scale - mean) / std`` at ``size``, in ``layout``.

    ``pixel`` is the decoded image on [0, 1] (what ``data`` starts from); the student keeps
    ``data.mean``/``data.std`` and ``data.size``. Image data (``image_folder``) only.
    """

    scale: float = Field(1.0, gt=0, description="a [0, 1] pixel times this is the teacher's pixel value: 255 for a "
                                                "teacher trained on 0..255 pixels, 1 for [0, 1]")
    mean: float | list[float] = Field(0.0, description="subtracted after scale (one value, or one per channel), in the "
                                                       "teacher's units, e.g. 127.5 or [123.7, 116.3, 103.5]")
    std: float | list[float] = Field(1.0, description="divides after mean (one value, or one per channel, > 0), in "
                                                      "the teacher's units")
    size: tuple[int, int] | None = Field(None, description="[H, W] the teacher takes: its images are decoded from the "
                                                          "same files at this size (see resample); null = the "
                                                          "student's size")
    resample: Literal["pil", "tf"] = Field("pil", description="how images are resized to size: pil = PIL bilinear, "
                                                              "antialiased when shrinking (as data.size does for the "
                                                              "student); tf = tf.image.resize's default bilinear "
                                                              "(half-pixel centres, no antialiasing) on the decoded "
                                                              "pixels, rounded to 8 bits: for a teacher trained on "
                                                              "tf.image.resize inputs")
    layout: InputLayout | None = Field(None, description="nchw, nhwc or auto, as teacher.input_layout (give one of "
                                                         "the two)")

    @model_validator(mode="after")
    def _positive(self) -> "TeacherInput":
        std = self.std if isinstance(self.std, list) else [self.std]
        if not std or any(s <= 0 for s in std):
            raise ValueError("std values must be > 0")
        if isinstance(self.mean, list) and not self.mean:
            raise ValueError("mean must be a number or a non-empty list")
        if self.size is not None and min(self.size) < 1:
            raise ValueError("size must be positive [H, W]")
        return self

    def per_channel(self, name: str, channels: int) -> list[float]:
        """``mean`` or ``std`` as one value per channel.

        Raises:
            ValueError: a list whose length is not ``channels``.
        """
        value = getattr(self, name)
        values = value if isinstance(value, list) else [value] * channels
        if len(values) != channels:
            raise ValueError(f"teacher.input.{name} has {len(values)} values but the images have {channels} "
                             "channels")
        return [float(v) for v in values]


def _input() -> Any:
    return Field(None, description="image data only: the teacher's own input ({scale, mean, std, size, layout}), "
                                   "e.g. {scale: 255, size: [96, 96]} for a 96x96 teacher on 0..255 pixels; the "
                                   "student keeps data.mean/std/size; null = the teacher eats the student's input")


def _outputs() -> Any:
    return Field("auto", description="what the model outputs: logits, probabilities (softmax; their log is used "
                                     "as logits for KD, ECE, NLL and agreement), or auto: probabilities when the "
                                     "graph ends in a softmax or every val row sums to 1")


def _min_val_top1() -> Any:
    return Field(None, ge=0, le=1, description="the loaded teacher must score at least this top-1 on the val split, "
                                              "else the build stops (exit 2); null = 1.5x chance (1.5 / classes, at "
                                              "most a quarter of the way from chance to 100%); 0 = no check")


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
    input: TeacherInput | None = _input()
    outputs: Literal["auto", "logits", "probabilities"] = _outputs()
    min_val_top1: float | None = _min_val_top1()

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


def _trust_code(what: str) -> Any:
    return Field(False, description=f"{what}; the teacher loads only with true (like allow_pickle for torch "
                                    "checkpoints: set it for files you trust)")


class TorchScriptTeacher(Section):
    """A TorchScript file (``torch.jit.save``); loaded on the CPU."""

    kind: Literal["torchscript"] = Field("torchscript", description="selects this teacher kind")
    path: Path = Field(..., description="the TorchScript file")
    trust_code: bool = _trust_code("a TorchScript file is a program (it can read and write files when run)")
    input_layout: InputLayout = _layout()
    preprocess: str | None = _preprocess()
    features: AudioFeatures | None = _features()
    input: TeacherInput | None = _input()
    outputs: Literal["auto", "logits", "probabilities"] = _outputs()
    min_val_top1: float | None = _min_val_top1()


class OnnxTeacher(Section):
    """An ONNX model run as a black box in onnxruntime (its first output is the logits)."""

    kind: Literal["onnx"] = Field("onnx", description="selects this teacher kind")
    path: Path = Field(..., description="the .onnx file")
    input_layout: InputLayout = _layout()
    preprocess: str | None = _preprocess()
    features: AudioFeatures | None = _features()
    input: TeacherInput | None = _input()
    outputs: Literal["auto", "logits", "probabilities"] = _outputs()
    min_val_top1: float | None = _min_val_top1()


class TFLiteTeacher(Section):
    """A ``.tflite`` model run as a black box in LiteRT (int8/uint8 I/O is (de)quantized)."""

    kind: Literal["tflite"] = Field("tflite", description="selects this teacher kind")
    path: Path = Field(..., description="the .tflite file")
    input_layout: InputLayout = _layout()
    preprocess: str | None = _preprocess()
    features: AudioFeatures | None = _features()
    input: TeacherInput | None = _input()
    outputs: Literal["auto", "logits", "probabilities"] = _outputs()
    min_val_top1: float | None = _min_val_top1()


class KerasTeacher(Section):
    """A Keras model (``.keras``, ``.h5``) or a TensorFlow SavedModel folder, run as a black box."""

    kind: Literal["keras"] = Field("keras", description="selects this teacher kind")
    path: Path = Field(..., description="a .keras or .h5 file, or a SavedModel folder")
    trust_code: bool = _trust_code("Keras and SavedModel files can carry code (Lambda layers, .h5 bytecode, "
                                   "TensorFlow graphs that read and write files)")
    input_layout: InputLayout = _layout()
    preprocess: str | None = _preprocess()
    features: AudioFeatures | None = _features()
    input: TeacherInput | None = _input()
    outputs: Literal["auto", "logits", "probabilities"] = _outputs()
    min_val_top1: float | None = _min_val_top1()


FileTeacher = TorchTeacher | TorchScriptTeacher | OnnxTeacher | TFLiteTeacher | KerasTeacher

# A named Union (not a tuple) so type checkers see the config's teacher field as one of these.
TeacherSection = Union[ScratchTeacher, TorchTeacher, TorchScriptTeacher, OnnxTeacher, TFLiteTeacher, KerasTeacher]
TEACHER_SECTIONS = get_args(TeacherSection)
