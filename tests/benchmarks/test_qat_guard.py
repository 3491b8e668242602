"""benchmarks/qat_guard.py: the RESULTS section from a results dict worked by hand."""


def test_section_names_the_shipped_state_and_its_test_top1(bench_module):
    bench = bench_module("qat_guard")
    results = {"machine": {"date": "2026-12-01 04:00 UTC", "cpu": "AMD EPYC", "torch": "2.13.0+cpu"},
               "fp32_test_top1": 0.9266666, "test_samples": 300, "epochs": 2, "runs": [
                   {"lr": 1e-5, "guarded": True, "kl_per_epoch": [0.001325, 0.000855],
                    "probe_kl": [0.001563, 0.0007, 0.000544], "kept_epoch": 2, "test_top1": 0.92333},
                   {"lr": 1e-3, "guarded": True, "kl_per_epoch": [1.464129, 0.112846],
                    "probe_kl": [0.001563, 0.187017, 0.068549], "kept_epoch": 0, "test_top1": 0.93333},
                   {"lr": 1e-3, "guarded": False, "kl_per_epoch": [1.5, 0.1], "probe_kl": None, "kept_epoch": 2,
                    "test_top1": 0.5}]}
    lines = bench.render(results).splitlines()
    assert "FP32 test top-1 92.67% (300 clips, held out)" in lines[2]
    assert lines[-3] == "| 1e-05 | on | 0.0013, 0.0009 | 0.0016, 0.0007, 0.0005 | epoch 2 | 92.33% |"
    assert lines[-2] == ("| 0.001 | on | 1.4641, 0.1128 | 0.0016, 0.1870, 0.0685 | epoch 0 (post-training ranges) "
                         "| 93.33% |")
    assert lines[-1] == "| 0.001 | off | 1.5000, 0.1000 | not measured | last epoch | 50.00% |"
