"""Audio folders: WAVs → fixed-length waveforms → log-mel / MFCC features, split."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from ..errors import ConfigError
from .audio_frontend import LogMelFrontend
from .audio_io import fix_length, read_wav
from .bundle import DataBundle, Split
from .folders import require_dir, require_two_classes, scan_class_folders, scan_flat
from .schema import AudioFeatures, AudioFolderData, check_features_fit
from .spec_augment import SpecAugment
from .splits import check_covers_classes, representative_indices, split_pool

AUDIO_EXTENSIONS = (".wav",)
_BATCH = 256
_CLIP_POLICIES = {"centre": "centre-crop longer clips; zero-pad shorter ones equally on both sides",
                  "start": "keep the first samples of longer clips; zero-pad shorter ones at the end"}
_GENERIC_NAMES = {"recordings", "wav", "wavs", "audio", "train", "data"}


def load_audio_folder(cfg: AudioFolderData, seed: int, teacher_features: AudioFeatures | None = None) -> DataBundle:
    """Read every WAV once, fix its length, compute features, split.

    Without augmentation every split holds features ``(N, 1, frames, n_feat)``. With
    augmentation the train split holds waveforms ``(N, 1, 1, samples)`` and its ``augment``
    shifts/noises them and computes the features per batch (see :class:`AudioAugmenter`).

    Args:
        cfg: The ``audio_folder`` data section.
        seed: Seeds the split and the representative subset.
        teacher_features: The teacher's own front end (``teacher.features``): every split then
            also holds the teacher's inputs (``Split.teacher_x``), computed from the same clips,
            and an augmented train split computes them from the same augmented waveforms.

    Raises:
        DataError: missing folder, no or empty classes, a bad/truncated WAV, another rate or
            channel count when not allowed, a name not matching ``label_pattern``, or a
            split that leaves a class without train or test samples.
    """
    root = require_dir(cfg.root, "data.root")
    if cfg.layout == "flat":
        pool = scan_flat(root, cfg.label_pattern, AUDIO_EXTENSIONS, cfg.limit_per_class)
    else:
        pool = scan_class_folders(root, AUDIO_EXTENSIONS, cfg.limit_per_class, "data.root")
    require_two_classes(pool.class_names, str(root))
    labels = np.asarray(pool.labels, dtype=np.int64)
    idx = split_pool(cfg.split, labels, seed, separate_test=False, paths=pool.rel_paths,
                     fields=pool.fields or None, root=str(root))
    check_covers_classes(labels, idx.train, "train", pool.class_names, str(root))
    check_covers_classes(labels, idx.test, "test", pool.class_names, str(root))

    length = int(round(cfg.clip_seconds * cfg.sample_rate))
    waves = np.empty((len(pool.files), length), dtype=np.float32)

    # Sequential on purpose: read_wav detects truncated files through scipy's warning, and
    # warnings.catch_warnings is process-global (threads would blame the wrong file).
    for i, path in enumerate(pool.files):
        raw = read_wav(path, cfg.sample_rate, resample=cfg.resample, mix_to_mono=cfg.mix_to_mono)
        waves[i] = fix_length(raw, length, cfg.clip_align)

    frontend = LogMelFrontend(cfg).eval()
    teacher_frontend = _teacher_frontend(teacher_features, cfg, length)
    wave_t = torch.from_numpy(waves)
    feats = compute_features(frontend, wave_t)
    teacher_feats = compute_features(teacher_frontend, wave_t) if teacher_frontend is not None else None
    y = torch.from_numpy(labels)
    masks = SpecAugment(cfg.augment.time_masks, cfg.augment.time_mask_frames, cfg.augment.freq_masks,
                        cfg.augment.freq_mask_bins)
    augment = AudioAugmenter(frontend, cfg.sample_rate, cfg.augment.time_shift_ms, cfg.augment.noise_snr_db, masks,
                             teacher_frontend=teacher_frontend)

    def take(ix: np.ndarray) -> Split:
        t = torch.from_numpy(ix)
        return Split(feats[t].contiguous(), y[t].contiguous(),
                     teacher_x=teacher_feats[t].contiguous() if teacher_feats is not None else None)

    if augment.active:
        t = torch.from_numpy(idx.train)
        train = Split(wave_t[t].reshape(len(t), 1, 1, length).contiguous(), y[t].contiguous(), augment)
    else:
        train = take(idx.train)
    name = root.parent.name if root.name.lower() in _GENERIC_NAMES else root.name
    return DataBundle(
        name=name or "audio", task="audio", class_names=pool.class_names,
        input_shape=frontend.output_shape(length),
        train=train, val=take(idx.val), test=take(idx.test),
        representative=take(representative_indices(idx.train, cfg.representative_samples, seed)),
        preprocessing=_describe(cfg, length, frontend, augment),
        frontend=frontend,
        teacher_input_shape=teacher_frontend.output_shape(length) if teacher_frontend is not None else None,
        teacher_frontend=teacher_frontend,
    )


def _teacher_frontend(features: AudioFeatures | None, cfg: AudioFolderData, length: int) -> LogMelFrontend | None:
    """The teacher's own front end (``teacher.features``) on the data's clips, checked against them."""
    if features is None:
        return None
    try:
        check_features_fit(features, cfg.sample_rate, length, "teacher.features")
    except ValueError as exc:
        raise ConfigError(str(exc), fix="set teacher.features to fit data.sample_rate and data.clip_seconds") from None
    return LogMelFrontend(features, cfg.sample_rate).eval()


@torch.inference_mode()
def compute_features(frontend: torch.nn.Module, waves: torch.Tensor) -> torch.Tensor:
    """Features of ``(N, samples)`` waveforms, in bounded-memory batches."""
    parts = [frontend(waves[i:i + _BATCH]) for i in range(0, len(waves), _BATCH)]
    return torch.cat(parts).clone() if parts else torch.empty(0)


class AudioAugmenter:
    """Time shift and additive white noise on waveforms, the features, then SpecAugment masks.

    The noise is white Gaussian, scaled per clip to the SNR against that clip's mean power
    over the whole (zero-padded) window; a ``(low, high)`` SNR is drawn uniformly per clip.
    Randomness comes only from the generator the trainer passes, so a replayed epoch sees
    the same augmented batches.
    """

    def __init__(self, frontend: torch.nn.Module, sample_rate: int, time_shift_ms: float,
                 noise_snr_db: float | tuple[float, float] | None, masks: SpecAugment | None = None,
                 teacher_frontend: LogMelFrontend | None = None):
        self.frontend = frontend
        self.max_shift = int(round(time_shift_ms * sample_rate / 1000.0))
        self.noise_snr_db = noise_snr_db
        self.masks = masks or SpecAugment()
        self.teacher_frontend = teacher_frontend
        # (model inputs, teacher inputs) of the last batch, for teacher_inputs_of.
        self._paired: tuple[torch.Tensor, torch.Tensor] | None = None

    @property
    def active(self) -> bool:
        return self.max_shift > 0 or self.noise_snr_db is not None or self.masks.active

    def describe(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.max_shift:
            out["time_shift_samples"] = f"uniform in ±{self.max_shift}, zero filled (not wrapped)"
        if self.noise_snr_db is not None:
            snr = self.noise_snr_db
            level = f"{snr[0]}-{snr[1]} dB (uniform per clip)" if isinstance(snr, (tuple, list)) else f"{snr} dB"
            out["noise"] = f"white Gaussian at {level} SNR of the clip's mean power"
        return {**out, **self.masks.describe()}

    def __call__(self, x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """``(N, 1, 1, samples)`` waveforms → augmented features ``(N, 1, frames, n_feat)``."""
        wave = x.flatten(1)
        n, length = wave.shape
        if self.max_shift:
            shifts = torch.randint(-self.max_shift, self.max_shift + 1, (n, 1), generator=generator)
            source = torch.arange(length)[None, :] - shifts
            inside = (source >= 0) & (source < length)
            wave = torch.where(inside, wave.gather(1, source.clamp(0, length - 1)), torch.zeros(()))
        if self.noise_snr_db is not None:
            noise = torch.randn(wave.shape, generator=generator)
            power = wave.pow(2).mean(dim=1, keepdim=True)
            snr_range = self.noise_snr_db
            snr: float | torch.Tensor = (torch.empty(n, 1).uniform_(float(snr_range[0]), float(snr_range[1]),
                                                                    generator=generator)
                                         if isinstance(snr_range, (tuple, list)) else float(snr_range))
            wave = wave + noise * torch.sqrt(power / 10.0 ** (snr / 10.0))
        with torch.no_grad():
            feats = self.frontend(wave)
            if self.masks.active:  # SpecAugment masks the student's features; the teacher sees its own, unmasked
                feats = self.masks(feats, generator)
            if self.teacher_frontend is not None:
                self._paired = (feats, self.teacher_frontend(wave))
        return feats

    def teacher_inputs_of(self, inputs: torch.Tensor) -> torch.Tensor:
        """The teacher front end's features of the same augmented waveforms that gave ``inputs``.

        Only for the batch this augmenter returned last (the trainer calls ``augment`` and
        then the loss, one batch at a time); anything else is a programming error.
        """
        if self.teacher_frontend is None:
            return inputs
        if self._paired is None or not torch.equal(self._paired[0], inputs.detach().cpu()):
            raise RuntimeError("teacher inputs asked for a batch this augmenter did not produce last")
        return self._paired[1].to(inputs.device)


def _describe(cfg: AudioFolderData, length: int, frontend: LogMelFrontend, augment: AudioAugmenter) -> dict:
    return {
        "source": "WAV files (PCM 8/16/24/32-bit or float), read with scipy.io.wavfile",
        "labels": ("file name " + cfg.label_pattern) if cfg.layout == "flat" else "class folder names",
        "sample_rate": cfg.sample_rate,
        "resample": ("scipy.signal.resample_poly (polyphase, Kaiser window)" if cfg.resample
                     else "off: other rates are errors"),
        "channels": "mono; multi-channel averaged" if cfg.mix_to_mono else "mono only",
        "scale": "int PCM / 2^(bits-1) (uint8: (x-128)/128), float as stored → [-1, 1]",
        "clip": {"seconds": cfg.clip_seconds, "samples": length,
                 "policy": _CLIP_POLICIES[cfg.clip_align]},
        "features": frontend.describe(),
        "input_layout": "NCHW = (N, 1, frames, features)",
        "frontend_in_graph": "FrontendAndModel(bundle.frontend, model) takes the (N, samples) waveform",
        "train_augment": augment.describe(),
        **({"teacher_features": augment.teacher_frontend.describe()} if augment.teacher_frontend is not None else {}),
    }
