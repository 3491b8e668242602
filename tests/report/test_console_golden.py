"""Golden console output of a finished build: the verdict and the budget table first, units everywhere.

The expected text was rendered once and checked line by line: verdict and each missed budget in
words first; the budget table with the result first, values and limits in their units, and the
noisy latency entry "not judged" with its reason; then the models (Core ML cells marked n/a¹ and
explained under the table); the path of report.md last.
"""

from pathlib import Path

from edgekd.report.console import render_build

from .test_markdown_golden import REPORT

# A line ending in a backslash continues on the next source line: one line of output, kept within 120 columns.
EXPECTED = """\
FAILED: 1 budget missed (1 not judged) — deployable: s-int8.onnx
  missed: top1 85.00%, limit ≥ 90.00% (s-int8.onnx)
                                                    budgets
┏━━━━━━━━━━━━┳━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━┳━━━━━━━━━━━━┳━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━━━━━━━━━━┓
┃ result     ┃ metric                            ┃   value ┃      limit ┃ model       ┃ why                    ┃
┡━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━╇━━━━━━━━━━━━╇━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━━━━━━┩
│ MISS       │ top1                              │  85.00% │   ≥ 90.00% │ s-int8.onnx │                        │
│ pass       │ model_bytes                       │   512 B │ ≤ 19.1 MiB │ s-int8.onnx │                        │
│ not judged │ latency_p90_ms (measured on host) │ 21.6 ms │    ≤ 20 ms │ s-int8.onnx │ noisy (CV 0.61 > 0.25) │
└────────────┴───────────────────────────────────┴─────────┴────────────┴─────────────┴────────────────────────┘
                                         models (deployable: s-int8.onnx)
┏━━━━━━━━━━━━━━━━━━┳━━━━━━━━┳━━━━━━┳━━━━━━━┳━━━━━━━━━┳━━━━━━━━┳━━━━━━━━━┳━━━━━━━━┳━━━━━━━━━━┳━━━━━━━━━━━┳━━━━━━━━━┓
┃ model            ┃ fmt    ┃ prec ┃  MACs ┃    size ┃  top-1 ┃   agree ┃    ECE ┃ host p90 ┃ pred. p50 ┃   arena ┃
┡━━━━━━━━━━━━━━━━━━╇━━━━━━━━╇━━━━━━╇━━━━━━━╇━━━━━━━━━╇━━━━━━━━╇━━━━━━━━━╇━━━━━━━━╇━━━━━━━━━━╇━━━━━━━━━━━╇━━━━━━━━━┩
│ teacher          │ torch  │ fp32 │ 200 k │ 4.0 KiB │ 90.00% │ 100.00% │ 0.0500 │   1.5 ms │      2 ms │ 2.0 KiB │
│ s-int8.onnx      │ onnx   │ int8 │  20 k │   512 B │ 85.00% │  90.00% │ 0.1000 │        — │         — │       — │
│ s-int8.mlpackage │ coreml │ int8 │  20 k │ 2.0 KiB │   n/a¹ │    n/a¹ │   n/a¹ │     n/a¹ │    0.5 ms │   512 B │
└──────────────────┴────────┴──────┴───────┴─────────┴────────┴─────────┴────────┴──────────┴───────────┴─────────┘
                                            pred. p50: predicted on pi
¹ Core ML prediction needs macOS: on Linux a Core ML model is converted, saved and its spec checked, \
but accuracy, calibration and host latency cannot be
measured (the gate takes its accuracy from the same student measured in another format).
budget missed — report: out/report.md
"""


def test_console_golden(capsys, monkeypatch):
    monkeypatch.delenv("FORCE_COLOR", raising=False)
    render_build(REPORT, Path("out"))
    # rich pads centred titles with spaces; trailing blanks are not part of the contract
    assert [line.rstrip() for line in capsys.readouterr().out.split("\n")] == EXPECTED.split("\n")


def test_a_100_column_terminal_hides_no_name_and_no_value(capsys, monkeypatch):
    """Narrow terminals fold values onto a second line; model and profile names stay whole, nothing is cut."""
    from rich.console import Console

    import edgekd.report.console as console_module

    report = {**REPORT, "predicted_on_targets": [
        {"target": name, "kind": "mcu", "precision": "int8", "p50": 13.15, "low": 9.038, "high": 19.21,
         "budget_ms": 200.0, "runs_as_is": False, "model_bytes": 645939, "peak_ram_bytes": 26624, "fits": True,
         "budgets": []} for name in ("jetson-orin-nano", "coral-dev-board", "stm32h7a3")]}
    report["models"] = [{**m, "name": m["name"].replace("s-int8", "student-int8-long-name")} for m in report["models"]]
    monkeypatch.setattr(console_module, "console", lambda: Console(width=100, highlight=False))
    render_build(report, Path("out"))
    out = capsys.readouterr().out
    assert "…" not in out and max(len(line) for line in out.splitlines()) <= 100
    for name in ("student-int8-long-name.onnx", "student-int8-long-name.mlpackage", "jetson-orin-nano",
                 "coral-dev-board", "stm32h7a3"):
        assert f"│ {name}" in out, name


def test_at_chance_build_is_never_called_deployable(capsys):
    report = {**REPORT, "passed": False,
              "budgets": [{"metric": "top1_above_chance", "limit": 0.7, "value": 0.5, "unit": "fraction",
                           "passed": False, "model": "s-int8.onnx", "source": "chance"}],
              "at_chance": [{"model": "s-int8.onnx", "split": "test", "top1": 0.5, "threshold": 0.7}]}
    render_build(report, Path("out"))
    out = capsys.readouterr().out
    assert out.startswith("FAILED: 1 budget missed — deployable: none (s-int8.onnx is at chance)\n")
    assert "AT CHANCE: s-int8.onnx test top-1 50.00% (better than chance needs >= 70.00%)" in out
    assert "models (deployable: none (s-int8.onnx is at chance))" in out
