"""Fit per-runtime latency models on this machine (``edgekd targets fit --runtime``).

For each random network of ``synthetic.py``: export it exactly as a build does (ONNX with
``export_onnx``, INT8 QDQ with ``quantize_onnx_static``, TFLite FP32/INT8 with
``export_tflite``), time every variant in its own runtime with the requested threads, and
keep the ONNX graph's features. Then fit one model per (runtime, precision) with
``runtime_model.fit_model``. Exporting (:func:`export_networks`, needs torch and the converters)
and timing (:func:`time_networks`, needs only the runtimes) can run on different machines.

Timing: each variant is timed alone in blocks (a few untimed calls, then at least
``block_s`` seconds), never interleaved call by call with another runtime: two runtimes'
spinning thread pools on one small CPU slow each other down, which is not what a device
running one model sees. All networks are exported first, then every variant of every network
gets one block per round, so each network's rounds are spread over the whole measurement; its
figure is the lowest block median (see :func:`time_in_blocks`).
"""

from __future__ import annotations

import json
import os
import platform
import tempfile
import time
from pathlib import Path
from typing import Callable

import numpy as np

RUNTIME_FORMATS = {"onnxruntime": "onnx", "litert": "tflite"}


def _versions() -> dict:
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for package in ("onnxruntime", "ai-edge-litert", "litert-torch", "torch"):
        try:
            out[package] = version(package)
        except PackageNotFoundError:
            continue
    return out


def _export_variants(model, shape, folder: Path, runtimes, precisions) -> dict[tuple[str, str], Path]:
    """(runtime, precision) -> model file, plus ("graph", precision) -> ONNX graph for features."""
    from ..export.onnx import export_onnx
    from ..export.tflite import export_tflite
    from ..quantize.ort_static import quantize_onnx_static

    calib = np.random.default_rng(0).standard_normal((8, *shape)).astype(np.float32)
    files: dict[tuple[str, str], Path] = {("graph", "fp32"): export_onnx(model, shape, folder / "fp32.onnx")}
    if "int8" in precisions:
        files[("graph", "int8")] = quantize_onnx_static(folder / "fp32.onnx", folder / "int8.onnx", calib)
    for precision in precisions:
        if "onnxruntime" in runtimes:
            files[("onnxruntime", precision)] = files[("graph", precision)]
        if "litert" in runtimes:
            files[("litert", precision)] = export_tflite(
                model, shape, folder / f"{precision}.tflite", int8=precision == "int8",
                representative=calib if precision == "int8" else None)
    return files


def _block(run_once: Callable[[], None], block_s: float, min_runs: int = 15) -> list[float]:
    """Seconds of each call in one block: 3 untimed calls, then ``min_runs`` calls and ``block_s`` seconds."""
    from ..measure.latency import time_calls

    return [ns / 1e9 for ns in time_calls(run_once, warmup=3, min_runs=min_runs, min_seconds=block_s)]


def time_in_blocks(calls: dict, block_s: float, rounds: int, settle_s: float = 0.05) -> dict:
    """Latency statistics of each callable (milliseconds), timed alone in blocks, round after round.

    Every round times each variant for one block, the order reversed every other round. A
    shared virtual machine changes speed for seconds at a time (other tenants, vCPU placement:
    the same network measured 0.095 ms and 0.21 ms a few seconds apart here), so besides the
    pooled statistics (``latency.summarize``) each variant gets ``quiet_p50``: the lowest of its
    per-block medians, the machine's own speed with the slow periods left out. Spread the rounds
    over time (many variants per round) for it to see a quiet period.

    Before each block the process sleeps ``settle_s``: onnxruntime's idle workers spin for a
    while after a run, and a LiteRT model timed right after an onnxruntime one measured 1.5x
    slower here until they stopped.
    """
    from ..measure.latency import summarize

    samples: dict = {key: [] for key in calls}
    medians: dict = {key: [] for key in calls}
    for r in range(rounds):
        for key in (list(calls) if r % 2 == 0 else list(calls)[::-1]):
            time.sleep(settle_s)
            block = _block(calls[key], block_s)
            samples[key] += block
            medians[key].append(float(np.median(block)) * 1e3)
    return {key: {**summarize(np.asarray(values) * 1e3, seconds=float(np.sum(values)), mode="blocks"),
                  "quiet_p50": min(medians[key]), "block_p50s": medians[key]}
            for key, values in samples.items()}


def _open_calls(files: dict, shape, threads: int) -> dict:
    from ..runtimes import open_runner

    sample = np.random.default_rng(1).standard_normal((1, *shape)).astype(np.float32)
    calls = {}
    for key, path in files.items():
        if key[0] in RUNTIME_FORMATS:
            runner = open_runner(path, RUNTIME_FORMATS[key[0]], threads)
            prepared = runner.prepare(sample)
            calls[key] = (lambda r=runner, p=prepared: r.run_once(p))
    return calls


MANIFEST = "manifest.json"


def export_networks(folder: str | os.PathLike, count: int, runtimes, precisions, *, first_seed: int = 1000,
                    progress: Callable[[str], None] | None = None) -> Path:
    """Export ``count`` random networks into ``folder`` with a ``manifest.json``, ready to be timed.

    This half needs torch and the converters; :func:`time_networks` needs only the runtimes, so a
    board that cannot install torch or litert-torch can time networks exported on a workstation.
    The manifest (seeds, layers, input shapes, graph features, file names) is written last and
    atomically: a folder without one is an interrupted export.

    Raises:
        OutputDirError: ``folder`` exists and is not empty.
    """
    from ..atomic import write_json
    from ..errors import OutputDirError
    from ..predict.runtime_model import features_by_tiles
    from .synthetic import random_network

    root = Path(folder)
    if root.exists() and any(root.iterdir()):
        raise OutputDirError(f"{root} is not empty", fix="export the fitting networks into a new folder")
    networks = []
    for i in range(count):
        seed = first_seed + i
        model, spec = random_network(seed)
        sub = root / str(seed)
        sub.mkdir(parents=True)
        files = _export_variants(model, spec.input_shape, sub, runtimes, precisions)
        networks.append({"seed": seed, "input_shape": list(spec.input_shape), "layers": spec.layers,
                         "features": {p: features_by_tiles(files[("graph", p)]) for p in precisions},
                         "files": {f"{rt}/{p}": str(path.relative_to(root)) for (rt, p), path in files.items()
                                   if rt in RUNTIME_FORMATS}})
        if progress:
            progress(f"exported network {i + 1}/{count} (seed {seed}, {len(spec.layers)} blocks)")
    write_json(root / MANIFEST, {"runtimes": list(runtimes), "precisions": list(precisions), "networks": networks})
    return root


def time_networks(folder: str | os.PathLike, threads: int, runtimes=None, *, block_s: float = 0.05,
                  rounds: int = 10, progress: Callable[[str], None] | None = None) -> list[dict]:
    """Time every variant of the networks in an :func:`export_networks` folder, round after round.

    Args:
        folder: The exported folder.
        threads: Runtime threads.
        runtimes: Only these runtimes (default: every runtime the folder has).

    Returns:
        The manifest's network records, each with ``seconds`` ("runtime/precision" -> the
        variant's ``quiet_p50`` in seconds, see :func:`time_in_blocks`).

    Raises:
        ModelFileError: No manifest (not an export folder, or an interrupted export).
        ConfigError: A requested runtime the folder has no files for.
    """
    from ..errors import ConfigError, ModelFileError

    root = Path(folder)
    if not (root / MANIFEST).is_file():
        raise ModelFileError(f"{root} has no {MANIFEST}: not a complete export of fitting networks",
                             fix="export them with `edgekd targets export-networks DIR`")
    manifest = json.loads((root / MANIFEST).read_text())
    wanted = list(runtimes or manifest["runtimes"])
    missing = sorted(set(wanted) - set(manifest["runtimes"]))
    if missing:
        raise ConfigError(f"{root} has no {', '.join(missing)} files (it has {', '.join(manifest['runtimes'])})",
                          fix="export the networks again with that --runtime")
    records, calls = manifest["networks"], {}
    for i, net in enumerate(records):
        files = {tuple(key.split("/")): root / rel for key, rel in net.pop("files").items()
                 if key.split("/")[0] in wanted}
        calls.update({(i, *key): call for key, call in _open_calls(files, net["input_shape"], threads).items()})
    for (i, runtime, precision), stats in time_in_blocks(calls, block_s, rounds).items():
        records[i].setdefault("seconds", {})[f"{runtime}/{precision}"] = stats["quiet_p50"] / 1e3
    if progress:
        for r in records:
            progress(f"seed {r['seed']}: " + ", ".join(f"{k} {v * 1e3:.3f} ms" for k, v in r["seconds"].items()))
    return records


def measure_networks(count: int, runtimes, precisions, threads: int, *, block_s: float = 0.05, rounds: int = 10,
                     first_seed: int = 1000, progress: Callable[[str], None] | None = None) -> list[dict]:
    """Export ``count`` random networks into a temporary folder and time them (both halves at once).

    Returns:
        Dicts with ``seed``, ``layers``, ``input_shape``, ``features`` (precision -> tile pair ->
        feature vector) and ``seconds`` ("runtime/precision" -> the variant's ``quiet_p50`` in seconds).
    """
    with tempfile.TemporaryDirectory(prefix="edgekd-calib-") as tmp:
        folder = export_networks(Path(tmp) / "networks", count, runtimes, precisions, first_seed=first_seed,
                                 progress=progress)
        return time_networks(folder, threads, block_s=block_s, rounds=rounds, progress=progress)


def fit_runtime_models(records: list[dict], threads: int) -> dict[str, dict[str, dict]]:
    """``latency_models`` for a profile: runtime -> precision -> fitted model."""
    from ..predict.runtime_model import fit_model

    about = {"threads": threads, "versions": _versions(), "machine": platform.machine(),
             "networks": "edgekd.fitting.synthetic.random_network seeds "
                         f"{records[0]['seed']}-{records[-1]['seed']}"}
    models: dict[str, dict[str, dict]] = {}
    for key in records[0]["seconds"]:
        runtime, precision = key.split("/")
        tiles = records[0]["features"][precision]
        features = {_tile_pair(t): np.array([r["features"][precision][t] for r in records]) for t in tiles}
        seconds = np.array([r["seconds"][key] for r in records])
        models.setdefault(runtime, {})[precision] = fit_model(features, seconds, about)
    return models


def _tile_pair(key: str) -> tuple[int, int]:
    """``"8/4"`` -> (8, 4): the (output-channel, alignment) tiles a feature column was computed with."""
    first, second = key.split("/")
    return int(first), int(second)
