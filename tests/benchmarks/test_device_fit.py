"""How the device-model fit treats X-CUBE-AI releases.

It records the newest release of its rows as the coefficients' reference, and gives each older
release it measured its own factor. A leave-one-source-out fold without the STM32Cube.AI 10.0
rows knows the releases only up to 9.0: its coefficients must say so, or the held-out 10.0 rows
are costed from a release the fold never saw (the extrapolation the model's docstring rules out).
"""

from __future__ import annotations

import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from benchmarks.devices.fit import Batch, fit_family  # noqa: E402
from edgekd.predict import device_model as dm  # noqa: E402
from edgekd.predict.device_ops import CLASS_INDEX, OpArrays  # noqa: E402
from edgekd.targets import load_target  # noqa: E402


def _one_conv() -> OpArrays:
    """A 3x3 int8 conv, 8 -> 16 channels at 8x8 (73,728 MACs), as the model's arrays."""
    macs = 8 * 8 * 16 * 9 * 8
    return OpArrays(names=["conv"], op_types=["Conv"], cls=np.array([CLASS_INDEX["conv"]]), int8=np.array([True]),
                    macs=np.array([float(macs)]), padded_macs=np.array([float(macs)]), outputs=np.array([1024.0]),
                    ops=np.array([0.0]), reduction=np.array([72.0]), bytes=np.array([2688.0]),
                    weight_bytes=np.array([1152.0]), weight_reads=np.array([1152.0 * 32]), input_bytes=512.0)


def _rows(*releases):
    h7 = load_target("stm32h7a3")
    return [SimpleNamespace(ops=_one_conv(), profile=h7, family="x-cube-ai" if r else "tflite-micro", xcube_version=r,
                            measured_ms=1.0 + i) for i, r in enumerate(releases)]


def test_the_fit_records_the_newest_release_it_saw():
    rows = _rows(7.1, 9.0, None)
    batch = Batch(rows, "x-cube-ai")
    assert batch.recorded == {"xcube_reference": 9.0}
    coef = fit_family(batch)
    assert coef["xcube_reference"] == 9.0
    # A 10.0 row predicted with these coefficients costs what a 9.0 row does.
    ten, nine = (Batch(_rows(r), "x-cube-ai").predict(coef)[0] for r in (10.0, 9.0))
    assert ten == nine
    assert Batch(_rows(None), "tflite-micro").recorded == {"xcube_reference": dm.XCUBE_REFERENCE}


def test_the_fit_gives_each_older_release_its_own_factor():
    batch = Batch(_rows(7.1, 8.1, 9.0, None), "x-cube-ai")
    assert sorted(batch.extra_priors) == [dm.xcube_release_key(7.1), dm.xcube_release_key(8.1)]
    coef = fit_family(batch)
    assert set(dm.xcube_release_factors(coef)) == {7.1, 8.1}
    # A release between two fitted ones is costed as the older: 8.0 as 7.1, never interpolated.
    eight, seven = (Batch(_rows(r), "x-cube-ai").predict(coef)[0] for r in (8.0, 7.1))
    assert eight == seven
