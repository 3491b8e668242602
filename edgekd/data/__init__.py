"""Datasets: every loader returns a :class:`DataBundle` with fixed splits."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..config import BuildConfig
    from .bundle import DataBundle, Split


def __getattr__(name: str) -> Any:
    # DataBundle and Split import torch: loaded on first use, so `edgekd check`, `targets list`
    # and `config show` (which read the config schema in this package) start without torch.
    if name in ("DataBundle", "Split"):
        from . import bundle

        return getattr(bundle, name)
    raise AttributeError(f"module 'edgekd.data' has no attribute {name!r}")


def load_data(config: "BuildConfig") -> DataBundle:
    """Load the dataset the config names.

    Raises:
        DataError: the data cannot be read or split, a split is empty, or an input is NaN/±inf
            (one line, with a fix).
    """
    from .checks import check_bundle
    from .schema import AudioFolderData, DigitsData, ImageFolderData, NpzData

    data = config.data
    teacher_features = getattr(getattr(config, "teacher", None), "features", None)
    teacher_input = getattr(getattr(config, "teacher", None), "input", None)
    if teacher_features is not None and not isinstance(data, AudioFolderData):
        from ..errors import ConfigError

        raise ConfigError(f"teacher.features is a front end for audio, but data.kind is {data.kind}",
                          fix="remove teacher.features (it applies to data.kind audio_folder only)")
    if teacher_input is not None:
        from ..teachers.adapters import check_input_fits

        check_input_fits(teacher_input, data.kind, getattr(data, "channels", None))
    # Each loader is imported on use: PIL/scipy stay out of `import edgekd`.
    if isinstance(data, DigitsData):
        from .digits import load_digits_bundle

        return check_bundle(load_digits_bundle(data, config.seed), "sklearn digits")
    if isinstance(data, ImageFolderData):
        from .images import load_image_folder

        return check_bundle(load_image_folder(data, config.seed, teacher_input), str(data.root))
    if isinstance(data, AudioFolderData):
        from .audio import load_audio_folder

        return check_bundle(load_audio_folder(data, config.seed, teacher_features), str(data.root))
    if isinstance(data, NpzData):
        from .npz import load_npz

        return check_bundle(load_npz(data, config.seed), str(data.path))
    raise AssertionError(f"unhandled data kind {data.kind!r}")  # the config schema admits no other


__all__ = ["DataBundle", "Split", "load_data"]
