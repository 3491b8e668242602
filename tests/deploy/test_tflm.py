"""TFLite Micro sources: the C array round-trips through a C++ compiler, the resolver holds exactly the ops."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from edgekd.deploy.tflm import RESOLVER_METHODS, c_string, model_data_h, model_ops, model_ops_h, tflm_sources

from .cxx import CXX, compile_and_run_harness, needs_cxx, resolver_methods_in, tflm_includes

LABELS = ["yes", 'say "no"', "back\\slash", "naïve"]


def sources(tmp_path: Path, model: bytes, arena: int | None = 4096) -> Path:
    files = tflm_sources(model_bytes=model, op_types=["CONV_2D", "ADD", "CONV_2D", "SOFTMAX"], labels=LABELS,
                         arena_bytes=arena, arena_note="TFLM lacks op FOO", source="artifacts/m.tflite",
                         input_info={"shape": [1, 4, 4, 1], "layout": "NHWC", "dtype": "int8"})
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    return tmp_path


@needs_cxx
def test_c_array_and_labels_round_trip_through_the_compiler(tmp_path):
    # Bytes of every value, and a length that is not a multiple of the 16 bytes per line.
    model = bytes(np.random.default_rng(0).integers(0, 256, 1000, dtype=np.uint8)) + bytes(range(256)) + b"\x00" * 3
    lines = compile_and_run_harness(sources(tmp_path, model))
    assert lines[0] == f"{len(model)} {len(LABELS)}"
    assert bytes.fromhex(lines[1]) == model
    assert lines[2:] == LABELS  # quotes, backslashes and UTF-8 survive the C string literals


@needs_cxx
def test_unmeasured_arena_stops_the_build_unless_given(tmp_path):
    import subprocess

    folder = sources(tmp_path, b"\x01\x02", arena=None)
    header = model_data_h(arena_bytes=None, arena_note="x", num_classes=2, source="m")
    assert "#define EDGEKD_TFLM_ARENA_MEASURED_BYTES" not in header  # no made-up number
    failed = subprocess.run([CXX, "-std=c++17", "-fsyntax-only", "model_data.cc"], cwd=folder, capture_output=True,
                            text=True)
    assert failed.returncode != 0 and "arena not measured" in failed.stderr
    assert compile_and_run_harness(folder, ("-DEDGEKD_TFLM_ARENA_MEASURED_BYTES=2048",))[1] == "0102"


def test_resolver_has_each_op_once_in_first_use_order():
    text = model_ops_h(["CONV_2D", "ADD", "CONV_2D", "SOFTMAX", "ADD"])
    assert "MicroMutableOpResolver<kEdgekdOpCount>" in text and "kEdgekdOpCount = 3;" in text
    calls = [line.split("resolver.")[1].split("(")[0] for line in text.splitlines() if "resolver.Add" in line]
    assert calls == ["AddConv2D", "AddAdd", "AddSoftmax"]


def test_op_without_a_resolver_method_is_a_compile_error():
    builtins, missing = model_ops(["CONV_2D", "CUSTOM", "CONV_2D"])
    assert builtins == ["CONV_2D"] and missing == ["CUSTOM"]
    assert '#error "op CUSTOM has no MicroMutableOpResolver method' in model_ops_h(["CONV_2D", "CUSTOM"])


def test_c_string_escapes():
    assert c_string('a"b\\c') == '"a\\"b\\\\c"'
    assert c_string("é") == '"\\303\\251"'


@pytest.mark.skipif(not tflm_includes(), reason="EDGEKD_TFLM_INCLUDES not set (a TFLite Micro source tree)")
def test_every_resolver_method_exists_in_tflite_micro():
    roots = [Path(p) for p in tflm_includes() if (Path(p) / "tensorflow/lite/micro").is_dir()]
    declared = resolver_methods_in(roots[0])
    assert set(RESOLVER_METHODS.values()) <= declared, sorted(set(RESOLVER_METHODS.values()) - declared)
