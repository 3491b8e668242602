"""A loader for the benchmark scripts (benchmarks/ is not a package; its modules import their siblings)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


def _load(stem: str):
    sys.path.insert(0, str(BENCHMARKS))  # a benchmark imports its siblings by name
    try:
        spec = importlib.util.spec_from_file_location(f"_bench_{stem}", BENCHMARKS / f"{stem}.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module
    finally:
        sys.path.remove(str(BENCHMARKS))


@pytest.fixture
def bench_module():
    """``bench_module("fit")``: benchmarks/fit.py loaded as a module."""
    return _load
