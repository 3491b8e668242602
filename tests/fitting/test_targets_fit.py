"""`edgekd targets fit --quick`: micro-benchmarks on this machine -> a profile a build accepts
(and the old name `calibrate`)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from edgekd.predict.latency import predict_latency
from edgekd.targets import load_target


def test_old_name_calibrate_still_fits_a_loadable_profile(tmp_path):
    out = tmp_path / "boards" / "my-board.yaml"
    env = {**os.environ, "PYTHONWARNINGS": "ignore", "COLUMNS": "200"}
    result = subprocess.run([sys.executable, "-m", "edgekd.cli", "targets", "calibrate", "--out", str(out),
                             "--quick", "--threads", "1"], capture_output=True, text=True, timeout=300, env=env)
    assert result.returncode == 0, result.stderr
    assert "is now `edgekd targets fit`" in result.stderr
    assert "depthwise" in result.stdout and str(out) in result.stdout.replace("\n", "")
    text = out.read_text()
    assert text.startswith("# Measured by edgekd.fitting.microbench.fit_host")
    profile = load_target(str(out))
    spec = load_target("host")
    # measured: efficiencies, bandwidth, overhead; kept from the spec: peaks and budgets
    assert profile.runtime.threads == 1
    assert profile.compute_units[0].peak_macs_per_s == spec.compute_units[0].peak_macs_per_s
    assert profile.budgets == spec.budgets
    assert profile.efficiency.depthwise.fp32 != spec.efficiency.depthwise.fp32
    assert profile.op_overhead_s > 0 and profile.memory.bandwidth_bytes_per_s > 0
    raw = yaml.safe_load(text)
    assert raw["name"] == "my-board" and raw["aliases"] == []  # named after its file, never the base's name
    assert profile.name == "my-board" and "fitted from host" in profile.description


@pytest.mark.parametrize("before, after, threads, busy", [
    (0.1, 1.2, 1, False),   # quiet: the fit's own thread
    (0.3, 2.4, 2, False),
    (1.6, 2.5, 1, True),    # something was running before
    (0.2, 3.9, 1, True),    # something started during the fit
    (None, 5.0, 1, False),  # no load average on this platform: nothing to say
])
def test_a_busy_machine_is_named_in_a_warning(before, after, threads, busy):
    from edgekd.fitting.workflow import busy_machine

    reason = busy_machine(before, after, threads)
    assert bool(reason) == busy
    if busy:
        assert "busy while fitting" in reason and "fit again when nothing else runs" in reason


def test_the_warning_reaches_the_console_and_the_file(tmp_path, monkeypatch):
    from edgekd.fitting import workflow

    loads = iter([2.5, 3.5])
    monkeypatch.setattr(workflow, "_load_average", lambda: next(loads))
    lines: list[str] = []
    result = workflow.fit_target(tmp_path / "busy-board.yaml", quick=True, threads=1, progress=lines.append)
    assert result["warnings"] and any(line.startswith("warning: the machine was busy") for line in lines)
    assert "# WARNING: the machine was busy" in (tmp_path / "busy-board.yaml").read_text()


def test_fit_refuses_a_non_yaml_out(tmp_path):
    result = subprocess.run([sys.executable, "-m", "edgekd.cli", "targets", "fit", "--out",
                             str(tmp_path / "board.txt"), "--quick"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 2 and ".yaml" in result.stderr


def test_cache_bandwidth_applies_only_to_ops_that_fit(tmp_path):
    """With a cache figure, small ops stream at cache speed; without one, at DRAM speed."""
    import torch

    from edgekd.export.onnx import export_onnx
    from edgekd.students import build_student

    torch.manual_seed(0)
    graph = export_onnx(build_student("mobilenetv2", 10, (3, 32, 32), width=0.35).eval(), (3, 32, 32),
                        tmp_path / "s.onnx")
    spec = load_target("host")
    data = spec.model_dump(mode="json")
    data["memory"].update(cache_bytes=1 << 20, cache_bandwidth_bytes_per_s=10 * spec.memory.bandwidth_bytes_per_s)
    from edgekd.targets import profile_from_dict

    cached = predict_latency(graph, profile_from_dict(data), "fp32")
    plain = predict_latency(graph, spec, "fp32")
    assert any(op["cached"] for op in cached["per_op"]) and not any(op["cached"] for op in plain["per_op"])
    assert cached["p50"] < plain["p50"]
    # no op bigger than the cache is ever costed at cache speed
    assert all(op["bytes"] <= (1 << 20) for op in cached["per_op"] if op["cached"])


@pytest.mark.slow  # ~55 s: exports and times 12+ networks; make test-all
def test_networks_exported_here_and_timed_there_fit_a_model_the_predictor_uses(tmp_path):
    """export-networks on a workstation, fit --networks-from on the board -> latency_models."""
    import torch

    from edgekd.export.onnx import export_onnx
    from edgekd.students import build_student

    base = yaml.safe_load((Path(__file__).resolve().parents[2] / "targets" / "host.yaml").read_text())
    base["precisions"] = ["fp32"]  # FP32 only: INT8 fitting networks need a slow quantization each
    (tmp_path / "base.yaml").write_text(yaml.safe_dump(base))
    out = tmp_path / "board.yaml"
    env = {**os.environ, "PYTHONWARNINGS": "ignore", "COLUMNS": "200"}
    cli = [sys.executable, "-m", "edgekd.cli", "targets"]
    exported = subprocess.run(cli + ["export-networks", str(tmp_path / "nets"), "--runtime", "onnxruntime",
                                     "--networks", "14", "--precision", "fp32"],
                              capture_output=True, text=True, timeout=600, env=env)
    assert exported.returncode == 0, exported.stderr
    assert "exported network 14/14" in exported.stderr and (tmp_path / "nets" / "manifest.json").is_file()
    result = subprocess.run(cli + ["fit", "--out", str(out), "--quick", "--threads", "1",
                                   "--base", str(tmp_path / "base.yaml"), "--networks-from", str(tmp_path / "nets")],
                            capture_output=True, text=True, timeout=600, env=env)
    assert result.returncode == 0, result.stderr
    assert "seed 1013: onnxruntime/fp32" in result.stderr and "onnxruntime/fp32" in result.stdout
    profile = load_target(str(out))
    model = profile.latency_models["onnxruntime"]["fp32"]
    assert model.fit.networks == 14 and model.about["threads"] == 1
    assert "latency_models" in out.read_text().splitlines()[2]  # the header says what was measured
    torch.manual_seed(0)
    graph = export_onnx(build_student("mobilenetv2", 10, (3, 32, 32), width=0.35).eval(), (3, 32, 32),
                        tmp_path / "s.onnx")
    pred = predict_latency(graph, profile, "fp32", runtime="onnxruntime")
    assert pred["method"] == "runtime-model:onnxruntime" and 0 < pred["low"] <= pred["p50"] <= pred["high"]
    assert predict_latency(graph, profile, "fp32", runtime="litert")["method"] == "roofline"


def test_fit_refuses_a_folder_without_networks(tmp_path):
    (tmp_path / "empty").mkdir()
    result = subprocess.run([sys.executable, "-m", "edgekd.cli", "targets", "fit", "--out",
                             str(tmp_path / "b.yaml"), "--networks-from", str(tmp_path / "empty")],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2 and "manifest.json" in result.stderr and "export-networks" in result.stderr
    assert not (tmp_path / "b.yaml").exists()


def test_fit_refuses_too_few_networks(tmp_path):
    result = subprocess.run([sys.executable, "-m", "edgekd.cli", "targets", "fit", "--out",
                             str(tmp_path / "b.yaml"), "--runtime", "onnxruntime", "--networks", "5"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2 and "--networks" in result.stderr
    assert not (tmp_path / "b.yaml").exists()
