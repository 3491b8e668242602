"""The device cost model: batch-1 latency of a graph on a profile with micro-architecture facts.

One model per runtime family, evaluated over per-op arrays (``device_ops.py``) and a per-op
*context* built from the profile's ``device:`` facts (``edgekd/device_facts.py``): clock, MAC
rate at the op's precision, thread capacity, caches, flash. Everything is numpy over ops, so
many graphs are evaluated at once (the validation concatenates them to refit quickly). The
coefficients ``c[...]`` are per family (``device_coefficients.py``).

**Arm CPU, XNNPACK / TFLite (``litert``; ``onnxruntime`` shares it; ``tflite-builtin``, TFLite's
own kernels used before XNNPACK became its CPU path, multiplies compute by c[builtin_slowdown_p] and
depthwise compute by c[builtin_slowdown_depthwise_p]: XNNPACK's largest gains were its depthwise
kernels).** Threads land on the fastest cores first. For each op at precision ``p`` (int8 ops run
integer kernels, others fp32: XNNPACK runs FP16 models in FP32 unless told otherwise)::

    capacity = sum over the threads' cores of clock x rate_p / (clock_0 x rate_p,0)
    speedup  = 1 + c[par_p] x (capacity - 1)           # parallel efficiency, not linear
    cycles   = padded_macs / (rate_p,0 x c[e_class_p] x s) + outputs x c[out_cycles_p]   (conv-like)
             = element_ops / (rate_p,0 x c[e_elementwise_p] x s)                          (others)
    s        = c[scalar_efficiency] on a core without a vector unit (scalar loads per MAC), else 1
    compute  = cycles / (clock_0 x speedup)
    memory   = bytes / (c[onchip_bytes_per_cycle] x clock_0 x speedup)   if the op's bytes fit the shared cache
             = bytes / (dram_bandwidth x c[dram_efficiency])              otherwise
    op time  = max(compute, memory) + (c[op_cycles] + [threads > 1] c[sync_cycles]) / clock_0
    fixed    = c[run_cycles] / clock_0

``rate_p`` is the core's MACs/cycle at ``p`` (an Armv8.0 core's int8 rate has no SDOT behind
it); ``out_cycles`` is the per-output store (and in INT8 requantization) work that makes INT8
gain little on small depthwise layers and a lot on dense ones.

**Cortex-M, TFLite Micro + CMSIS-NN (``tflite-micro``; ``x-cube-ai`` multiplies by
c[xcube_release@R] / c[xcube_speedup]: ST's runtime changes release by release, and not smoothly:
in MLPerf Tiny the same boards ran the same models 1.5-2.3x faster from 7.1 to 9.0, visual wake
words 1.7x faster from 8.0 to 8.1 alone while the other three models gained ~6%, and the one board
measured with 10.0 (the STM32H747I-DISCO, stm32ai-modelzoo) runs a visual-wake-words-sized
MobileNet in 1.8x the cycles 9.0 needed on an H7A3. So each release R older than the reference has
its own fitted multiplier; the reference (c[xcube_reference], the newest release among the rows the
coefficients were fitted on, recorded by the fit) has 1; a release the fit never saw takes the
nearest older one it saw (the oldest for one older than all), and a newer one the reference's:
nothing is interpolated or extrapolated along a trend).** One core; weights in flash::

    cycles = padded_macs / (rate x c[e_class] x ipc) + outputs x c[out_cycles] + c[op_cycles]
             + weight_reads x c[flash_stall] x (wait_states + 1) / flash_bytes_per_access
    ipc    = c[dual_issue_gain] on a dual-issue core (Cortex-M7/M85), else 1
    fixed  = c[run_cycles] / clock

**Edge TPU (``edgetpu``).** The compiler maps ops to the TPU up to the first op it cannot run
(not in ``supported_ops`` or not int8); that op and every later one run on the host CPU (the
CPU model, one thread). Parameters beyond the on-chip cache stream over the host link on
every inference::

    op time = work / (peak x c[e_class] x K / (K + c[reduction_half])) + c[op_seconds]   (mapped ops;
              K = MACs per output: a short reduction leaves the systolic array filling and draining)
    fixed   = c[run_seconds] + (max(0, mapped weight bytes - parameter_cache_bytes)
              + graph input bytes) / (link x c[link_efficiency])
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

from ..device_facts import DeviceFacts
from .device_ops import CLASSES, CONV_LIKE, CPU_TILES, MCU_TILES, OpArrays

CONV_MASK = np.array([name in CONV_LIKE for name in CLASSES])
# The newest X-CUBE-AI release in the validation (STM32Cube.AI 10.0.0, stm32ai-modelzoo): the reference
# release of coefficients that do not record their own (``xcube_reference``, written by the fit).
XCUBE_REFERENCE = 10.0
XCUBE_RELEASE_PREFIX = "xcube_release@"
DEPTHWISE = CLASSES.index("depthwise")
_ELEMENTWISE_LIKE = ("elementwise", "pool", "other")
# Coral's op names for the ONNX and TFLite op types the TPU may run (models-intro, "Supported operations").
EDGETPU_OP_NAMES = {
    "Conv": "Conv2d", "CONV_2D": "Conv2d", "DEPTHWISE_CONV_2D": "DepthwiseConv2d",
    "Gemm": "FullyConnected", "MatMul": "FullyConnected", "FULLY_CONNECTED": "FullyConnected",
    "Relu": "Relu", "RELU": "Relu", "Clip": "Relu6", "RELU6": "Relu6", "Sigmoid": "Logistic", "LOGISTIC": "Logistic",
    "Tanh": "Tanh", "TANH": "Tanh", "Add": "Add", "ADD": "Add", "Sub": "Sub", "SUB": "Sub", "Mul": "Mul", "MUL": "Mul",
    "Max": "Maximum", "MAXIMUM": "Maximum", "Min": "Minimum", "MINIMUM": "Minimum",
    "AveragePool": "AveragePool2d", "AVERAGE_POOL_2D": "AveragePool2d", "MaxPool": "MaxPool2d",
    "MAX_POOL_2D": "MaxPool2d", "GlobalAveragePool": "Mean", "ReduceMean": "Mean", "MEAN": "Mean",
    "Concat": "Concatenation", "CONCATENATION": "Concatenation", "Pad": "Pad", "PAD": "Pad",
    "Reshape": "Reshape", "RESHAPE": "Reshape", "Flatten": "Reshape", "Resize": "ResizeBilinear",
    "RESIZE_BILINEAR": "ResizeBilinear", "RESIZE_NEAREST_NEIGHBOR": "ResizeNearestNeighbor",
    "Softmax": "Softmax", "SOFTMAX": "Softmax", "HardSwish": "HardSwish", "HARD_SWISH": "HardSwish",
    "Split": "Split", "SPLIT": "Split", "Squeeze": "Squeeze", "SQUEEZE": "Squeeze", "Slice": "StridedSlice",
    "STRIDED_SLICE": "StridedSlice", "Transpose": "Transpose", "TRANSPOSE": "Transpose",
    # A batch norm that cannot fold into a conv (pre-activation ResNets) converts to a TFLite MUL + ADD.
    "BatchNormalization": "Mul",
}


@dataclass
class CpuRun:
    """Per-op CPU context: the lead core's clock and rate, thread capacity, caches."""

    clock: np.ndarray
    rate: np.ndarray
    capacity: np.ndarray
    multi: np.ndarray     # more than one thread
    scalar: np.ndarray    # the core has no vector unit
    builtin: np.ndarray   # TFLite's built-in kernels (before XNNPACK), not XNNPACK
    shared: np.ndarray    # shared on-chip cache bytes
    dram: np.ndarray      # DRAM bytes/s


@dataclass
class McuRun:
    """Per-op MCU context."""

    clock: np.ndarray
    rate: np.ndarray
    dual: np.ndarray          # dual-issue core
    flash_cycles: np.ndarray  # raw stall cycles per weight byte read: (wait states + 1) / bytes per access
    xcube: np.ndarray         # X-CUBE-AI rather than TFLite Micro
    xcube_release: np.ndarray  # its release (major.minor as a number); NaN: the coefficients' reference release


def concat(parts: list) -> object:
    """Concatenate per-op contexts (or OpArrays' numeric fields) of several graphs."""
    kind = type(parts[0])
    return kind(**{f.name: np.concatenate([getattr(p, f.name) for p in parts]) for f in fields(kind)})


def tiles_for(facts: DeviceFacts, family: str):
    """``precision -> (nr, kr, depthwise tile)`` of the family's kernels on this device."""
    if family in ("tflite-micro", "x-cube-ai"):
        return lambda precision: MCU_TILES["int8" if precision == "int8" else "fp32"]
    dot = facts.clusters[0].dot_product
    return lambda precision: CPU_TILES[("int8" if precision == "int8" else "fp32", dot)]


def _per_class(coef: dict, suffix: str) -> np.ndarray:
    """Efficiency of each class in CLASSES order (pool/other use the elementwise one)."""
    return np.array([coef[f"e_{'elementwise' if name in _ELEMENTWISE_LIKE else name}{suffix}"] for name in CLASSES])


def cpu_run(ops: OpArrays, facts: DeviceFacts, dram_bytes_per_s: float, threads: int,
            builtin_kernels: bool = False) -> CpuRun:
    """The CPU context of ``ops`` run with ``threads`` threads (fastest cores first); ``builtin_kernels``:
    TFLite's own kernels rather than XNNPACK (family ``tflite-builtin``)."""
    cores = facts.cores_for(threads)
    lead = cores[0]
    caps = {p: sum(c.clock_hz * c.rate(p) for c in cores) / (lead.clock_hz * lead.rate(p)) for p in ("fp32", "int8")}
    n = len(ops)
    return CpuRun(clock=np.full(n, lead.clock_hz), rate=np.where(ops.int8, lead.rate("int8"), lead.rate("fp32")),
                  capacity=np.where(ops.int8, caps["int8"], caps["fp32"]), multi=np.full(n, threads > 1),
                  scalar=np.full(n, not lead.simd), builtin=np.full(n, builtin_kernels),
                  shared=np.full(n, float(facts.shared_cache_bytes or 0)), dram=np.full(n, float(dram_bytes_per_s)))


def cpu_op_seconds(ops: OpArrays, run: CpuRun, coef: dict) -> np.ndarray:
    """Seconds of each op on an Arm CPU (module docstring)."""
    int8 = ops.int8
    speedup = 1.0 + np.where(int8, coef["par_int8"], coef["par_fp32"]) * (run.capacity - 1.0)
    eff = np.where(int8, _per_class(coef, "_int8")[ops.cls], _per_class(coef, "_fp32")[ops.cls]) \
        * np.where(run.scalar, coef["scalar_efficiency"], 1.0)
    out_cycles = np.where(int8, coef["out_cycles_int8"], coef["out_cycles_fp32"])
    cycles = np.where(CONV_MASK[ops.cls], ops.padded_macs / (run.rate * eff) + ops.outputs * out_cycles,
                      ops.ops / (run.rate * eff))
    depthwise = ops.cls == DEPTHWISE
    slowdown = np.where(int8,
                        np.where(depthwise, coef["builtin_slowdown_depthwise_int8"], coef["builtin_slowdown_int8"]),
                        np.where(depthwise, coef["builtin_slowdown_depthwise_fp32"], coef["builtin_slowdown_fp32"]))
    cycles = cycles * np.where(run.builtin, slowdown, 1.0)
    compute = cycles / (run.clock * speedup)
    bandwidth = np.where(ops.bytes <= run.shared, coef["onchip_bytes_per_cycle"] * run.clock * speedup,
                         run.dram * coef["dram_efficiency"])
    overhead = (coef["op_cycles"] + run.multi * coef["sync_cycles"]) / run.clock
    return np.maximum(compute, ops.bytes / bandwidth) + overhead


def cpu_fixed_seconds(clock: float | np.ndarray, coef: dict):
    return coef["run_cycles"] / clock


def xcube_release(version: float | None) -> float:
    """An X-CUBE-AI release as the model's arrays hold it (NaN: the coefficients' reference release)."""
    return float("nan") if version is None else float(version)


def mcu_run(ops: OpArrays, facts: DeviceFacts, weights_in_flash: bool, family: str,
            xcube_version: float | None = None) -> McuRun:
    """The MCU context of ``ops`` (one core); ``xcube_version``: the X-CUBE-AI release (default the reference)."""
    core, mcu = facts.clusters[0], facts.mcu
    n = len(ops)
    flash = (mcu.flash_wait_states + 1) / mcu.flash_bytes_per_access if (mcu is not None and weights_in_flash) else 0.0
    return McuRun(clock=np.full(n, core.clock_hz), rate=np.where(ops.int8, core.rate("int8"), core.rate("fp32")),
                  dual=np.full(n, bool(mcu is not None and mcu.dual_issue)), flash_cycles=np.full(n, flash),
                  xcube=np.full(n, family == "x-cube-ai"), xcube_release=np.full(n, xcube_release(xcube_version)))


def xcube_release_key(release: float) -> str:
    """The coefficient name of X-CUBE-AI ``release``'s time multiplier (``xcube_release@9``)."""
    return f"{XCUBE_RELEASE_PREFIX}{release:g}"


def xcube_release_factors(coef: dict) -> dict[float, float]:
    """The fitted per-release time multipliers in ``coef``: release -> multiplier."""
    return {float(name[len(XCUBE_RELEASE_PREFIX):]): value for name, value in coef.items()
            if name.startswith(XCUBE_RELEASE_PREFIX)}


def xcube_factor(xcube, release, coef: dict):
    """Seconds multiplier of X-CUBE-AI ``release`` against TFLite Micro (1 where not X-CUBE-AI).

    The reference release (or NaN, or anything newer) is 1 / c[xcube_speedup]; an older release
    multiplies that by its own fitted factor, or by the nearest older fitted release's when the fit
    never saw it (the oldest fitted one's when it is older than all): a held-out release is never
    costed from a trend the coefficients did not measure.
    """
    reference = coef.get("xcube_reference", XCUBE_REFERENCE)
    fitted = xcube_release_factors(coef)
    release = np.asarray(release, dtype=float)
    multiplier = np.ones(release.shape)
    for value in np.unique(release[~np.isnan(release)]):
        if value >= reference or not fitted:
            continue
        older = [r for r in sorted(fitted) if r <= value]
        multiplier[release == value] = fitted[older[-1] if older else min(fitted)]
    return np.where(xcube, multiplier / coef["xcube_speedup"], 1.0)


def mcu_op_seconds(ops: OpArrays, run: McuRun, coef: dict) -> np.ndarray:
    """Seconds of each op on a microcontroller (module docstring)."""
    eff = _per_class(coef, "")[ops.cls] * np.where(run.dual, coef["dual_issue_gain"], 1.0)
    cycles = np.where(CONV_MASK[ops.cls], ops.padded_macs / (run.rate * eff) + ops.outputs * coef["out_cycles"],
                      ops.ops / (run.rate * eff))
    cycles = cycles + coef["op_cycles"] + ops.weight_reads * coef["flash_stall"] * run.flash_cycles
    return cycles / run.clock * xcube_factor(run.xcube, run.xcube_release, coef)


def mcu_fixed_seconds(clock, xcube, coef: dict, release=float("nan")):
    return coef["run_cycles"] / clock * xcube_factor(xcube, release, coef)


def edgetpu_mapped(ops: OpArrays, supported: list[str]) -> np.ndarray:
    """True for the ops the Edge TPU compiler maps: int8 ops it supports, up to the first one it does not."""
    names = set(supported)
    ok = np.array([bool(i8) and EDGETPU_OP_NAMES.get(t) in names for t, i8 in zip(ops.op_types, ops.int8)],
                  dtype=bool)
    first_bad = int(np.argmin(ok)) if len(ok) and not ok.all() else len(ok)
    return np.arange(len(ok)) < first_bad


def edgetpu_op_seconds(ops: OpArrays, peak: np.ndarray, coef: dict) -> np.ndarray:
    """Seconds of each mapped op on the Edge TPU array.

    A systolic array streams each output's reduction through it: a short reduction (a 3x3
    depthwise conv's 9 MACs, a 1x1 conv on 16 channels) leaves it mostly filling and draining,
    so a conv-like op reaches ``c[e_class] x K / (K + c[reduction_half])`` of the peak.
    """
    conv = CONV_MASK[ops.cls]
    fill = np.where(conv, ops.reduction / (ops.reduction + coef["reduction_half"]), 1.0)
    work = np.where(conv, ops.macs, ops.ops)
    return work / (peak * _per_class(coef, "")[ops.cls] * np.maximum(fill, 1e-3)) + coef["op_seconds"]


def edgetpu_transfer_bytes(ops: OpArrays, mapped: np.ndarray, cache_bytes: float) -> float:
    """Bytes crossing the host link per inference: parameters beyond the cache, and the input."""
    return max(0.0, float(ops.weight_bytes[mapped].sum()) - cache_bytes) + ops.input_bytes


def edgetpu_fixed_seconds(transfer_bytes, link_bytes_per_s, coef: dict):
    return coef["run_seconds"] + transfer_bytes / (link_bytes_per_s * coef["link_efficiency"])
