"""Per-op arrays a device cost model evaluates: cost rows made into the work a kernel really does.

``OpCost`` rows (any graph reader: ONNX, TFLite) become one numpy array per quantity, so a
model is evaluated for many coefficient vectors at numpy speed (the validation refits it once
per source left out). What is derived here, from the row and its ``LayerShape``:

* ``cls``: the kernel class (``conv``, ``pointwise``, ``depthwise``, ``grouped``, ``gemm``,
  ``elementwise``, ``pool``, ``other``). A conv with ``1 < groups < cin`` is ``grouped`` whether
  or not the reader already says so.
* ``padded_macs``: MACs after the SIMD tiles: output channels (per group) rounded up to the
  kernel's register tile ``nr``, the reduction's input channels (per group) up to ``kr``, and a
  depthwise conv's channels up to its channel tile. A 3-channel first conv in INT8 with a
  4-wide dot-product kernel does 4/3 of its MACs; a grouped conv with 4 channels per group on
  an 8-wide tile does twice its MACs.
* ``outputs``: output elements (each costs a store, and in INT8 a requantization).
* ``weight_bytes`` and ``weight_reads``: bytes of parameters, and how many bytes of them a
  microcontroller kernel reads from flash (CMSIS-NN style kernels reload a conv's weights for
  every pair of output pixels; a fully connected layer reads each weight once).
* ``int8``: the op runs an integer kernel.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

CLASSES = ("conv", "pointwise", "depthwise", "grouped", "gemm", "elementwise", "pool", "other")
CONV_LIKE = ("conv", "pointwise", "depthwise", "grouped", "gemm")
CLASS_INDEX = {name: i for i, name in enumerate(CLASSES)}
# Register tiles of the kernel libraries, by (precision, dot product): output channels (nr),
# reduction channels (kr) and depthwise channels. XNNPACK's Arm fp32 GEMMs are 8 columns wide
# (e.g. 6x8, 4x8 NEON kernels) with no K padding; its QS8 kernels pack K in groups of 4 for
# SDOT (8c4/16c4) and 8 for the widening-multiply kernels (c8); its depthwise kernels step 4
# (fp32) or 16/8 channels (int8). CMSIS-NN works on pairs of output channels.
CPU_TILES = {("fp32", False): (8, 1, 4), ("fp32", True): (8, 1, 4),
             ("int8", False): (8, 8, 8), ("int8", True): (16, 4, 16)}
MCU_TILES = {"fp32": (1, 1, 1), "int8": (2, 1, 1)}
MCU_PIXELS_PER_WEIGHT_PASS = 2  # CMSIS-NN convolutions compute two output pixels per pass over the weights


ARRAY_FIELDS = ("cls", "int8", "macs", "padded_macs", "outputs", "ops", "reduction", "bytes", "weight_bytes",
                "weight_reads")


@dataclass
class OpArrays:
    """One entry per costed (not folded) op, in execution order."""

    names: list[str]
    op_types: list[str]
    cls: np.ndarray          # int index into CLASSES
    int8: np.ndarray         # bool
    macs: np.ndarray
    padded_macs: np.ndarray
    outputs: np.ndarray
    ops: np.ndarray          # element ops of non-MAC ops
    reduction: np.ndarray    # MACs per output element (kh x kw x cin / groups); 0 for non-MAC ops
    bytes: np.ndarray        # bytes read + written
    weight_bytes: np.ndarray
    weight_reads: np.ndarray
    input_bytes: float       # the graph input (an Edge TPU receives it over its link)

    def __len__(self) -> int:
        return len(self.names)

    def select(self, mask: np.ndarray) -> OpArrays:
        """The ops where ``mask`` is true (same fields)."""
        idx = np.flatnonzero(mask)
        return OpArrays(names=[self.names[i] for i in idx], op_types=[self.op_types[i] for i in idx],
                        **{k: getattr(self, k)[idx] for k in ARRAY_FIELDS},
                        input_bytes=self.input_bytes)


def _ceil_to(count: int, tile: int) -> int:
    return -(-max(1, count) // tile) * tile


def kernel_class(row) -> str:
    """The kernel class of a cost row (``grouped`` split from ``conv`` by its shape)."""
    shape = getattr(row, "shape", None)
    if shape is not None and row.op_class in ("conv", "grouped", "depthwise", "pointwise"):
        if shape.depthwise:
            return "depthwise"
        if shape.grouped:
            return "grouped"
    return row.op_class if row.op_class in CLASS_INDEX else "other"


def padded_macs(row, cls: str, tiles: tuple[int, int, int]) -> float:
    """MACs after rounding channels up to the kernel's tiles (see the module docstring)."""
    shape = getattr(row, "shape", None)
    if shape is None or not row.macs:
        return float(row.macs)
    nr, kr, dw_tile = tiles
    pixels = shape.out_hw[0] * shape.out_hw[1]
    taps = shape.kernel[0] * shape.kernel[1]
    if cls == "depthwise":
        return float(pixels * _ceil_to(shape.cout, dw_tile) * taps)
    groups = max(1, shape.groups)
    cout_g, cin_g = max(1, shape.cout // groups), max(1, shape.cin // groups)
    padded = pixels * groups * _ceil_to(cout_g, nr) * taps * _ceil_to(cin_g, kr)
    return float(max(padded, row.macs))


def _weight_reads(row, cls: str) -> float:
    shape = getattr(row, "shape", None)
    if shape is None or not shape.weight_bytes:
        return 0.0
    if cls in ("gemm", "depthwise"):  # each weight read once (depthwise: per channel, streamed with the input)
        return float(shape.weight_bytes)
    passes = -(-shape.out_hw[0] * shape.out_hw[1] // MCU_PIXELS_PER_WEIGHT_PASS)
    return float(shape.weight_bytes * passes)


def build_op_arrays(rows, precision: str, tiles_for) -> OpArrays:
    """Arrays of the costed rows of one graph.

    Args:
        rows: ``OpCost`` rows (folded rows are skipped).
        precision: The artifact's precision; a float graph standing in for an INT8 artifact is
            costed as integer throughout, a graph with int8 rows op by op.
        tiles_for: ``precision -> (nr, kr, depthwise tile)`` of the device's kernels.
    """
    live = [r for r in rows if not r.folded]
    graph_int8 = any(r.precision == "int8" for r in live)
    names, types, cls, int8, macs, pmacs, outs, ops, red, nbytes, wbytes, wreads = ([] for _ in range(12))
    for row in live:
        kind = kernel_class(row)
        is_int8 = row.precision == "int8" if graph_int8 else precision == "int8"
        shape = getattr(row, "shape", None)
        names.append(row.name)
        types.append(row.op_type)
        cls.append(CLASS_INDEX[kind])
        int8.append(is_int8)
        macs.append(float(row.macs))
        pmacs.append(padded_macs(row, kind, tiles_for("int8" if is_int8 else "fp32")))
        outs.append(float(shape.outputs) if shape is not None else 0.0)
        ops.append(float(row.ops))
        red.append(float(shape.reduction) if shape is not None and row.macs else 0.0)
        scale = 0.25 if is_int8 and not graph_int8 else 1.0  # a float stand-in for an int8 artifact
        nbytes.append(float(row.bytes_read + row.bytes_written) * scale)
        wbytes.append(float(shape.weight_bytes if shape is not None else 0) * scale)
        wreads.append(_weight_reads(row, kind) * scale)
    first = next((r for r in live), None)
    input_bytes = float(first.bytes_read - (first.shape.weight_bytes if first is not None and first.shape else 0)) \
        if first is not None else 0.0
    return OpArrays(names=names, op_types=types, cls=np.array(cls, dtype=np.int64), int8=np.array(int8, dtype=bool),
                    macs=np.array(macs), padded_macs=np.array(pmacs), outputs=np.array(outs), ops=np.array(ops),
                    reduction=np.array(red),
                    bytes=np.array(nbytes), weight_bytes=np.array(wbytes), weight_reads=np.array(wreads),
                    input_bytes=max(0.0, input_bytes))
