"""Export every network of the device table once, for the latency-prediction phase to cost.

For each distinct ``model`` key in ``measurements.yaml``: ONNX FP32 (``edgekd.export.onnx``),
and for the small networks (<= ``--tflite-max-macs`` MACs) TFLite FP32 and fully-integer INT8
(``edgekd.export.tflite``). INT8 calibration uses random normal inputs: the ranges are wrong for
accuracy but the graph (ops, shapes, int8 kernels) is what a real calibration would give, which is
all latency costing needs. Weights are random too.

Files go to ``benchmarks/work/devices/`` (git-ignored); ``export_log.json`` there records, per
artifact, the wall time, size and any error. Re-running skips artifacts that already exist, so an
interrupted run resumes::

    .venv/bin/python benchmarks/devices/export.py            # everything
    .venv/bin/python benchmarks/devices/export.py --only mobilenet_v2_1.0_224
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from benchmarks.devices.networks import build, measured_networks  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
OUT_DIR = ROOT / "benchmarks" / "work" / "devices"
LOG_NAME = "export_log.json"
CALIBRATION_SAMPLES = 8  # random inputs; enough for PT2E observers to produce a valid int8 graph


def artifact_stem(name: str) -> str:
    """A file-system-safe stem for a network key (``@`` and ``.`` become ``_``/``p``)."""
    return re.sub(r"[^A-Za-z0-9_]", "_", name.replace(".", "p").replace("@", "__"))


def _load_log(path: Path) -> dict:
    import json

    return json.loads(path.read_text()) if path.exists() else {}


def _record(log: dict, log_path: Path, key: str, entry: dict) -> None:
    from edgekd.atomic import write_json

    log[key] = entry
    write_json(log_path, log)


def _export_one(fmt: str, module, shape, path: Path) -> None:
    import numpy as np

    from edgekd.export.onnx import export_onnx
    from edgekd.export.tflite import export_tflite

    if fmt == "onnx":
        export_onnx(module, shape, path)
        return
    channels_last = len(shape) == 3  # the dense auto-encoder takes a flat vector
    calibration = None
    if fmt == "tflite_int8":
        calibration = np.random.default_rng(0).standard_normal((CALIBRATION_SAMPLES, *shape)).astype(np.float32)
    export_tflite(module, shape, path, int8=fmt == "tflite_int8", representative=calibration, int8_io=False,
                  channels_last_io=channels_last)


def run(names: list[str], tflite_max_macs: float, out_dir: Path) -> dict:
    """Export ``names`` into ``out_dir``; return the export log (also written to disk)."""
    from edgekd.students import count_params_macs

    out_dir.mkdir(parents=True, exist_ok=True)
    log_path = out_dir / LOG_NAME
    log = _load_log(log_path)
    sized = []
    counted = {entry["network"]: (entry["macs"], entry["params"]) for entry in log.values()}
    for name in names:
        if name not in counted:  # counting runs a forward pass; reuse the log's figures on resume
            module, shape = build(name)
            params, macs = count_params_macs(module, shape)
            counted[name] = (macs, params)
        sized.append((*counted[name], name))
    # ONNX for every network first (seconds each), then TFLite smallest first, so an interrupted
    # run has all the ONNX files and the most TFLite files it could have made.
    jobs = [(name, "onnx", params, macs) for macs, params, name in sized]
    for macs, params, name in sorted(sized):
        if macs <= tflite_max_macs:
            jobs += [(name, "tflite_fp32", params, macs), (name, "tflite_int8", params, macs)]
    for name, fmt, params, macs in jobs:
        suffix = ".onnx" if fmt == "onnx" else f"_{fmt.split('_')[1]}.tflite"
        path = out_dir / f"{artifact_stem(name)}{suffix}"
        key = f"{name}|{fmt}"
        if key in log and (path.exists() or not log[key].get("ok")):
            continue  # done, or failed before (delete its log entry to retry)
        module, shape = build(name)
        start = time.perf_counter()
        try:
            _export_one(fmt, module, shape, path)
            entry = {"ok": True, "bytes": path.stat().st_size}
        except Exception as exc:  # keep going: one failing network must not stop the others
            entry = {"ok": False, "error": f"{type(exc).__name__}: {str(exc).splitlines()[0][:300]}"}
        entry.update(network=name, format=fmt, file=path.name, params=params, macs=macs,
                     seconds=round(time.perf_counter() - start, 2))
        _record(log, log_path, key, entry)
        print(f"{key:60s} {'ok' if entry['ok'] else 'FAILED'} {entry['seconds']:8.1f} s", flush=True)
    return log


def main(argv: list[str] | None = None) -> int:
    """Command line: ``--only NAME`` (repeatable), ``--tflite-max-macs``, ``--out``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", action="append", help="export only this network key (repeatable)")
    parser.add_argument("--tflite-max-macs", type=float, default=600e6,
                        help="also export TFLite FP32/INT8 for networks with at most this many MACs")
    parser.add_argument("--out", type=Path, default=OUT_DIR)
    args = parser.parse_args(argv)
    names = args.only or measured_networks()
    log = run(names, args.tflite_max_macs, args.out)
    failed = [k for k, v in log.items() if not v.get("ok")]
    print(f"{len(log) - len(failed)} artifacts ok, {len(failed)} failed -> {args.out / LOG_NAME}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
