"""Datasets: every loader returns a :class:`DataBundle` with fixed splits."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .bundle import DataBundle, Split

if TYPE_CHECKING:
    from ..config import BuildConfig


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
    if teacher_features is not None and not isinstance(data, AudioFolderData):
        from ..errors import ConfigError

        raise ConfigError(f"teacher.features is a front end for audio, but data.kind is {data.kind}",
                          fix="remove teacher.features (it applies to data.kind audio_folder only)")
    # Each loader is imported on use: PIL/scipy stay out of `import edgekd`.
    if isinstance(data, DigitsData):
        from .digits import load_digits_bundle

        return check_bundle(load_digits_bundle(data, config.seed), "sklearn digits")
    if isinstance(data, ImageFolderData):
        from .images import load_image_folder

        return check_bundle(load_image_folder(data, config.seed), str(data.root))
    if isinstance(data, AudioFolderData):
        from .audio import load_audio_folder

        return check_bundle(load_audio_folder(data, config.seed, teacher_features), str(data.root))
    if isinstance(data, NpzData):
        from .npz import load_npz

        return check_bundle(load_npz(data, config.seed), str(data.path))
    raise AssertionError(f"unhandled data kind {data.kind!r}")  # the config schema admits no other


__all__ = ["DataBundle", "Split", "load_data"]
