"""Latency on a profile with ``device:`` facts: the device cost model's entry point.

``predict_on_device(rows, profile, precision, runtime, threads)`` picks the runtime family,
builds the per-op arrays, evaluates the family's model with its coefficients and returns the
same record ``predict_latency`` returns, with ``method = device-model:<family>`` and a ``band``
description saying how ``low``/``high`` were derived (the leave-one-source-out error quantiles
of the published validation, or "unfitted priors").
"""

from __future__ import annotations

import numpy as np

from ..errors import TargetError
from ..targets import TargetProfile
from . import device_model as dm
from .device_coefficients import family_record
from .device_ops import CLASSES, OpArrays, build_op_arrays

CPU_FAMILIES = ("litert", "onnxruntime", "tflite-builtin")
MCU_FAMILIES = ("tflite-micro", "x-cube-ai")
RUNTIME_FAMILIES = CPU_FAMILIES + MCU_FAMILIES + ("edgetpu",)


def resolve_family(profile: TargetProfile, runtime: str | None) -> str:
    """The runtime family that runs the artifact on ``profile``.

    An explicit MCU or Edge TPU runtime wins; an MCU profile otherwise runs its own runtime
    (a ``.tflite`` goes to TFLite Micro, not LiteRT); an Edge TPU profile runs the Edge TPU
    (float ops fall back to its CPU inside that model); a CPU profile runs the requested CPU
    runtime, else its own, else LiteRT.

    Raises:
        TargetError: ``runtime`` is not a family the device model knows.
    """
    if runtime is not None and runtime not in RUNTIME_FAMILIES:
        raise TargetError(f"no device model for runtime {runtime!r}",
                          fix=f"use one of {', '.join(RUNTIME_FAMILIES)}")
    if runtime in MCU_FAMILIES + ("edgetpu",):
        return runtime
    if profile.kind == "mcu":
        return profile.runtime.name if profile.runtime.name in MCU_FAMILIES else "tflite-micro"
    if profile.runtime.name == "edgetpu":
        return "edgetpu"
    if runtime in CPU_FAMILIES:
        return runtime
    return profile.runtime.name if profile.runtime.name in CPU_FAMILIES else "litert"


def evaluate(ops: OpArrays, profile: TargetProfile, family: str, threads: int,
             coef: dict, cpu_coef: dict | None = None) -> tuple[np.ndarray, float, dict]:
    """Per-op seconds, fixed seconds and extra facts of ``ops`` under ``coef`` (no band, no I/O)."""
    facts = profile.device
    assert facts is not None
    dram = profile.memory.bandwidth_bytes_per_s
    if family in CPU_FAMILIES:
        run = dm.cpu_run(ops, facts, dram, threads, builtin_kernels=family == "tflite-builtin")
        return dm.cpu_op_seconds(ops, run, coef), float(dm.cpu_fixed_seconds(facts.cores_for(threads)[0].clock_hz,
                                                                               coef)), {}
    if family in MCU_FAMILIES:
        mrun = dm.mcu_run(ops, facts, profile.memory.weights_in == "flash", family)
        fixed = float(dm.mcu_fixed_seconds(facts.clusters[0].clock_hz, family == "x-cube-ai", coef))
        return dm.mcu_op_seconds(ops, mrun, coef), fixed, {}
    tpu = facts.edgetpu
    assert tpu is not None  # checked when the profile was loaded
    mapped = dm.edgetpu_mapped(ops, tpu.supported_ops)
    seconds = dm.edgetpu_op_seconds(ops, np.full(len(ops), tpu.macs_per_s), coef)
    transfer = dm.edgetpu_transfer_bytes(ops, mapped, tpu.parameter_cache_bytes)
    fixed = float(dm.edgetpu_fixed_seconds(transfer, tpu.link_bytes_per_s, coef))
    extra = {"streamed_bytes": max(0.0, transfer - ops.input_bytes), "mapped_ops": int(mapped.sum()),
             "cpu_fallback_ops": int((~mapped).sum())}
    if not mapped.all():  # the rest runs on the host CPU, one thread, after the tensor crosses the link
        cpu_coef = cpu_coef or family_record("litert")["coefficients"]
        rest = ops.select(~mapped)
        seconds[~mapped] = dm.cpu_op_seconds(rest, dm.cpu_run(rest, facts, dram, 1), cpu_coef)
        fixed += float(dm.cpu_fixed_seconds(facts.clusters[0].clock_hz, cpu_coef))
    return seconds, fixed, extra


def op_arrays_for(rows, profile: TargetProfile, precision: str, family: str) -> OpArrays:
    """The per-op arrays of ``rows`` for ``family`` on ``profile``."""
    assert profile.device is not None
    return build_op_arrays(rows, precision, dm.tiles_for(profile.device, family))


def predict_on_device(rows, profile: TargetProfile, precision: str, runtime: str | None = None,
                      threads: int | None = None) -> dict:
    """Predict batch-1 latency from cost rows on a profile with ``device:`` facts.

    Args:
        rows: ``OpCost`` rows of the graph (with ``shape`` for conv-like rows when known).
        profile: A profile whose ``device`` section is set.
        precision: ``fp32``, ``fp16`` or ``int8``.
        runtime: The runtime family (see :func:`resolve_family`); default the profile's.
        threads: CPU threads (default ``runtime.threads``; 1 on an MCU and an Edge TPU's host).

    Returns:
        ``p50``/``low``/``high`` (ms), ``per_op`` rows, ``macs``, ``bytes``, ``threads``,
        ``method`` (``device-model:<family>``), ``band`` (how low/high were derived: the
        validation's errors on this kind of device, phone or sbc, where it had enough of them),
        ``coefficients`` (``fitted`` or ``priors``) and, on an Edge TPU, ``edgetpu`` (bytes
        streamed per inference, ops mapped, CPU fallback).

    Raises:
        TargetError: The profile has no ``device`` section, or a bad thread count.
    """
    if profile.device is None:
        raise TargetError(f"target {profile.name!r} has no device facts", fix="add a device: section (see targets/)")
    family = resolve_family(profile, runtime)
    if threads is not None and threads < 1:
        raise TargetError(f"threads must be >= 1, got {threads}", fix="pass threads=1 or more")
    threads = 1 if family in MCU_FAMILIES or family == "edgetpu" or profile.kind == "mcu" \
        else int(threads or profile.runtime.threads)
    record = family_record(family)
    ops = op_arrays_for(rows, profile, precision, family)
    seconds, fixed, extra = evaluate(ops, profile, family, threads, record["coefficients"])
    p50 = float(seconds.sum() + fixed)
    band = record["bands_by_kind"].get(profile.kind) or record["band"]  # the device kind's, where validated
    per_op = [{"name": n, "op_type": t, "op_class": CLASSES[c], "precision": "int8" if i8 else "fp32",
               "macs": int(m), "ms": float(s) * 1e3}
              for n, t, c, i8, m, s in zip(ops.names, ops.op_types, ops.cls, ops.int8, ops.macs, seconds)]
    out = {"p50": p50 * 1e3, "low": p50 * float(band["low"]) * 1e3, "high": p50 * float(band["high"]) * 1e3,
           "per_op": per_op, "bound_counts": {}, "macs": int(ops.macs.sum()), "bytes": int(ops.bytes.sum()),
           "fixed_ms": fixed * 1e3, "threads": threads, "method": f"device-model:{family}",
           "band": band.get("description", ""), "coefficients": record["source"],
           "compute_unit": profile.runtime.compute_unit, "target": profile.name, "precision": precision}
    if extra:
        out["edgetpu"] = extra
    return out
