#!/usr/bin/env python3
"""Run this bundle's model on one input file and print the top classes (written by edgekd).

    python run.py INPUT [INPUT ...] [--top-k 5] [--json]

Each INPUT is an image (.png/.jpg), a WAV file, or a .npy array holding one model input that is
already preprocessed (C, H, W), for data that does not come from files. Everything the model
needs is read from model.json beside this script: the preprocessing of the training data
(resize, scale, mean/std, layout; for audio the clip length and the feature front end), the
input/output tensors and their INT8 scale and zero point.

Needs numpy and the model's runtime: onnxruntime for model.onnx, ai-edge-litert (or
tflite-runtime, or TensorFlow) for model.tflite; Pillow for images; scipy only for float WAV
files or resampling. edgekd itself is not needed.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import wave
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("inputs", nargs="+", metavar="INPUT", help="image, WAV or .npy file")
    parser.add_argument("--top-k", type=int, default=5)
    parser.add_argument("--json", action="store_true", help="print one JSON line per input instead of text")
    args = parser.parse_args(argv)
    spec = json.loads((HERE / "model.json").read_text(encoding="utf-8"))
    try:
        model = load_model(spec)
        for name in args.inputs:
            show(name, model(model_input(Path(name), spec)), spec["labels"], args.top_k, args.json)
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


def show(name: str, logits: np.ndarray, labels: list, top_k: int, as_json: bool) -> None:
    """Print the top classes of one input."""
    probs = softmax(logits)
    order = np.argsort(-logits, kind="stable")[: max(1, top_k)]
    top = [{"index": int(i), "label": labels[i], "score": float(probs[i]), "logit": float(logits[i])} for i in order]
    if as_json:
        print(json.dumps({"input": name, "top": top}))
        return
    print(name)
    for row in top:
        print(f"  {row['score']:.4f}  {row['label']}  (class {row['index']})")


class InputError(Exception):
    """An input this bundle cannot take (the message says why)."""


def model_input(path: Path, spec: dict) -> np.ndarray:
    """One float32 model input, batch 1, in the layout the preprocessing produces (NCHW, or the waveform)."""
    pre = spec["preprocessing"]
    kind = pre["kind"]
    if path.suffix.lower() == ".npy":
        x = np.load(path).astype(np.float32)
        return x if x.ndim == 4 else x[None]
    if kind == "image":
        return image_input(path, pre)
    if kind == "audio":
        clip = fixed_clip(read_wav(path, pre), pre)
        if pre["frontend_in_graph"]:
            return clip[None, :]
        sys.path.insert(0, str(HERE))
        from frontend import Frontend  # the reference front end shipped beside this script

        return Frontend.from_bundle(HERE).features(clip)[None]
    raise InputError(f"this model's inputs are not read from files ({pre.get('source', kind)}): pass a .npy array "
                     f"of one preprocessed input shaped {pre.get('input_shape')}")


def image_input(path: Path, pre: dict) -> np.ndarray:
    """Decode, resize, scale to [0, 1], normalise, NCHW: what the training data went through."""
    from PIL import Image

    height, width = pre["size"]
    with Image.open(path) as decoded:
        image = decoded.convert(pre["color"])
        if image.size != (width, height):
            if not pre["resize"]:
                print(f"note: {path} is {image.size[1]}x{image.size[0]}, the model takes {height}x{width}: resizing "
                      "(bilinear); the training images were not resized", file=sys.stderr)
            image = image.resize((width, height), Image.Resampling.BILINEAR)
        pixels = np.asarray(image, dtype=np.uint8).reshape(height, width, -1)
    x = pixels.transpose(2, 0, 1).astype(np.float32) / np.float32(255.0)
    mean = np.asarray(pre["mean"], dtype=np.float32)[:, None, None]
    std = np.asarray(pre["std"], dtype=np.float32)[:, None, None]
    return ((x - mean) / std)[None].astype(np.float32)


def read_wav(path: Path, pre: dict) -> np.ndarray:
    """Float32 mono samples in [-1, 1] at the model's rate (PCM here; float WAVs and resampling with scipy)."""
    try:
        with wave.open(str(path), "rb") as handle:
            rate, channels, width = handle.getframerate(), handle.getnchannels(), handle.getsampwidth()
            raw = handle.readframes(handle.getnframes())
        samples = pcm_to_float(raw, width).reshape(-1, channels)
    except wave.Error:  # not PCM (e.g. IEEE float): scipy reads those
        from scipy.io import wavfile

        rate, data = wavfile.read(path)
        samples = data.astype(np.float32).reshape(len(data), -1)
    if samples.shape[1] > 1:
        if not pre["mix_to_mono"]:
            raise InputError(f"{path} has {samples.shape[1]} channels; the model was trained on mono files")
        samples = samples.mean(axis=1, keepdims=True)
    samples = samples[:, 0].astype(np.float32)
    if rate != pre["sample_rate"]:
        from scipy.signal import resample_poly

        g = math.gcd(int(rate), int(pre["sample_rate"]))
        samples = resample_poly(samples, pre["sample_rate"] // g, rate // g).astype(np.float32)
    return samples


def pcm_to_float(raw: bytes, width: int) -> np.ndarray:
    """Integer PCM bytes to float32: divide by the magnitude of the most negative value (8-bit: offset 128)."""
    if width == 1:
        return (np.frombuffer(raw, np.uint8).astype(np.float32) - 128.0) / 128.0
    if width == 2:
        return np.frombuffer(raw, "<i2").astype(np.float32) / 32768.0
    if width == 3:
        b = np.frombuffer(raw, np.uint8).reshape(-1, 3).astype(np.int32)
        value = (b[:, 0] << 8) | (b[:, 1] << 16) | (b[:, 2] << 24)  # into the top of an int32, like scipy
        return value.astype(np.float32) / np.float32(2.0 ** 31)
    if width == 4:
        return np.frombuffer(raw, "<i4").astype(np.float32) / np.float32(2.0 ** 31)
    raise InputError(f"{width * 8}-bit PCM is not supported")


def fixed_clip(samples: np.ndarray, pre: dict) -> np.ndarray:
    """Crop or zero-pad to the clip length, as the training clips were (centre or start aligned)."""
    length, n = int(pre["clip_samples"]), len(samples)
    if pre["clip_align"] == "start":
        return samples[:length] if n >= length else np.pad(samples, (0, length - n))
    if n >= length:
        start = (n - length) // 2
        return samples[start:start + length]
    left = (length - n) // 2
    return np.pad(samples, (left, length - n - left))


def load_model(spec: dict):
    """``model(x) -> float logits`` for one input, in the runtime the bundle targets (loaded once)."""
    model = spec["model"]
    tensor = spec["inputs"][0]

    def to_model_layout(x: np.ndarray) -> np.ndarray:
        if tensor.get("layout") == "NHWC" and x.ndim == 4:
            x = x.transpose(0, 2, 3, 1)
        return np.ascontiguousarray(x.reshape(tensor["shape"]), dtype=np.float32)

    if model["format"] == "onnx":
        import onnxruntime as ort

        session = ort.InferenceSession(str(HERE / model["file"]), providers=["CPUExecutionProvider"])
        return lambda x: np.asarray(session.run(None, {tensor["name"]: to_model_layout(x)})[0],
                                    dtype=np.float32).reshape(-1)
    if model["format"] == "tflite":
        run = tflite_runner(HERE / model["file"])
        return lambda x: run(to_model_layout(x))
    raise InputError(f"{model['format']} models do not run here (Core ML needs an Apple device)")


def tflite_runner(path: Path):
    """``run(x) -> float logits`` with whichever LiteRT interpreter is installed; (de)quantizes integer I/O."""
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        try:
            from tflite_runtime.interpreter import Interpreter
        except ImportError:
            from tensorflow.lite import Interpreter
    interpreter = Interpreter(model_path=str(path))
    interpreter.allocate_tensors()
    source, sink = interpreter.get_input_details()[0], interpreter.get_output_details()[0]

    def run(x: np.ndarray) -> np.ndarray:
        interpreter.set_tensor(source["index"], quantize(x, source))
        interpreter.invoke()
        out = interpreter.get_tensor(sink["index"])
        scale, zero_point = sink.get("quantization", (0.0, 0))
        if np.dtype(sink["dtype"]).kind in "iu" and scale:
            out = (out.astype(np.int32) - int(zero_point)) * np.float32(scale)
        return np.asarray(out, dtype=np.float32).reshape(-1)

    return run


def quantize(x: np.ndarray, detail: dict) -> np.ndarray:
    """``round(x / scale) + zero_point`` (half to even), clipped, for an integer input; float inputs pass."""
    dtype = np.dtype(detail["dtype"])
    if dtype.kind not in "iu":
        return x.astype(dtype)
    scale, zero_point = detail["quantization"]
    info = np.iinfo(dtype)
    q = np.round(x / np.float32(scale)) + zero_point
    return np.clip(q, info.min, info.max).astype(dtype)


def softmax(logits: np.ndarray) -> np.ndarray:
    z = np.exp(logits - logits.max())
    return z / z.sum()


if __name__ == "__main__":
    sys.exit(main())
