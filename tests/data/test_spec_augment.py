"""SpecAugment masks and the audio augmenter's noise range."""

import pytest
import torch

from edgekd.config import load_config
from edgekd.data.audio import AudioAugmenter
from edgekd.data.spec_augment import SpecAugment
from edgekd.errors import ConfigError


def _feats(n=6, frames=30, bins=20, seed=0):
    return torch.randn(n, 1, frames, bins, generator=torch.Generator().manual_seed(seed)) + 5.0


def test_time_masks_cover_whole_frames_with_the_sample_mean():
    x = _feats()
    out = SpecAugment(time_masks=1, time_width=6)(x, torch.Generator().manual_seed(0))
    assert out.shape == x.shape
    changed = out != x  # (N, 1, T, F)
    per_frame = changed.any(3)[:, 0]  # (N, T)
    assert torch.equal(changed[:, 0], per_frame[:, :, None].expand_as(changed[:, 0]))  # whole frames
    for i in range(len(x)):
        frames = per_frame[i].nonzero().flatten()
        assert len(frames) <= 6
        if len(frames):
            assert int(frames[-1] - frames[0]) + 1 == len(frames)  # one run of consecutive frames
            assert torch.allclose(out[i, 0, frames], x[i].mean().expand(len(frames), x.shape[-1]))
    assert per_frame.any()  # some sample got a mask


def test_freq_masks_cover_whole_bins_and_counts_add_up():
    x = _feats()
    out = SpecAugment(freq_masks=2, freq_width=4)(x, torch.Generator().manual_seed(1))
    changed = (out != x)[:, 0]
    per_bin = changed.any(1)  # (N, F)
    assert torch.equal(changed, per_bin[:, None, :].expand_as(changed))
    assert int(per_bin.sum(1).max()) <= 8 and per_bin.any()


def test_masks_are_seeded_and_off_when_zero():
    x = _feats()
    spec = SpecAugment(time_masks=2, time_width=5, freq_masks=2, freq_width=3)
    a, b = spec(x, torch.Generator().manual_seed(4)), spec(x, torch.Generator().manual_seed(4))
    assert torch.equal(a, b) and not torch.equal(a, spec(x, torch.Generator().manual_seed(5)))
    assert not SpecAugment().active and not SpecAugment(time_masks=3).active
    assert spec.describe()["spec_augment"]["time_masks"] == 2


def test_noise_snr_range_is_drawn_per_clip():
    wave = torch.ones(200, 1, 1, 4000)  # unit power
    noisy = AudioAugmenter(lambda w: w, 1000, 0.0, (10.0, 30.0))(wave, torch.Generator().manual_seed(0))
    snr_db = 10 * torch.log10(1.0 / (noisy - 1.0).pow(2).mean(1))
    assert float(snr_db.min()) > 9.5 and float(snr_db.max()) < 30.5  # 4000 samples: ±0.2 dB estimation error
    assert float(snr_db.max() - snr_db.min()) > 10  # not one SNR for every clip
    fixed = AudioAugmenter(lambda w: w, 1000, 0.0, 20.0)(wave, torch.Generator().manual_seed(0))
    assert float((10 * torch.log10(1.0 / (fixed - 1.0).pow(2).mean(1))).sub(20).abs().max()) < 0.5


def test_augmenter_applies_masks_after_the_features():
    wave = torch.randn(4, 1, 1, 600, generator=torch.Generator().manual_seed(0))
    masks = SpecAugment(time_masks=1, time_width=3)
    aug = AudioAugmenter(lambda w: w.reshape(len(w), 1, 30, 20), 1000, 0.0, None, masks)
    assert aug.active and "spec_augment" in aug.describe()
    out = aug(wave, torch.Generator().manual_seed(2))
    assert out.shape == (4, 1, 30, 20) and not torch.equal(out, wave.reshape(4, 1, 30, 20))


@pytest.mark.parametrize("bad", [["data.augment.time_masks=2"], ["data.augment.freq_masks=1"],
                                 ["data.augment.noise_snr_db=[30, 10]"]])
def test_audio_augment_keys_validate(bad):
    base = ["data.kind=audio_folder", "data.root=/nowhere"]
    with pytest.raises(ConfigError):
        load_config(None, [*base, *bad])
    ok = load_config(None, [*base, "data.augment.time_masks=2", "data.augment.time_mask_frames=10",
                            "data.augment.noise_snr_db=[10, 30]"])
    assert ok.data.augment.noise_snr_db == (10.0, 30.0)
