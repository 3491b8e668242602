"""Micro-architecture facts of a device profile (the optional ``device:`` section of ``targets/*.yaml``).

A profile with this section is costed by the device cost model (``edgekd.predict.device_model``),
which needs more than a peak MAC rate: which cores a thread count lands on (big.LITTLE
clusters, fastest first), each core's vector MAC rate per precision (and whether it has the
Armv8.2 SDOT/UDOT dot product, which is what makes INT8 fast on a Cortex-A), the shared
on-chip cache (an op whose tensors fit there does not pay DRAM bandwidth), and for
microcontrollers and Edge TPUs the facts of their own memory systems (flash wait states; the
Edge TPU's on-chip parameter cache, its host link and the ops it runs).

Every field is a hardware fact and every shipped profile gives its source in a comment. The
kernels' efficiency on that hardware is not here: it lives with each runtime family's
coefficients (``edgekd/predict/device_coefficients.yaml``), fitted once on published
measurements and validated on sources left out (``benchmarks/devices/validate.py``).

Example (Raspberry Pi 4)::

    device:
      clusters:
        - {name: Cortex-A72, cores: 4, clock_hz: 1.5 GHz, fp32_macs_per_cycle: 8, int8_macs_per_cycle: 8,
           dot_product: false}
      shared_cache_bytes: 1 MiB
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from .efficiency import Section
from .units import Bytes, BytesPerSecond, Hertz

MacRate = float


class CoreCluster(Section):
    """Identical CPU cores at one clock. Rates are per core, per cycle, at batch 1 peak."""

    name: str = Field(description="core type, e.g. Cortex-A76")
    cores: int = Field(gt=0, le=256)
    clock_hz: Hertz
    fp32_macs_per_cycle: MacRate = Field(gt=0, le=256, description="fp32 FMA lanes x pipes")
    int8_macs_per_cycle: MacRate = Field(gt=0, le=1024, description="int8 MACs/cycle of the best int8 instruction")
    fp16_macs_per_cycle: MacRate | None = Field(None, gt=0, le=512, description="None: no fp16 arithmetic")
    dot_product: bool = Field(False, description="Armv8.2 SDOT/UDOT (4 int8 products per 32-bit lane)")
    simd: bool = Field(True, description="has a vector unit (NEON, Helium); false: scalar code only (e.g. ARMv6)")

    def rate(self, precision: str) -> float:
        """MACs per cycle of one core at ``precision`` (fp16 without native support runs as fp32)."""
        if precision == "int8":
            return self.int8_macs_per_cycle
        if precision == "fp16" and self.fp16_macs_per_cycle:
            return self.fp16_macs_per_cycle
        return self.fp32_macs_per_cycle


class McuFacts(Section):
    """Cortex-M (and other MCU) facts the CMSIS-NN / X-CUBE-AI kernels depend on."""

    dsp: bool = Field(description="Armv7E-M DSP extension: SMLAD, two 16-bit MACs per instruction")
    mve: bool = Field(False, description="Armv8.1-M Helium (MVE) vector extension")
    dual_issue: bool = Field(False, description="the core issues two instructions per cycle (Cortex-M7, M85)")
    flash_wait_states: int = Field(ge=0, le=32, description="flash latency at the clock used, in cycles")
    flash_bytes_per_access: int = Field(ge=1, le=128, description="bytes one flash read returns (line width)")


class EdgeTpuFacts(Section):
    """An Edge TPU: its MAC array, on-chip parameter cache, host link and supported ops."""

    macs_per_s: float = Field(gt=0, description="peak int8 MACs per second")
    parameter_cache_bytes: Bytes = Field(description="on-chip SRAM that holds parameters between inferences")
    link: Literal["usb3", "usb2", "pcie", "on-chip"]
    link_bytes_per_s: BytesPerSecond = Field(
        description="raw host link rate (parameters beyond the cache stream over it)")
    supported_ops: list[str] = Field(min_length=1, description="TFLite op names as Coral lists them (Conv2d, ...)")


class DeviceFacts(Section):
    """The ``device:`` section: CPU clusters, shared cache and, when present, MCU / Edge TPU facts."""

    clusters: list[CoreCluster] = Field(min_length=1, description="fastest cluster first")
    shared_cache_bytes: Bytes | None = Field(None, description="largest on-chip cache shared by the cores (L2/L3)")
    mcu: McuFacts | None = None
    edgetpu: EdgeTpuFacts | None = None

    @model_validator(mode="after")
    def _fastest_first(self) -> DeviceFacts:
        speeds = [c.clock_hz * c.fp32_macs_per_cycle for c in self.clusters]
        if speeds != sorted(speeds, reverse=True):
            names = ", ".join(c.name for c in self.clusters)
            raise ValueError(f"list clusters fastest first (clock x fp32 MACs/cycle); got {names}")
        return self

    @property
    def total_cores(self) -> int:
        return sum(c.cores for c in self.clusters)

    def cores_for(self, threads: int) -> list[CoreCluster]:
        """The core of each of ``threads`` threads, fastest cores first (how Android and Linux
        benchmarks pin them; more threads than cores share the slowest ones)."""
        order = [cluster for cluster in self.clusters for _ in range(cluster.cores)]
        threads = max(1, threads)
        return order[:threads] if threads <= len(order) else order + [order[-1]] * (threads - len(order))


def check_device_section(kind: str, runtime: str, facts: DeviceFacts | None) -> None:
    """Cross-field rules between ``device:`` and the rest of the profile (raises ValueError)."""
    if facts is None:
        return
    if kind == "mcu" and facts.mcu is None:
        raise ValueError("device.mcu is required on an mcu profile (dsp, flash_wait_states, flash_bytes_per_access)")
    if runtime == "edgetpu" and facts.edgetpu is None:
        raise ValueError("device.edgetpu is required when runtime.name is edgetpu")
