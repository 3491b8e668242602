"""Precise BatchNorm statistics: recomputed with the current weights, deterministic, mode and momentum kept."""

import torch
from torch import nn

from edgekd.data.bundle import Split
from edgekd.distill.precise_bn import PRECISE_BN_SAMPLES, recompute_bn_statistics


def _split(n=300, seed=0):
    g = torch.Generator().manual_seed(seed)
    return Split(torch.randn(n, 3, 4, 4, generator=g) * 2.0 + 1.5, torch.zeros(n, dtype=torch.long))


def test_statistics_are_those_of_the_training_inputs():
    model = nn.Sequential(nn.BatchNorm2d(3), nn.Flatten(), nn.Linear(48, 2)).eval()
    bn = model[0]
    bn.running_mean.fill_(-7.0)  # stale statistics from "older weights"
    bn.running_var.fill_(100.0)
    train = _split()
    used = recompute_bn_statistics(model, train, batch_size=64, seed=0)
    assert used == 256 and not model.training and bn.momentum == 0.1  # 4 whole batches of 64
    x = train.x[:256]
    torch.testing.assert_close(bn.running_mean, x.mean((0, 2, 3)), atol=1e-5, rtol=0)
    # the average of per-batch unbiased variances: close to the variance of the whole split
    torch.testing.assert_close(bn.running_var, x.var((0, 2, 3)), atol=0.15, rtol=0)


def test_only_the_first_samples_and_never_a_batch_of_one():
    model = nn.Sequential(nn.BatchNorm2d(3))
    big = _split(PRECISE_BN_SAMPLES + 500)
    assert recompute_bn_statistics(model, big, batch_size=512, seed=0) == PRECISE_BN_SAMPLES  # 4 x 512
    torch.testing.assert_close(model[0].running_mean, big.x[:PRECISE_BN_SAMPLES].mean((0, 2, 3)), atol=1e-5,
                               rtol=0)
    assert model.training  # the mode it was in
    assert recompute_bn_statistics(model, _split(65), batch_size=64, seed=0) == 64  # the lone 65th is skipped
    assert recompute_bn_statistics(model, _split(40), batch_size=64, seed=0) == 40  # a small split: one batch
    assert recompute_bn_statistics(nn.Linear(2, 2), _split(), batch_size=8, seed=0) == 0  # no BatchNorm


def test_augmented_splits_are_augmented_with_a_seeded_generator():
    calls = []

    def augment(x, generator):
        calls.append(generator.initial_seed())
        return x + torch.rand(x.shape, generator=generator)

    train = Split(_split().x, _split().y, augment=augment)
    a, b = nn.BatchNorm2d(3), nn.BatchNorm2d(3)
    recompute_bn_statistics(a, train, batch_size=100, seed=5)
    recompute_bn_statistics(b, train, batch_size=100, seed=5)
    assert calls == [5, 5, 5] * 2  # one generator per pass, seeded
    assert torch.equal(a.running_mean, b.running_mean)  # deterministic: resume and every rank agree
    torch.testing.assert_close(a.running_mean, train.x.mean((0, 2, 3)) + 0.5, atol=0.05, rtol=0)
