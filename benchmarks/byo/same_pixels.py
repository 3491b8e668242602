"""The mobilenet_v1_025_96 teacher run directly in LiteRT on the exact pixels edgekd feeds it, and on a float resize.

`make bench-byo` found the 96x96 teacher at 40.91% through edgekd vs 40.46% in phase A's direct run.
This script separates the two possible causes: edgekd's scoring (runtime, wrappers) or the input.
It decodes the CIFAR-10 test JPEGs exactly as edgekd's teacher input does (`decode_images` at 96x96:
PIL bilinear, uint8) and runs model_fp32.tflite on them per sample; then on what
`teacher.input.resample: tf` decodes (TF2's `tf.image.resize` bilinear of the 32x32 images, half-pixel
centres, no antialias, rounded to uint8: how phase A made the teacher's 96x96 frames).

Usage: ``python benchmarks/byo/same_pixels.py [--teachers DIR]`` (prints two top-1 figures).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from ai_edge_litert.interpreter import Interpreter
from common import CIFAR, WORK

from edgekd.data.images import decode_images


def _run(path: Path, nhwc: np.ndarray) -> np.ndarray:
    interp = Interpreter(model_path=str(path))
    interp.allocate_tensors()
    inp, out = interp.get_input_details()[0], interp.get_output_details()[0]
    rows = []
    for sample in nhwc:
        interp.set_tensor(inp["index"], sample[None].astype(np.float32))
        interp.invoke()
        rows.append(interp.get_tensor(out["index"])[0])
    return np.stack(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--teachers", type=Path, default=WORK)
    args = parser.parse_args()
    root = CIFAR / "test"
    classes = sorted(p.name for p in root.iterdir() if p.is_dir())
    files = [f for c in classes for f in sorted((root / c).glob("*.jpg"))]
    y = np.array([k for k, c in enumerate(classes) for _ in sorted((root / c).glob("*.jpg"))])
    model = args.teachers / "mobilenet_v1_025_96" / "model_fp32.tflite"
    pil96 = decode_images(files, (96, 96), "RGB", fixed=True)
    print(f"LiteRT on edgekd's teacher pixels (PIL bilinear to 96x96, uint8): "
          f"{(_run(model, pil96.transpose(0, 2, 3, 1)).argmax(1) == y).mean():.4f}")
    tf96 = decode_images(files, (96, 96), "RGB", fixed=True, resample="tf")
    print(f"LiteRT on teacher.input.resample: tf pixels (tf.image.resize bilinear, rounded to uint8): "
          f"{(_run(model, tf96.transpose(0, 2, 3, 1)).argmax(1) == y).mean():.4f}")


if __name__ == "__main__":
    main()
