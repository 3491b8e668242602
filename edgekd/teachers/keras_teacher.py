"""A Keras teacher (``.keras``, ``.h5``) or a TensorFlow SavedModel folder, as a black box.

TensorFlow/Keras are imported only when such a teacher is loaded (``import edgekd`` must
stay light). Keras models are NHWC by convention; the layout is decided from the declared
input shape (see ``resolve_layout``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import ConfigError, ModelFileError
from .blackbox import BlackBoxTeacher, check_file, load_failed
from .schema import KerasTeacher

_FIX = "re-save it with model.save('teacher.keras') (or model.export(folder) for a SavedModel); the file may be " \
       "truncated or not a Keras model"


class KerasTeacherModel(BlackBoxTeacher):
    """A Keras model called in inference mode, or a SavedModel's ``serving_default`` signature.

    Raises:
        ModelFileError: Missing, empty, truncated or not a Keras/SavedModel file; more than
            one input.
    """

    kind = "keras"
    prefer_layout = "nhwc"

    def __init__(self, path: Path):
        check_file(path, "keras", folder_ok=True)
        softmax: bool | None = None  # a SavedModel signature does not say
        if path.is_dir():
            call, shape, params = _open_saved_model(path)
        else:
            call, shape, params, softmax = _open_keras_file(path)
        super().__init__(path, shape[1:], None)
        self._call = call
        self.params = params
        self.ends_in_softmax = softmax

    def infer(self, x: np.ndarray) -> np.ndarray:  # noqa: D102
        from ..runtimes.base import in_batches

        return in_batches(x, self._call, None)

    def size(self, input_shape) -> tuple[int, int | None]:
        """Parameters and per-sample MACs counted from the Keras layers (``edgekd.predict.model_facts``)."""
        from ..predict.model_facts import facts_or_unknown

        params, macs = facts_or_unknown(self.path, "keras", [1, *self.model_input(input_shape)])
        return (self.params if params is None else params), macs


def _open_keras_file(path: Path):
    if path.suffix.lower() not in (".keras", ".h5", ".hdf5"):
        raise ModelFileError(f"teacher {path} (keras) must be a .keras or .h5 file or a SavedModel folder",
                             fix=_FIX)
    import keras

    try:
        model = keras.models.load_model(str(path), compile=False)
    except Exception as exc:  # zipfile/h5py/ValueError, differing by format and keras version
        raise load_failed(path, "keras", exc, _FIX) from None
    if len(model.inputs) != 1:
        raise ModelFileError(f"teacher {path.name} (keras) has {len(model.inputs)} inputs; edgekd feeds one image "
                             "tensor", fix="save a model with a single input")
    shape = [d if isinstance(d, int) else None for d in model.inputs[0].shape]

    def call(x: np.ndarray) -> np.ndarray:
        out = model(x, training=False)
        out = out[0] if isinstance(out, (list, tuple)) else out
        return np.asarray(keras.ops.convert_to_numpy(out), dtype=np.float32)

    return call, shape, int(model.count_params()), _last_layer_softmax(model)


def _last_layer_softmax(model) -> bool:
    """Whether the model's last layer is a Softmax layer or has a softmax activation."""
    import keras

    last = model.layers[-1] if getattr(model, "layers", None) else None
    if last is None:
        return False
    activation = getattr(last, "activation", None)
    return isinstance(last, keras.layers.Softmax) or getattr(activation, "__name__", "") == "softmax"


def _open_saved_model(path: Path):
    import tensorflow as tf

    try:
        loaded = tf.saved_model.load(str(path))
        fn = loaded.signatures["serving_default"]
    except Exception as exc:  # OSError/KeyError/ValueError from the SavedModel reader
        raise load_failed(path, "keras (SavedModel)", exc, _FIX) from None
    specs = fn.structured_input_signature[1]
    if len(specs) != 1:
        raise ModelFileError(f"teacher {path.name} (SavedModel) has {len(specs)} inputs; edgekd feeds one image "
                             "tensor", fix="export a signature with a single input")
    name, spec = next(iter(specs.items()))
    shape = [d if isinstance(d, int) else None for d in spec.shape.as_list()]
    params = int(sum(np.prod(v.shape) for v in getattr(loaded, "variables", [])))

    def call(x: np.ndarray) -> np.ndarray:
        outputs = fn(**{name: tf.constant(x, dtype=spec.dtype)})
        return np.asarray(next(iter(outputs.values())), dtype=np.float32)

    return call, shape, params


def require_tensorflow() -> None:
    """Raise a one-line :class:`ConfigError` when TensorFlow (the ``keras`` extra) is not installed."""
    try:
        import tensorflow  # noqa: F401
    except ImportError:
        raise ConfigError("teacher.kind keras needs TensorFlow, which is not installed",
                          fix="pip install 'edgekd[keras]', or convert the teacher to .tflite or .onnx and use "
                              "teacher.kind tflite / onnx") from None


def load_keras_teacher(cfg: KerasTeacher) -> tuple[KerasTeacherModel, str]:
    """Open a Keras / SavedModel teacher (see :class:`KerasTeacherModel`).

    Raises:
        ConfigError: TensorFlow is not installed (``pip install 'edgekd[keras]'``).
        ModelFileError: the file cannot be loaded, or has more than one input.
    """
    require_tensorflow()
    model = KerasTeacherModel(cfg.path)
    what = "SavedModel" if cfg.path.is_dir() else "Keras"
    return model, f"{what} teacher {cfg.path.name} (TensorFlow, black box)"
