"""Deploy bundles of real builds: MCU C sources, the LiteRT runner on images, the audio bundle on WAVs."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from edgekd import atomic

from .cxx import CXX, compile_and_run_harness, needs_cxx, tflm_includes


def chosen(result) -> dict:
    return next(m for m in result.report["models"] if m["name"] == result.report["chosen"])


def run_bundle(folder: Path, inputs: list[Path]) -> list[dict]:
    """Run the bundle's run.py (a separate Python, edgekd not imported) on inputs; one JSON per input."""
    done = subprocess.run([sys.executable, "-I", str(folder / "run.py"), "--json", "--top-k", "1",
                           *map(str, inputs)], capture_output=True, text=True, timeout=600, cwd=folder)
    assert done.returncode == 0, done.stderr
    return [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]


# -- TFLite Micro (stm32h743) ------------------------------------------------------------------------


def test_mcu_bundle_files_and_manifest(mcu_build):
    out, report = mcu_build.out_dir, mcu_build.report
    deploy = out / "deploy"
    assert report["deploy"]["family"] == "tflite-micro" and report["deploy"]["artifact"] == report["chosen"]
    expected = {"model.tflite", "labels.txt", "model.json", "model_data.h", "model_data.cc", "model_ops.h", "main.cc"}
    assert expected == {p.name for p in deploy.iterdir()} == set(report["deploy"]["files"])
    assert (deploy / "model.tflite").read_bytes() == (out / chosen(mcu_build)["path"]).read_bytes()
    manifest = {f["path"]: f for f in json.loads((out / "manifest.json").read_text())["files"]}
    for name in expected:
        assert manifest[f"deploy/{name}"]["sha256"] == atomic.sha256_of(deploy / name)


def test_mcu_arena_define_is_the_measured_arena(mcu_build):
    header = (mcu_build.out_dir / "deploy/model_data.h").read_text()
    arena = chosen(mcu_build)["memory"]["tflm_arena_bytes"]
    assert arena and re.search(rf"#define EDGEKD_TFLM_ARENA_MEASURED_BYTES {arena}\n", header)
    assert "#define EDGEKD_NUM_CLASSES 10" in header


def test_mcu_resolver_has_exactly_the_flatbuffers_ops(mcu_build):
    # The ops read here with LiteRT's own flatbuffer schema, independently of edgekd's reader.
    from ai_edge_litert import schema_py_generated as fb

    from edgekd.deploy.tflm import RESOLVER_METHODS

    deploy = mcu_build.out_dir / "deploy"
    model = fb.ModelT.InitFromPackedBuf((deploy / "model.tflite").read_bytes(), 0)
    names = {v: k for k, v in vars(fb.BuiltinOperator).items() if not k.startswith("_")}
    used = {names[max(code.builtinCode, code.deprecatedBuiltinCode)]
            for sub in model.subgraphs for op in sub.operators for code in [model.operatorCodes[op.opcodeIndex]]}
    text = (deploy / "model_ops.h").read_text()
    calls = re.findall(r"resolver\.(Add\w+)\(\)", text)
    assert sorted(calls) == sorted(RESOLVER_METHODS[op] for op in used) and len(calls) == len(set(calls))
    assert f"kEdgekdOpCount = {len(used)};" in text


def test_mcu_c_array_parses_back_to_the_tflite(mcu_build):
    deploy = mcu_build.out_dir / "deploy"
    source = (deploy / "model_data.cc").read_text()
    body = source[source.index("g_model_data[] = {"):source.index("};")]
    assert "alignas(16)" in source
    assert bytes(int(h, 16) for h in re.findall(r"0x([0-9a-f]{2})", body)) == (deploy / "model.tflite").read_bytes()


@needs_cxx
def test_mcu_c_array_compiles_and_runs_on_the_host(mcu_build, tmp_path):
    deploy = mcu_build.out_dir / "deploy"
    for name in ("model_data.h", "model_data.cc"):
        (tmp_path / name).write_text((deploy / name).read_text())
    lines = compile_and_run_harness(tmp_path)
    assert bytes.fromhex(lines[1]) == (deploy / "model.tflite").read_bytes()
    assert lines[2:] == [str(i) for i in range(10)]


@needs_cxx
@pytest.mark.skipif(not tflm_includes(), reason="EDGEKD_TFLM_INCLUDES not set (a TFLite Micro source tree)")
def test_mcu_main_compiles_against_tflite_micro(mcu_build):
    flags = [f"-I{p}" for p in tflm_includes()]
    done = subprocess.run([CXX, "-std=c++17", "-fsyntax-only", *flags, "main.cc"], cwd=mcu_build.out_dir / "deploy",
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]


# -- LiteRT runner (raspberry-pi-4, images) -----------------------------------------------------------


def test_runner_agrees_with_the_report_on_the_test_split(image_build):
    report, deploy = image_build.report, image_build.out_dir / "deploy"
    assert report["deploy"]["family"] == "litert" and chosen(image_build)["format"] == "tflite"
    spec = json.loads((deploy / "model.json").read_text())
    assert spec["preprocessing"]["kind"] == "image" and spec["preprocessing"]["size"] == [16, 16]
    test_root = Path(report["data"].get("test_root") or image_build.out_dir.parent / "test")
    files = sorted(test_root.rglob("*.png"))
    assert len(files) == report["data"]["samples"]["test"] == 24
    answers = run_bundle(deploy, files)
    truth = [int(path.parent.name[1:]) for path in files]
    top1 = np.mean([a["top"][0]["index"] == t for a, t in zip(answers, truth)])
    assert top1 == pytest.approx(chosen(image_build)["accuracy"]["top1"], abs=1e-9)


# -- Audio (raspberry-pi-4, ONNX with the front end in the graph) --------------------------------------


def test_audio_bundle_turns_wavs_into_the_reports_predictions(audio_build):
    report, deploy = audio_build.report, audio_build.out_dir / "deploy"
    assert report["deploy"]["frontend_in_graph"] is True
    spec = json.loads((deploy / "model.json").read_text())
    assert spec["preprocessing"]["frontend_in_graph"] is True and spec["inputs"][0]["shape"] == [1, 2400]
    wavs = sorted(p for p in (audio_build.out_dir.parent / "wavs").glob("*.wav")
                  if int(p.stem.split("_")[2]) <= 1)
    assert len(wavs) == report["data"]["samples"]["test"] == 12
    answers = run_bundle(deploy, wavs)
    truth = [int(p.stem.split("_")[0]) for p in wavs]
    top1 = np.mean([a["top"][0]["index"] == t for a, t in zip(answers, truth)])
    assert top1 == pytest.approx(chosen(audio_build)["accuracy"]["top1"], abs=1e-9)
