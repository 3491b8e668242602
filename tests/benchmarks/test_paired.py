"""The paired KD-vs-baseline comparison of the speech benchmarks, worked by hand, and the sweep's --grid."""

from __future__ import annotations

import argparse

import pytest


def _preds(kd_only: int, base_only: int, both: int, neither: int) -> tuple[list[int], list[int], list[int]]:
    """Label 0 everywhere; 1 is a wrong answer."""
    kd = [0] * kd_only + [1] * base_only + [0] * both + [1] * neither
    base = [1] * kd_only + [0] * base_only + [0] * both + [1] * neither
    return kd, base, [0] * len(kd)


def test_paired_difference_interval_and_exact_mcnemar(bench_module):
    common = bench_module("vision_common")
    # 3 clips right only with KD, 1 only with the baseline, of 10: +20 points.
    # se = sqrt(4 - 2**2 / 10) / 10 = 0.18974; McNemar: 2 * P(X <= 1 | Bin(4, 1/2)) = 2 * 5/16.
    out = common.paired(*_preds(3, 1, 5, 1))
    assert out["diff"] == pytest.approx(0.2)
    assert out["ci95"] == pytest.approx([0.2 - 1.96 * 0.189737, 0.2 + 1.96 * 0.189737], abs=1e-5)
    assert (out["kd_only_right"], out["baseline_only_right"]) == (3, 1)
    assert out["mcnemar_p"] == pytest.approx(0.625)
    # 6 discordant clips all for the baseline: 2 * (1/2)**6.
    out = common.paired(*_preds(0, 6, 4, 0))
    assert out["diff"] == pytest.approx(-0.6)
    assert out["mcnemar_p"] == pytest.approx(2 / 64)


def test_paired_identical_predictions_carry_no_evidence(bench_module):
    out = bench_module("vision_common").paired(*_preds(0, 0, 7, 3))
    assert out["diff"] == 0 and out["ci95"] == [0, 0] and out["mcnemar_p"] == 1.0


def test_sweep_grid_option(bench_module):
    sweep = bench_module("kd_sweep")
    assert sweep._grid("2:0.5,4:0.9") == ((2.0, 0.5), (4.0, 0.9))
    assert sweep._grid("none") == ()
    with pytest.raises(argparse.ArgumentTypeError, match="T:alpha pairs"):
        sweep._grid("2-0.5")
    assert sweep._row_id(2.0, 0.25, False) == "kd-T2-a0.25" and sweep._row_id(2.0, 0.0, True) == "baseline"


def test_kd_over_seeds_t_interval(bench_module):
    seeds = bench_module("kd_seeds")
    # Two seeds, +1 and +3 points: mean +2, sd 1.4142 points, t(0.975, 1) = 12.706.
    out = seeds.over_seeds([0.01, 0.03])
    assert out["mean"] == pytest.approx(0.02)
    assert out["ci95"] == pytest.approx([0.02 - 0.127062, 0.02 + 0.127062], abs=1e-5)
    # Three seeds, -2, 0, +2: sd 2 points, t(0.975, 2) = 4.3027, half width 4.3027 * 2 / sqrt(3) = 4.968 points.
    assert seeds.over_seeds([-0.02, 0.0, 0.02])["ci95"] == pytest.approx([-0.049683, 0.049683], abs=1e-5)
    assert seeds.over_seeds([0.05])["ci95"] is None


def test_kd_seed_row_reads_the_chosen_point_and_the_seed(bench_module):
    seeds = bench_module("kd_seeds")
    kd, base, labels = _preds(3, 1, 5, 1)
    results = {"overrides": ["data.split.field=speaker", "data.split.test=[theo]", "seed=3"],
               "teacher_test_top1": 0.7, "test_labels": labels,
               "rows": [{"kind": "kd", "temperature": 4.0, "alpha": 0.5, "test_top1": 0.5, "val_top1": 0.5,
                         "test_pred": base},
                        {"kind": "kd", "temperature": 2.0, "alpha": 0.5, "test_top1": 0.8, "val_top1": 0.4,
                         "test_pred": kd},
                        {"kind": "baseline", "temperature": None, "alpha": None, "test_top1": 0.6, "val_top1": 0.45,
                         "test_pred": base}]}
    row = seeds.seed_row(results, 2.0, 0.5)
    assert row["seed"] == 3 and row["speaker"] == "theo" and row["kd"] == 0.8 and row["baseline"] == 0.6
    assert row["diff"] == pytest.approx(0.2)
    assert row["paired"]["mcnemar_p"] == pytest.approx(0.625)  # the (T=2, alpha=0.5) point's clips, not T=4's
    summary = {"temperature": 2.0, "alpha": 0.5, "split": "x", "rows": [row], "over_seeds": seeds.over_seeds([0.2])}
    assert "| theo | 3 | 70.00% | 40.00% | 45.00% | 80.00% | 60.00% | +20.00 | 0.625 |" in seeds.render(summary)
    assert "Recipe:" not in seeds.render(summary)
    assert "Recipe: the config with `teacher.members=3`" in seeds.render({**summary, "recipe": ["teacher.members=3"]})


def test_leave_one_speaker_out_averages_each_speakers_seeds_first(bench_module):
    seeds = bench_module("kd_seeds")
    entry = {"rows": {"teacher": {"top1": 0.7}, "student": {"top1": 0.66}, "baseline": {"top1": 0.64}},
             "val_top1": {"student_history": 0.97, "baseline_history": 0.98}}
    speech = {"overrides": ["seed=1"],
              "splits": {"official (index 0-4 test)": entry, "held-out speaker (lucas)": entry}}
    (row,) = seeds.speech_rows(speech)  # the official split is not a held-out speaker
    assert (row["speaker"], row["seed"], row["paired"]) == ("lucas", 1, None)
    assert row["diff"] == pytest.approx(0.02)
    rows = [{"speaker": "theo", "seed": 0, "diff": 0.04}, {"speaker": "theo", "seed": 1, "diff": -0.02},
            {"speaker": "lucas", "seed": 0, "diff": 0.03}]
    assert seeds.by_group(rows, "speaker") == pytest.approx([0.01, 0.03])  # theo: (4 - 2) / 2
    assert seeds.by_group(rows, "seed") == pytest.approx([0.035, -0.02])


def test_teacher_lead_correlates_kds_gain_with_the_teachers_lead_per_group(bench_module):
    seeds = bench_module("kd_seeds")

    def row(speaker, teacher, kd, baseline):
        return {"speaker": speaker, "teacher": teacher, "baseline": baseline, "diff": kd - baseline}

    # Leads (teacher - baseline) -0.10, 0.00, +0.20 (b: mean of two seeds), gains (KD - baseline) -0.05, 0.00,
    # +0.10: gain = lead / 2 exactly, so r = +1.
    rows = [row("a", 0.50, 0.55, 0.60), row("b", 0.70, 0.70, 0.70), row("c", 0.90, 0.80, 0.70),
            row("b", 0.60, 0.60, 0.60)]
    lead = seeds.teacher_lead(rows, "speaker")
    assert lead["pearson_r"] == pytest.approx(1.0)
    assert (lead["groups"], lead["teacher_ahead"], lead["kd_ahead_where_teacher_ahead"],
            lead["kd_ahead_where_teacher_not"]) == (3, 1, 1, 0)
    assert seeds.teacher_lead(rows[:2], "speaker") is None  # two groups: no correlation worth reporting


def test_kd_seed_row_last_epoch_reads_every_models_last_weights(bench_module):
    seeds = bench_module("kd_seeds")
    results = {"overrides": ["seed=2"], "teacher_test_top1": 0.544, "test_labels": [0, 0],
               "teacher_last_epoch": {"test_top1": 0.742},
               "rows": [{"kind": "kd", "temperature": 2.0, "alpha": 0.5, "test_top1": 0.496, "val_top1": 0.598,
                         "test_pred": [0, 1], "last_epoch": {"epoch": 40, "val_top1": 0.55, "test_top1": 0.624}},
                        {"kind": "baseline", "temperature": None, "alpha": None, "test_top1": 0.724,
                         "val_top1": 0.544, "test_pred": [0, 0],
                         "last_epoch": {"epoch": 40, "val_top1": 0.544, "test_top1": 0.73}}]}
    best = seeds.seed_row(results, 2.0, 0.5)
    last = seeds.seed_row(results, 2.0, 0.5, "last")
    assert best["diff"] == pytest.approx(0.496 - 0.724) and best["teacher"] == 0.544
    assert (last["teacher"], last["kd"], last["baseline"], last["kd_val"]) == (0.742, 0.624, 0.73, 0.55)
    assert last["diff"] == pytest.approx(0.624 - 0.73) and last["paired"] is None


def test_teacher_ensemble_scores_members_and_their_mean_logits(bench_module):
    import torch
    from torch import nn

    ens = bench_module("teacher_ensemble")

    class Fixed(nn.Module):
        """Always the same logits: class 0 for a, class 1 for b."""

        def __init__(self, logits):
            super().__init__()
            self.logits = torch.tensor(logits)

        def forward(self, x):
            return self.logits.expand(len(x), -1)

    from edgekd.data.bundle import Split

    # Labels 0, 0, 1: member a says 0 (right 2 of 3), member b says 1 weakly (right 1 of 3); their mean
    # logits [1.5, 1.0] say 0.
    split = Split(torch.zeros(3, 1, 2, 2), torch.tensor([0, 0, 1]))
    ctx = argparse.Namespace(data=argparse.Namespace(val=split, test=split))
    out = ens.scores([Fixed([3.0, 0.0]), Fixed([0.0, 2.0])], ctx)
    assert [m["test"] for m in out["members"]] == pytest.approx([2 / 3, 1 / 3])
    assert out["ensemble"]["test"] == pytest.approx(2 / 3)
