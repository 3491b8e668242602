"""Export a torch module to one self-contained ONNX file.

Exporter choice: the legacy TorchScript exporter (``dynamo=False``) at opset 17 by default.
Both exporters match torch to ~6e-8 here (DEVELOPERS.md, "The stack"), but the legacy one is the
robust pick for edge artifacts: it honours the requested opset exactly (dynamo emits opset
18+ and version-converts down, which fails on some ops), writes initializers inline (the
dynamo exporter writes a ``.onnx.data`` side file unless told otherwise) and gives stable
``input``/``logits`` names and a symbolic ``batch`` axis from ``dynamic_axes``. It is
deprecated in torch 2.9+, so when it is missing or fails we retry with the dynamo exporter
(``external_data=False``) before giving up.
"""

from __future__ import annotations

import copy
import re
from pathlib import Path

from ..atomic import atomic_path
from ..errors import ConversionError
from ._common import first_line as _first_line
from ._common import quiet, with_batch

INPUT_NAME = "input"
OUTPUT_NAME = "logits"
BATCH_AXIS = "batch"

# "Exporting the operator 'aten::linalg_svd' to ONNX opset version 17 is not supported"
_OP_PATTERNS = (
    re.compile(r"operator '?([\w:.]+)'? to ONNX opset", re.I),
    re.compile(r"Unsupported FX nodes?: \{?'?([\w:.]+)", re.I),
    re.compile(r"(aten::[\w.]+|aten\.[\w.]+)"),
)


def export_onnx(module, input_shape, path, opset: int = 17) -> Path:
    """Export ``module`` to ONNX with a dynamic batch axis and verify it loads in onnxruntime.

    The module is copied and put in eval mode (the caller's module is not changed). The file
    has one input ``input`` ``[batch, *input_shape[1:]]`` and one output ``logits``, all
    weights inline (no ``.onnx.data``), passes ``onnx.checker.check_model`` and carries the
    shapes inferred by ``onnx.shape_inference``.

    Args:
        module: The ``torch.nn.Module`` to export.
        input_shape: Sample shape, NCHW with batch (``(1, C, H, W)``) or without (``(C, H, W)``).
        path: Destination ``.onnx`` file; written atomically.
        opset: ONNX opset version (17 by default, the widest runtime support).

    Returns:
        The final path.

    Raises:
        ConversionError: The exporter, the checker or onnxruntime rejected the model; the
            message names the unsupported op when the exporter reports one.
    """
    import onnx
    import torch

    model = copy.deepcopy(module).eval()
    sample = torch.randn(*with_batch(input_shape), dtype=torch.float32)
    final = Path(path)
    with atomic_path(final) as tmp:
        try:
            _torch_export(model, sample, tmp, opset)
        except ConversionError:
            raise
        except Exception as exc:  # torch raises many types here; the user needs one line
            raise _conversion_error(exc) from exc
        try:
            proto = onnx.load(str(tmp))
            onnx.checker.check_model(proto, full_check=True)
            proto = onnx.shape_inference.infer_shapes(proto, check_type=True, strict_mode=False)
            onnx.save_model(proto, str(tmp), save_as_external_data=False)
            _check_loads(tmp)
        except Exception as exc:
            raise ConversionError(f"onnx: exported model is invalid: {_first_line(exc)}", fmt="onnx",
                                  fix="report this model to edgekd with the message above") from exc
        leftovers = [p for p in tmp.parent.iterdir() if p != tmp]
        if leftovers:  # weights outside the file would not travel with it
            raise ConversionError(f"onnx: exporter wrote external data {leftovers[0].name}", fmt="onnx")
    return final


def _torch_export(model, sample, out: Path, opset: int) -> None:
    import torch

    dynamic_axes = {INPUT_NAME: {0: BATCH_AXIS}, OUTPUT_NAME: {0: BATCH_AXIS}}
    # quiet(): the legacy exporter prints the whole TorchScript IR on failure (C++, fd 1).
    with quiet(), torch.no_grad():
        try:
            torch.onnx.export(model, (sample,), str(out), dynamo=False, opset_version=opset,
                              input_names=[INPUT_NAME], output_names=[OUTPUT_NAME],
                              dynamic_axes=dynamic_axes, do_constant_folding=True)
            return
        except Exception as legacy_exc:
            if _op_name(legacy_exc):  # an unsupported op: dynamo would not do better on the same graph
                raise
            first = legacy_exc
        # Fallback: the dynamo exporter, all weights inline.
        try:
            batch = torch.export.Dim(BATCH_AXIS, min=1, max=4096)
            program = torch.onnx.export(model, (sample,), dynamo=True, opset_version=max(opset, 18),
                                        input_names=[INPUT_NAME], output_names=[OUTPUT_NAME],
                                        dynamic_shapes=({0: batch},), external_data=False)
            assert program is not None  # dynamo=True always returns the program
            program.save(str(out), external_data=False)
        except Exception:
            raise first from None  # the legacy message is the clearer one


def _check_loads(path: Path) -> None:
    from ..runtimes.onnx_runner import ort_session

    ort_session(path, 1)


def _op_name(exc: BaseException) -> str | None:
    text = str(exc)
    for pattern in _OP_PATTERNS:
        match = pattern.search(text)
        if match:
            return match.group(1)
    return None


def _conversion_error(exc: BaseException) -> ConversionError:
    op = _op_name(exc)
    if op:
        return ConversionError(f"onnx: op {op} is not supported by the ONNX exporter", fmt="onnx", op=op,
                               fix=f"replace {op} in the model or raise the opset")
    return ConversionError(f"onnx: export failed: {_first_line(exc)}", fmt="onnx")


__all__ = ["export_onnx", "INPUT_NAME", "OUTPUT_NAME", "BATCH_AXIS"]
