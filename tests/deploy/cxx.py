"""Host C++ compiler helpers for the TFLite Micro sources (tests skip when there is no g++)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

CXX = shutil.which("g++") or shutil.which("clang++")
# Include folders of a TFLite Micro source tree and its header dependencies (flatbuffers at the
# version TFLM's schema_generated.h asserts, gemmlowp's fixedpoint), separated by os.pathsep.
# Set it to syntax-check main.cc and model_ops.h against the real TFLM API; unset, those checks skip.
TFLM_INCLUDES_ENV = "EDGEKD_TFLM_INCLUDES"

needs_cxx = pytest.mark.skipif(CXX is None, reason="no host C++ compiler (g++/clang++)")

# Prints the array back as hex and checks the alignment TFLM needs: what model_data.cc declares.
HARNESS = r"""
#include <cstdint>
#include <cstdio>
#include "model_data.h"
int main() {
  if (reinterpret_cast<std::uintptr_t>(g_model_data) % 16 != 0) return 3;
  std::printf("%u %d\n", g_model_data_len, EDGEKD_NUM_CLASSES);
  for (unsigned int i = 0; i < g_model_data_len; ++i) std::printf("%02x", g_model_data[i]);
  std::printf("\n");
  for (int i = 0; i < EDGEKD_NUM_CLASSES; ++i) std::printf("%s\n", g_labels[i]);
  return 0;
}
"""


def compile_and_run_harness(folder: Path, extra_flags: tuple[str, ...] = ()) -> list[str]:
    """Build model_data.cc with :data:`HARNESS`, run it, return its output lines."""
    (folder / "harness.cc").write_text(HARNESS)
    exe = folder / "harness"
    subprocess.run([CXX, "-std=c++17", "-Wall", "-Werror", *extra_flags, "-o", str(exe), "harness.cc",
                    "model_data.cc"], cwd=folder, check=True, capture_output=True, text=True, timeout=300)
    return subprocess.run([str(exe)], check=True, capture_output=True, text=True, timeout=60).stdout.splitlines()


def tflm_includes() -> list[str]:
    """The real TFLM include folders from the environment, or [] (then those checks skip)."""
    value = os.environ.get(TFLM_INCLUDES_ENV, "")
    return [p for p in value.split(os.pathsep) if p and Path(p).is_dir()]


def resolver_methods_in(tflm_root: Path) -> set[str]:
    """The ``Add*`` methods MicroMutableOpResolver declares in a TFLM tree."""
    header = (tflm_root / "tensorflow/lite/micro/micro_mutable_op_resolver.h").read_text()
    return set(re.findall(r"TfLiteStatus (Add\w+)\(", header))
