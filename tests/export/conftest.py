"""Fixtures for the exporter tests: a tiny trained CNN and structured data (see tiny.py)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

_spec = importlib.util.spec_from_file_location("edgekd_tests_tiny", Path(__file__).with_name("tiny.py"))
tiny = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(tiny)


@pytest.fixture(scope="session")
def tiny_model():
    """TinyNet trained 50 steps on the synthetic task (do not mutate: shared)."""
    return tiny.trained_model()


@pytest.fixture(scope="session")
def data():
    """(representative, test) float32 NCHW arrays and test labels."""
    representative, _ = tiny.synthetic(64, seed=2)
    test_x, test_y = tiny.synthetic(128, seed=3)
    return representative, test_x, test_y


@pytest.fixture(scope="session")
def lib():
    """The tiny.py helper module (TinyNet, SvdNet, synthetic, torch_logits, leftovers)."""
    return tiny
