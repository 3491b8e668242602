"""The audio front end that ships: inside the ONNX graph, else as parameters plus a reference implementation.

edgekd trains audio students on features (log-mel / MFCC) computed by
:class:`edgekd.data.audio_frontend.LogMelFrontend`, and exports the student alone: its
artifacts take features. A device must compute the same features, so the bundle carries the
front end in one of two forms:

* **in the graph (ONNX)**: the front end (plain Conv/MatMul/Log ops) is exported on its own and
  joined in front of the measured ONNX model with ``onnx.compose``; the student's part of the
  graph, INT8 or not, is the measured artifact unchanged, and the bundle's model takes the
  waveform. onnxruntime runs it on phones and SBCs.
* **beside the model (TFLite, TFLite Micro, Core ML)**: the parameters go into ``model.json``
  and the fixed arrays (window, mel filterbank, DCT) into ``frontend.npz``; ``frontend.py`` is a
  numpy reference implementation. The INT8 TFLite models are fully integer: folding a float
  STFT and log into them would need a model other than the one measured.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from .. import atomic

FRONTEND_ARRAYS = "frontend.npz"


def frontend_params(frontend: Any) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """What a device needs to compute ``frontend``'s features: parameters and fixed arrays.

    Args:
        frontend: A :class:`~edgekd.data.audio_frontend.LogMelFrontend`.

    Returns:
        ``(params, arrays)``: ``params`` holds frame/hop/FFT sizes, spectrum, log offset and
        the front end's own description; ``arrays`` the window (``frame_length`` taps), the
        ``(n_fft/2+1, n_mels)`` mel weights and, for MFCC, the ``(n_mels, n_mfcc)`` DCT.
    """
    from ..data.audio_frontend import hann_window
    from ..data.audio_tf import tf_hann_window

    cfg = frontend.cfg
    if frontend.tf_framing:
        window = tf_hann_window(frontend.win_length)
    else:
        window = hann_window(frontend.win_length, frontend.n_fft)
    arrays = {"window": np.asarray(window, dtype=np.float64),
              "mel_weights": frontend.mel_fb.detach().cpu().numpy().astype(np.float32)}
    if frontend.dct is not None:
        arrays["dct"] = frontend.dct.detach().cpu().numpy().astype(np.float32)
    params = {"type": cfg.type, "sample_rate": frontend.sample_rate, "frame_length": frontend.frame_length,
              "hop_length": frontend.hop_length, "n_fft": frontend.n_fft, "spectrum": cfg.spectrum,
              "log_offset": float(cfg.log_offset), "peak_normalize": bool(cfg.peak_normalize),
              "n_features": frontend.n_features, "arrays": FRONTEND_ARRAYS, "description": frontend.describe()}
    return params, arrays


def write_frontend_arrays(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """``frontend.npz`` with the fixed arrays, written atomically."""
    import io

    buffer = io.BytesIO()
    np.savez(buffer, **arrays)  # type: ignore[arg-type]  # numpy's stub types **kwds as allow_pickle
    atomic.write_bytes(path, buffer.getvalue())


def onnx_with_frontend(model_path: Path, frontend: Any, num_samples: int, out_path: Path, opset: int) -> dict:
    """Write ``model_path`` with ``frontend`` joined in front of it: waveform ``(batch, num_samples)`` in.

    The student's nodes and initializers are copied unchanged (``onnx.compose.merge_models``);
    the front end's get a ``frontend/`` prefix. Returns the new input's name and shape.
    """
    import onnx
    from onnx import compose

    from ..data.audio_frontend import onnx_bytes

    model = onnx.load(str(model_path))
    front = onnx.load_from_string(onnx_bytes(frontend, num_samples, opset=_main_opset(model, opset)))
    front = compose.add_prefix(front, "frontend/", rename_inputs=False)
    # merge_models needs one IR version; the newer one reads both graphs.
    front.ir_version = model.ir_version = max(front.ir_version, model.ir_version)
    model_input = model.graph.input[0].name
    merged = compose.merge_models(front, model, io_map=[(front.graph.output[0].name, model_input)],
                                  doc_string="edgekd: audio front end (float) + the measured student model")
    onnx.checker.check_model(merged)
    atomic.write_bytes(out_path, merged.SerializeToString())
    return {"name": merged.graph.input[0].name, "shape": [1, int(num_samples)]}


def _main_opset(model: Any, default: int) -> int:
    """The default-domain opset of ``model`` (the front end is exported at the same one)."""
    for entry in model.opset_import:
        if entry.domain in ("", "ai.onnx"):
            return int(entry.version)
    return default
