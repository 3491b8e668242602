"""Mixup/CutMix: shapes, labels mixed in the proportion the pixels were, seeded draws."""

import pytest
import torch

from edgekd.distill.mixing import MixSpec, mix_batch

K = 4


def _label_images(n=16, side=8, seed=0):
    """Images whose channel k is all ones exactly when the label is k: pixels spell the label."""
    y = torch.randint(0, K, (n,), generator=torch.Generator().manual_seed(seed))
    x = torch.nn.functional.one_hot(y, K).float()[:, :, None, None].expand(n, K, side, side).contiguous()
    return x, y


@pytest.mark.parametrize("spec", [MixSpec(K, mixup=1.0), MixSpec(K, cutmix=1.0), MixSpec(K, mixup=0.4, cutmix=2.0)])
def test_labels_are_mixed_as_the_pixels_are(spec):
    x, y = _label_images()
    for seed in range(6):
        mixed, soft = mix_batch(x, y, spec, torch.Generator().manual_seed(seed))
        assert mixed.shape == x.shape and soft.shape == (len(y), K)
        assert torch.allclose(soft.sum(1), torch.ones(len(y)))
        # Each image's channel means are the share of its pixels from each class: the label mix.
        assert torch.allclose(mixed.mean((2, 3)), soft, atol=1e-6)


def test_cutmix_pastes_a_box_and_mixup_blends():
    x, y = _label_images()
    cut, _ = mix_batch(x, y, MixSpec(K, cutmix=1.0), torch.Generator().manual_seed(3))
    assert set(cut.unique().tolist()) <= {0.0, 1.0}  # every pixel comes whole from one image
    changed = (cut != x).any(1)  # (N, H, W): where another image was pasted
    rows, cols = changed.any(2), changed.any(1)
    assert torch.equal(changed, rows[:, :, None] & cols[:, None, :])  # a rectangle (per image)
    blend, soft = mix_batch(x, y, MixSpec(K, mixup=1.0), torch.Generator().manual_seed(3))
    assert ((blend > 0) & (blend < 1)).any() and not torch.equal(soft.max(1).values, torch.ones(len(y)))


def test_same_generator_same_mix_and_both_kinds_are_used():
    x, y = _label_images()
    spec = MixSpec(K, mixup=1.0, cutmix=1.0)
    a = mix_batch(x, y, spec, torch.Generator().manual_seed(5))
    b = mix_batch(x, y, spec, torch.Generator().manual_seed(5))
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    kinds = set()
    for seed in range(12):
        mixed, _ = mix_batch(x, y, spec, torch.Generator().manual_seed(seed))
        kinds.add("cutmix" if set(mixed.unique().tolist()) <= {0.0, 1.0} else "mixup")
    assert kinds == {"cutmix", "mixup"}


def test_inactive_spec():
    assert not MixSpec(K).active and MixSpec(K, mixup=0.2).active and MixSpec(K, cutmix=1.0).active
