"""Config sections of the data room: one class per dataset kind, tagged by ``kind``.

``DATA_SECTIONS`` lists every kind; ``config.DataConfig`` is the tagged union over it.
"""

from __future__ import annotations

from typing import Literal, Union, get_args

from pydantic import AliasChoices, Field, model_validator

from ..sections import Section


def _representative_samples():
    # Renamed from calibration_samples ("calibration" now means probability calibration only); the old key still reads.
    return Field(256, ge=1, validation_alias=AliasChoices("representative_samples", "calibration_samples"),
                 description="taken from train: the samples INT8 sets its activation ranges on (old key: "
                             "calibration_samples)")


class DigitsData(Section):
    """scikit-learn's bundled 8×8 handwritten digits (1,797 real samples), upsampled."""

    kind: Literal["digits"] = Field("digits", description="selects this data kind")
    resolution: int = Field(16, ge=8, le=128, description="side of the upsampled square image")
    test_fraction: float = Field(0.2, gt=0, lt=0.5, description="share of the samples held out for test (stratified)")
    val_fraction: float = Field(0.1, gt=0, lt=0.5,
        description="share of the samples held out for validation (stratified)")
    representative_samples: int = _representative_samples()


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

    method: Literal["ratio", "lists", "pattern"] = Field("ratio",
        description="ratio, lists or pattern (see the section description)")
    val_fraction: float = Field(0.1, gt=0, lt=0.9, description="of the whole set (ratio) or of train")
    test_fraction: float = Field(0.2, gt=0, lt=0.9, description="ratio method only")
    train_list: str | None = Field(None, description="lists method: file of training paths, relative to root")
    val_list: str | None = Field(None, description="lists method: file of validation paths (optional)")
    test_list: str | None = Field(None, description="lists method: file of test paths")
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
    horizontal_flip: bool = Field(False, description="flip half the training images left-right")
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

    kind: Literal["image_folder"] = Field("image_folder", description="selects this data kind")
    root: str = Field(..., description="folder with one sub-folder of images per class")
    test_root: str | None = Field(None, description="separate test folder with the same class folders")
    size: tuple[int, int] | None = Field(None, description="[H, W]; images of another size are resized")
    channels: Literal[1, 3] = Field(3, description="1 (grey) or 3 (RGB); images are converted")
    mean: list[float] | None = Field(None, description="per channel, on [0, 1] pixels; default 0")
    std: list[float] | None = Field(None, description="per channel, on [0, 1] pixels; default 1")
    split: SplitSpec = Field(default_factory=SplitSpec)
    augment: ImageAugment = Field(default_factory=ImageAugment)
    representative_samples: int = _representative_samples()
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
    """The feature front end (see ``edgekd.data.audio_frontend``): STFT → mel → log (→ DCT).

    The defaults are edgekd's own features (power spectrum, HTK filters, orthonormal DCT,
    window centred in an ``n_fft`` frame). ``preset: tensorflow-kws`` fills every key you
    leave unset with what a ``tf.signal`` keyword-spotting pipeline computes (see
    :data:`PRESETS`); keys you set yourself win. ``n_mels``, ``n_mfcc``, ``fmin``, ``fmax``
    and ``type`` are never set by a preset: copy them from the teacher's own code.
    """

    preset: Literal["tensorflow-kws"] | None = Field(
        None, description="fill the keys you leave unset with a known pipeline's values: tensorflow-kws = "
                          "tf.signal.stft 30 ms / 20 ms, fft_length next power of 2, |STFT|, "
                          "linear_to_mel_weight_matrix, log(x + 1e-6), mfccs_from_log_mel_spectrograms, "
                          "no peak normalisation; in data.features it also sets data.clip_align: start")
    type: Literal["logmel", "mfcc"] = Field("logmel", description="log-mel spectrogram, or MFCCs (its DCT)")
    # Defaults suit 16 kHz (32 ms window, 10 ms hop); for 8 kHz (FSDD) use n_fft 256, hop_length 80.
    n_fft: int | None = Field(512, ge=16, le=8192, description="FFT size (TF: fft_length); null = the next power "
                                                               "of two ≥ the window, TensorFlow's default")
    hop_length: int = Field(160, ge=1, description="samples between frames (TF: frame_step)")
    win_length: int | None = Field(None, ge=2, description="Hann window length in samples (TF: frame_length); "
                                                           "default n_fft")
    frame_length_ms: float | None = Field(None, gt=0, le=10_000, description="window length in ms; when set, replaces "
                                                                  "win_length (round(ms * rate / 1000) samples)")
    frame_step_ms: float | None = Field(None, gt=0, le=10_000, description="hop in ms; when set, replaces hop_length")
    framing: Literal["centred", "tensorflow"] = Field(
        "centred", description="centred: frame t is n_fft samples from t*hop with the window centred in it "
                               "(torch.stft center=False); tensorflow: frame t is the win_length samples from "
                               "t*hop, TF's periodic Hann, zero-padded at the end to n_fft (tf.signal.stft)")
    spectrum: Literal["power", "magnitude"] = Field("power", description="|X|^2, or |X| (tf.abs(stft))")
    mel_weights: Literal["htk", "tensorflow"] = Field(
        "htk", description="htk: triangles linear in Hz (torchaudio htk, norm=None); tensorflow: "
                           "tf.signal.linear_to_mel_weight_matrix (triangles linear in mel, DC bin zeroed)")
    dct: Literal["ortho", "tensorflow"] = Field(
        "ortho", description="mfcc only: ortho DCT-II (scipy norm='ortho'), or tensorflow "
                             "(mfccs_from_log_mel_spectrograms: c0 is sqrt(2) times the ortho c0)")
    n_mels: int = Field(40, ge=2, le=256, description="mel bands")
    n_mfcc: int = Field(13, ge=1, description="mfcc only; ≤ n_mels")
    fmin: float = Field(20.0, ge=0, description="lowest mel edge in Hz (TF: lower_edge_hertz)")
    fmax: float | None = Field(None, gt=0, description="highest mel edge (TF: upper_edge_hertz); default "
                                                       "sample_rate / 2")
    # The floor decides how far float32 rounding in near-silent bins is amplified by the log:
    # with 1e-4 torch and onnxruntime agree within ~4e-5 on speech, while 1e-6 reaches 2e-4.
    # (Full-scale pure digital tones still differ by up to ~5e-4 in their weakest bins.)
    log_offset: float = Field(1e-4, gt=0, description="log(x + offset) keeps silence finite")
    peak_normalize: bool = Field(False, description="divide each fixed-length clip by its largest |sample| "
                                                    "before the features (inside the exported graph too)")

    @model_validator(mode="before")
    @classmethod
    def _fill_from_preset(cls, data):
        # A non-string preset is left for the field to refuse (a list is not even hashable).
        if isinstance(data, dict) and isinstance(data.get("preset"), str) and data["preset"] in PRESETS:
            filled = {key: value for key, value in PRESETS[data["preset"]].items() if key not in data}
            # A window or hop given in samples keeps the preset's ms value from replacing it.
            for samples_key, ms_key in (("win_length", "frame_length_ms"), ("hop_length", "frame_step_ms")):
                if data.get(samples_key) is not None:
                    filled.pop(ms_key, None)
            data = {**data, **filled}
        return data

    @model_validator(mode="after")
    def _consistent(self) -> "AudioFeatures":
        if self.n_fft is None and self.win_length is None and self.frame_length_ms is None:
            raise ValueError("n_fft null (next power of two of the window) needs win_length or frame_length_ms")
        if self.n_fft is not None and self.win_length is not None and self.win_length > self.n_fft:
            raise ValueError("win_length must be ≤ n_fft")
        if self.type == "mfcc" and self.n_mfcc > self.n_mels:
            raise ValueError("n_mfcc must be ≤ n_mels")
        if self.fmax is not None and self.fmax <= self.fmin:
            raise ValueError("fmax must be > fmin")
        return self

    def frames_in_samples(self, sample_rate: int) -> tuple[int, int, int]:
        """``(n_fft, win_length, hop_length)`` in samples at ``sample_rate`` (ms keys and null n_fft resolved).

        Raises:
            ValueError: the window comes out shorter than 2 samples or longer than ``n_fft``.
        """
        from .audio_tf import next_power_of_two

        win = self.win_length
        if self.frame_length_ms is not None:
            win = int(round(self.frame_length_ms * sample_rate / 1000.0))
        hop = self.hop_length
        if self.frame_step_ms is not None:
            hop = max(1, int(round(self.frame_step_ms * sample_rate / 1000.0)))
        # win is set whenever n_fft is not (the model validator refuses neither being given).
        n_fft = self.n_fft if self.n_fft is not None else next_power_of_two(win or 0)
        win = win if win is not None else n_fft
        if win < 2 or win > n_fft:
            raise ValueError(f"the window is {win} samples at {sample_rate} Hz; it must be 2..n_fft ({n_fft}): "
                             "lower frame_length_ms / win_length or raise n_fft (or null it)")
        return n_fft, win, hop


# What each preset fills in (keys the user leaves unset). tensorflow-kws follows the TensorFlow
# audio-recognition tutorials: tf.signal.stft(frame_length=30 ms, frame_step=20 ms) with the default
# fft_length, tf.abs, linear_to_mel_weight_matrix, tf.math.log(mel + 1e-6), mfccs_from_log_mel_spectrograms.
PRESETS: dict[str, dict] = {
    "tensorflow-kws": {"n_fft": None, "frame_length_ms": 30.0, "frame_step_ms": 20.0, "framing": "tensorflow",
                       "spectrum": "magnitude", "mel_weights": "tensorflow", "dct": "tensorflow",
                       "log_offset": 1e-6, "peak_normalize": False},
}
# The data-section keys a preset sets (they belong to the clip, which every front end shares).
CLIP_PRESETS: dict[str, dict] = {"tensorflow-kws": {"clip_align": "start"}}


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

    kind: Literal["audio_folder"] = Field("audio_folder", description="selects this data kind")
    root: str = Field(..., description="folder of WAV files (class folders, or flat with label_pattern)")
    layout: Literal["class_folders", "flat"] = Field("class_folders",
        description="class_folders: root/{class}/*.wav; flat: labels from the file name")
    label_pattern: str = Field("{label}_{speaker}_{index}.wav",
                               description="flat layout: file name with {fields}; {label} is the class")
    sample_rate: int = Field(16000, ge=1000, le=192000, description="expected rate of every file")
    resample: bool = Field(False, description="resample files at another rate instead of failing")
    mix_to_mono: bool = Field(False, description="average the channels of multi-channel files")
    clip_seconds: float = Field(1.0, gt=0, le=60, description="pad with zeros / crop to this length")
    clip_align: Literal["centre", "start"] = Field(
        "centre", description="centre: centre-crop, zero-pad both sides equally; start: keep the first "
                              "clip_seconds, zero-pad at the end (tf.audio.decode_wav desired_samples, "
                              "audio_dataset_from_directory output_sequence_length)")
    features: AudioFeatures = Field(default_factory=AudioFeatures)
    augment: AudioAugment = Field(default_factory=AudioAugment)
    split: SplitSpec = Field(default_factory=SplitSpec)
    representative_samples: int = _representative_samples()
    limit_per_class: int | None = Field(None, ge=1, description="first N files per class (quick runs)")

    @model_validator(mode="before")
    @classmethod
    def _fill_from_preset(cls, data):
        if isinstance(data, dict):
            features = data.get("features")
            name = features.get("preset") if isinstance(features, dict) else getattr(features, "preset", None)
            data = {**CLIP_PRESETS.get(name, {}), **data} if isinstance(name, str) else data
        return data

    @model_validator(mode="after")
    def _consistent(self) -> "AudioFolderData":
        if self.layout == "flat" and "{label}" not in self.label_pattern:
            raise ValueError("label_pattern must contain {label}")
        if self.split.method == "pattern" and self.layout != "flat":
            raise ValueError("split method 'pattern' reads file-name fields: use layout flat")
        if self.split.method == "pattern" and "{" + str(self.split.field) + "}" not in self.label_pattern:
            raise ValueError(f"split field {self.split.field!r} is not a field of label_pattern")
        check_features_fit(self.features, self.sample_rate, round(self.clip_seconds * self.sample_rate), "features")
        return self


def check_features_fit(features: AudioFeatures, sample_rate: int, clip_samples: int, key: str) -> None:
    """Raise ValueError unless ``features`` suit clips of ``clip_samples`` at ``sample_rate``.

    Checks the mel range against the Nyquist frequency and that at least one frame fits.
    """
    nyquist = sample_rate / 2
    if features.fmax is not None and features.fmax > nyquist:
        raise ValueError(f"{key}.fmax {features.fmax} is above sample_rate / 2 = {nyquist}")
    if features.fmin >= (features.fmax or nyquist):
        raise ValueError(f"{key}.fmin must be below fmax (default sample_rate / 2)")
    try:
        n_fft, win, _hop = features.frames_in_samples(sample_rate)
    except ValueError as exc:
        raise ValueError(f"{key}: {exc}") from None
    frame = win if features.framing == "tensorflow" else n_fft
    if frame > clip_samples:
        raise ValueError(f"{key}: a frame ({frame} samples) is longer than the clip ({clip_samples}): raise "
                         "clip_seconds or shorten the window")


class NpzData(Section):
    """An ``.npz`` with ``x_train, y_train, x_test, y_test`` (optional ``x_val, y_val``)."""

    kind: Literal["npz"] = Field("npz", description="selects this data kind")
    path: str = Field(..., description="the .npz file")
    layout: Literal["NCHW", "NHWC"] = Field("NCHW", description="layout of the x arrays (converted to NCHW)")
    class_names: list[str] | None = Field(None, description="default: the label indices as text")
    val_fraction: float = Field(0.1, gt=0, lt=0.9, description="carved from train when there is no x_val")
    representative_samples: int = _representative_samples()


# A named Union (not a tuple) so type checkers see the config's data field as one of these.
DataSection = Union[DigitsData, ImageFolderData, AudioFolderData, NpzData]
DATA_SECTIONS = get_args(DataSection)
