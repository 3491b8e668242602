"""Config sections of the data room: one class per dataset kind, tagged by ``kind``.

``DATA_SECTIONS`` lists every kind; ``config.DataConfig`` is the tagged union over it.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from ..sections import Section


class DigitsData(Section):
    """scikit-learn's bundled 8×8 handwritten digits (1,797 real samples), upsampled."""

    kind: Literal["digits"] = "digits"
    resolution: int = Field(16, ge=8, le=128, description="side of the upsampled square image")
    test_fraction: float = Field(0.2, gt=0, lt=0.5)
    val_fraction: float = Field(0.1, gt=0, lt=0.5)
    calibration_samples: int = Field(256, ge=1, description="taken from train, for INT8 calibration")


# A pattern rule: "0-4" (inclusive integer range), "theo" (one value) or a list of either.
PatternRule = str | int | list[str | int]


class SplitSpec(Section):
    """How samples are divided into train/val/test (shared by the folder and npz kinds).

    * ``ratio``: stratified, seeded; ``test_fraction`` then ``val_fraction`` of the whole set.
    * ``lists``: text files of paths relative to ``root`` (one per line, ``#`` comments);
      without ``val_list`` the val split is carved from train by ``val_fraction``.
    * ``pattern``: a file-name field (flat audio layout) decides test membership, e.g.
      FSDD's official split ``{field: index, test: "0-4"}`` or a held-out speaker
      ``{field: speaker, test: [theo]}``; val is carved from train by ``val_fraction``.

    When the data has its own test set (``test_root``, npz ``x_test``) only the val carve applies.
    """

    method: Literal["ratio", "lists", "pattern"] = "ratio"
    val_fraction: float = Field(0.1, gt=0, lt=0.9, description="of the whole set (ratio) or of train")
    test_fraction: float = Field(0.2, gt=0, lt=0.9, description="ratio method only")
    train_list: str | None = None
    val_list: str | None = None
    test_list: str | None = None
    field: str | None = Field(None, description="pattern method: file-name field, e.g. index or speaker")
    test: PatternRule | None = Field(None, description="pattern method: values (or 'a-b' ranges) that are test")
    val: PatternRule | None = Field(None, description="pattern method: values that are val (default: ratio)")

    @model_validator(mode="after")
    def _needs_its_keys(self) -> "SplitSpec":
        if self.method == "lists" and not (self.train_list and self.test_list):
            raise ValueError("method 'lists' needs train_list and test_list (val_list optional)")
        if self.method == "pattern" and (self.field is None or self.test is None):
            raise ValueError("method 'pattern' needs field and test, e.g. {field: index, test: '0-4'}")
        if self.method == "ratio" and self.val_fraction + self.test_fraction >= 0.9:
            raise ValueError("val_fraction + test_fraction must leave at least 10% for train")
        return self


class ImageAugment(Section):
    """Train-time image augmentation (applied per batch, seeded by the trainer)."""

    random_crop_padding: int = Field(0, ge=0, le=64, description="pad by this many pixels, crop back; 0 = off")
    horizontal_flip: bool = False
    resized_crop_scale: tuple[float, float] | None = Field(
        None, description="random-resized ('Inception') crop instead of the padded crop: [min, max] share of the "
                          "image area (e.g. [0.35, 1]), aspect ratio 3/4-4/3, resized back bilinearly; null = off")

    @model_validator(mode="after")
    def _one_crop(self) -> "ImageAugment":
        if self.resized_crop_scale is not None:
            low, high = self.resized_crop_scale
            if not 0 < low <= high <= 1:
                raise ValueError("resized_crop_scale must be [min, max] with 0 < min <= max <= 1")
            if self.random_crop_padding:
                raise ValueError("use either random_crop_padding or resized_crop_scale, not both")
        return self


class ImageFolderData(Section):
    """``root/{class}/*.jpg|jpeg|png``; labels are the sorted class folder names (ImageFolder order)."""

    kind: Literal["image_folder"] = "image_folder"
    root: str
    test_root: str | None = Field(None, description="separate test folder with the same class folders")
    size: tuple[int, int] | None = Field(None, description="[H, W]; images of another size are resized")
    channels: Literal[1, 3] = 3
    mean: list[float] | None = Field(None, description="per channel, on [0, 1] pixels; default 0")
    std: list[float] | None = Field(None, description="per channel, on [0, 1] pixels; default 1")
    split: SplitSpec = Field(default_factory=SplitSpec)
    augment: ImageAugment = Field(default_factory=ImageAugment)
    calibration_samples: int = Field(256, ge=1)
    limit_per_class: int | None = Field(None, ge=1, description="first N files per class (quick runs)")

    @model_validator(mode="after")
    def _stats_match_channels(self) -> "ImageFolderData":
        for name in ("mean", "std"):
            value = getattr(self, name)
            if value is not None and len(value) != self.channels:
                raise ValueError(f"{name} has {len(value)} values but channels is {self.channels}")
        if self.std is not None and any(s <= 0 for s in self.std):
            raise ValueError("std values must be > 0")
        if self.size is not None and min(self.size) < 1:
            raise ValueError("size must be positive [H, W]")
        if self.split.method == "pattern":
            raise ValueError("split method 'pattern' needs file-name fields: use ratio or lists for images")
        return self


class AudioFeatures(Section):
    """The feature front end (see ``edgekd.data.audio_frontend``): STFT → mel → log (→ DCT)."""

    type: Literal["logmel", "mfcc"] = "logmel"
    # Defaults suit 16 kHz (32 ms window, 10 ms hop); for 8 kHz (FSDD) use n_fft 256, hop_length 80.
    n_fft: int = Field(512, ge=16, le=8192)
    hop_length: int = Field(160, ge=1)
    win_length: int | None = Field(None, ge=2, description="Hann window length; default n_fft")
    n_mels: int = Field(40, ge=2, le=256)
    n_mfcc: int = Field(13, ge=1, description="mfcc only; ≤ n_mels")
    fmin: float = Field(20.0, ge=0)
    fmax: float | None = Field(None, gt=0, description="default sample_rate / 2")
    # The floor decides how far float32 rounding in near-silent bins is amplified by the log:
    # with 1e-4 torch and onnxruntime agree within ~4e-5 on speech, while 1e-6 reaches 2e-4.
    # (Full-scale pure digital tones still differ by up to ~5e-4 in their weakest bins.)
    log_offset: float = Field(1e-4, gt=0, description="log(x + offset) keeps silence finite")

    @model_validator(mode="after")
    def _consistent(self) -> "AudioFeatures":
        if self.win_length is not None and self.win_length > self.n_fft:
            raise ValueError("win_length must be ≤ n_fft")
        if self.type == "mfcc" and self.n_mfcc > self.n_mels:
            raise ValueError("n_mfcc must be ≤ n_mels")
        if self.fmax is not None and self.fmax <= self.fmin:
            raise ValueError("fmax must be > fmin")
        return self


class AudioAugment(Section):
    """Train-time augmentation: time shift and noise on the waveform, then SpecAugment masks on the features."""

    time_shift_ms: float = Field(0.0, ge=0, description="random shift in ±ms, zero filled; 0 = off")
    noise_snr_db: float | tuple[float, float] | None = Field(
        None, description="add white Gaussian noise at this SNR (dB, vs the clip's mean power), or a [low, high] "
                          "range drawn uniformly per clip; null = off")
    time_masks: int = Field(0, ge=0, le=20, description="SpecAugment: masks over consecutive frames; 0 = off")
    time_mask_frames: int = Field(0, ge=0, description="SpecAugment: widest time mask, in frames")
    freq_masks: int = Field(0, ge=0, le=20, description="SpecAugment: masks over consecutive feature bins; 0 = off")
    freq_mask_bins: int = Field(0, ge=0, description="SpecAugment: widest frequency mask, in mel (or MFCC) bins")

    @model_validator(mode="after")
    def _widths_with_counts(self) -> "AudioAugment":
        if self.time_masks and not self.time_mask_frames:
            raise ValueError("time_masks needs time_mask_frames > 0 (the widest mask)")
        if self.freq_masks and not self.freq_mask_bins:
            raise ValueError("freq_masks needs freq_mask_bins > 0 (the widest mask)")
        snr = self.noise_snr_db
        if isinstance(snr, tuple) and snr[0] > snr[1]:
            raise ValueError("noise_snr_db range must be [low, high] with low <= high")
        return self


class AudioFolderData(Section):
    """WAV files, labelled by class folder or by a file-name pattern."""

    kind: Literal["audio_folder"] = "audio_folder"
    root: str
    layout: Literal["class_folders", "flat"] = "class_folders"
    label_pattern: str = Field("{label}_{speaker}_{index}.wav",
                               description="flat layout: file name with {fields}; {label} is the class")
    sample_rate: int = Field(16000, ge=1000, le=192000, description="expected rate of every file")
    resample: bool = Field(False, description="resample files at another rate instead of failing")
    mix_to_mono: bool = Field(False, description="average the channels of multi-channel files")
    clip_seconds: float = Field(1.0, gt=0, le=60, description="pad with zeros / centre-crop to this length")
    features: AudioFeatures = Field(default_factory=AudioFeatures)
    augment: AudioAugment = Field(default_factory=AudioAugment)
    split: SplitSpec = Field(default_factory=SplitSpec)
    calibration_samples: int = Field(256, ge=1)
    limit_per_class: int | None = Field(None, ge=1, description="first N files per class (quick runs)")

    @model_validator(mode="after")
    def _consistent(self) -> "AudioFolderData":
        if self.layout == "flat" and "{label}" not in self.label_pattern:
            raise ValueError("label_pattern must contain {label}")
        if self.split.method == "pattern" and self.layout != "flat":
            raise ValueError("split method 'pattern' reads file-name fields: use layout flat")
        if self.split.method == "pattern" and "{" + str(self.split.field) + "}" not in self.label_pattern:
            raise ValueError(f"split field {self.split.field!r} is not a field of label_pattern")
        nyquist = self.sample_rate / 2
        if self.features.fmax is not None and self.features.fmax > nyquist:
            raise ValueError(f"features.fmax {self.features.fmax} is above sample_rate / 2 = {nyquist}")
        if self.features.fmin >= (self.features.fmax or nyquist):
            raise ValueError("features.fmin must be below fmax (default sample_rate / 2)")
        if self.features.n_fft > round(self.clip_seconds * self.sample_rate):
            raise ValueError("features.n_fft is longer than the clip: raise clip_seconds or lower n_fft")
        return self


class NpzData(Section):
    """An ``.npz`` with ``x_train, y_train, x_test, y_test`` (optional ``x_val, y_val``)."""

    kind: Literal["npz"] = "npz"
    path: str
    layout: Literal["NCHW", "NHWC"] = "NCHW"
    class_names: list[str] | None = Field(None, description="default: the label indices as text")
    val_fraction: float = Field(0.1, gt=0, lt=0.9, description="carved from train when there is no x_val")
    calibration_samples: int = Field(256, ge=1)


DATA_SECTIONS = (DigitsData, ImageFolderData, AudioFolderData, NpzData)
