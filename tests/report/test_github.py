"""`edgekd check --format github`: golden annotations and job summary, and the CLI writing them."""

import os
import subprocess
import sys

from edgekd.report.github import annotation_lines, escape_data, escape_property, summary_markdown

RESULT = {
    "passed": False, "target": "raspberry-pi-4",
    "budgets": [
        {"metric": "latency_p90_ms", "limit": 50.0, "value": 3.25, "unit": "ms", "passed": True, "judged": True,
         "model": "s-int8.onnx"},
        {"metric": "model_bytes", "limit": 20000000.0, "value": 25000000.0, "unit": "bytes", "passed": False,
         "judged": True, "model": "s-int8.onnx"},
        {"metric": "top1", "limit": 0.9, "value": 0.85, "unit": "fraction", "passed": False, "judged": True,
         "model": "s-int8.onnx"},
        {"metric": "host_latency_p90_ms", "limit": 50.0, "value": 80.0, "unit": "ms", "passed": True,
         "judged": False, "note": "not judged: noisy (CV 0.4 > 0.25)", "model": "s-int8.onnx"},
    ],
    "regressions": [
        {"metric": "top1", "baseline": 0.9, "value": 0.85, "change": -0.0556, "difference": -0.05,
         "method": "newcombe-wilson", "interval": [-0.09, -0.01], "limit": None,
         "rule": "95% interval of the change [-9.00, -1.00] pts below 0", "passed": False},
        {"metric": "size_bytes", "baseline": 1000, "value": 1010, "change": 0.01, "difference": 10,
         "method": "relative", "interval": None, "limit": 0.05, "rule": "relative change limit +5.0%",
         "passed": True},
        {"metric": "host_p90_ms", "baseline": 2.0, "value": 3.0, "change": 0.5, "difference": 1.0,
         "method": "relative", "interval": None, "limit": 0.05, "rule": "relative change limit +5.0%",
         "passed": True, "skipped": "measured on another CPU (A vs baseline B)"},
    ],
}

EXPECTED_ANNOTATIONS = [
    "::error title=budget model_bytes missed::model_bytes 23.8 MiB, limit ≤ 19.1 MiB (s-int8.onnx) on raspberry-pi-4",
    # "%" is escaped as %25 in workflow commands
    "::error title=budget top1 missed::top1 85.00%25, limit ≥ 90.00%25 (s-int8.onnx) on raspberry-pi-4",
    "::warning title=budget host_latency_p90_ms not judged::host_latency_p90_ms (s-int8.onnx): not judged: noisy "
    "(CV 0.4 > 0.25)",
    "::error title=top1 regressed::top1 85.00%25 vs baseline 90.00%25 (-5.00 pts; 95%25 interval of the change "
    "[-9.00, -1.00] pts below 0)",
    "::warning title=host_p90_ms not compared with the baseline::host_p90_ms: measured on another CPU (A vs "
    "baseline B)",
    "::notice title=edgekd check on raspberry-pi-4::failed: 3 misses (4 budgets, 3 baseline comparisons)",
]

EXPECTED_SUMMARY = """\
## edgekd check on `raspberry-pi-4`: failed ❌

Report: `runs/gate/report.json`; baseline: `benchmarks/baseline/report.json`.

### Budgets

| result | metric | value | limit | model |
|---|---|---:|---:|---|
| pass | latency_p90_ms | 3.25 ms | ≤ 50 ms | s-int8.onnx |
| **MISS** | model_bytes | 23.8 MiB | ≤ 19.1 MiB | s-int8.onnx |
| **MISS** | top1 | 85.00% | ≥ 90.00% | s-int8.onnx |
| not judged: noisy (CV 0.4 > 0.25) | host_latency_p90_ms | 80 ms | ≤ 50 ms | s-int8.onnx |

### Change vs baseline

| result | metric | baseline | value | change | judged by |
|---|---|---:|---:|---:|---|
| **REGRESSED** | top1 | 90.00% | 85.00% | -5.00 pts | 95% interval of the change [-9.00, -1.00] pts below 0 |
| pass | size_bytes | 1000 B | 1010 B | +1.0% | relative change limit +5.0% |
| not compared: measured on another CPU (A vs baseline B) | host_p90_ms | 2 ms | 3 ms | +50.0% \
| relative change limit +5.0% |
"""


def test_annotations_golden():
    assert annotation_lines(RESULT) == EXPECTED_ANNOTATIONS


def test_summary_golden():
    assert summary_markdown(RESULT, "runs/gate/report.json", "benchmarks/baseline/report.json") == EXPECTED_SUMMARY


def test_passing_result_has_only_the_notice():
    passing = {"passed": True, "target": "pi", "budgets": [RESULT["budgets"][0]], "regressions": []}
    assert annotation_lines(passing) == [
        "::notice title=edgekd check on pi::passed (1 budgets, 0 baseline comparisons)"]
    assert "passed ✅" in summary_markdown(passing, "r.json") and "Change vs baseline" not in summary_markdown(
        passing, "r.json")


def test_workflow_command_escaping():
    # A newline or % in a message would end or corrupt the command; : and , split properties.
    assert escape_data("a%b\r\nc") == "a%25b%0D%0Ac"
    assert escape_property("t: a, b") == "t%3A a%2C b"


def run_check(*args, summary=None):
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    env.pop("GITHUB_STEP_SUMMARY", None)
    if summary is not None:
        env["GITHUB_STEP_SUMMARY"] = str(summary)
    return subprocess.run([sys.executable, "-m", "edgekd.cli", "check", *args, "--format", "github"],
                          capture_output=True, text=True, timeout=120, env=env)


def test_cli_writes_annotations_and_appends_the_summary(report, save, tmp_path):
    chosen = next(m for m in report["models"] if m["name"] == report["chosen"])
    chosen["size_bytes"] = 10**12  # over the budget and the SD card
    path = save(report)
    summary = tmp_path / "summary.md"
    summary.write_text("earlier step output\n")
    result = run_check(path, "--baseline", path, summary=summary)
    assert result.returncode == 3, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert "::error title=budget model_bytes missed::" in result.stdout
    assert all(line.startswith(("::error ", "::warning ", "::notice ")) for line in lines), lines
    text = summary.read_text()
    assert text.startswith("earlier step output\n## edgekd check on `raspberry-pi-4`: failed")
    assert "| model_bytes |" in text and "### Change vs baseline" in text


def test_cli_prints_the_summary_without_the_env(report, save):
    result = run_check(save(report))
    assert "### Budgets" in result.stdout and "::notice title=edgekd check on raspberry-pi-4::" in result.stdout
