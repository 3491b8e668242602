"""Fitting a device profile to a real machine (``edgekd targets fit``).

Micro-benchmarks measure the efficiencies the roofline uses; with ``runtimes``, random
MobileNet-style networks are exported, timed in each runtime and a per-runtime latency model
is fitted to them (:mod:`edgekd.predict.runtime_model`). For a board without torch or the
converters, the networks are exported on a workstation and only timed on the board.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable

from ..errors import ConfigError, OutputDirError
from ..targets import load_target


def _nearest_existing_parent(path: Path) -> Path | None:
    for parent in path.absolute().parents:
        if parent.exists():
            return parent
    return None


def fit_target(out: str | os.PathLike, base: str = "host", quick: bool = False,
                     threads: int | None = None, runtimes: tuple[str, ...] = (), networks: int | None = None,
                     networks_from: str | os.PathLike | None = None,
                     progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Fit a profile to this machine (micro-benchmarks, timed networks) and write it as YAML.

    Args:
        out: Where to write the profile (e.g. ``my-board.yaml``).
        base: Profile whose spec figures (peaks, capacities, budgets) are kept.
        quick: Fewer sizes and shorter timings (seconds instead of about a minute).
        threads: Runtime threads to measure with (default: the base profile's, at most this machine's).
        runtimes: Also fit per-runtime latency models (``onnxruntime``, ``litert``) on random
            fitting networks timed in those runtimes (``edgekd.fitting.runtime_timing``),
            for the base profile's FP32 and INT8 precisions.
        networks: How many fitting networks (default 32; 14 with ``quick``).
        networks_from: Time the networks of an :func:`export_fitting_networks` folder
            instead of exporting them here (no torch or converter needed on the board);
            ``runtimes`` defaults to the folder's.
        progress: Called with one line per network timed.

    Returns:
        ``{"path", "profile"}``: the written file and the fitted :class:`TargetProfile`.
    """
    from .microbench import fit_host, write_profile

    out_path = Path(out)
    if out_path.is_dir() or out_path.suffix not in (".yaml", ".yml"):
        raise OutputDirError(f"--out {out_path} must be a .yaml file path", fix="e.g. --out my-board.yaml")
    parent = _nearest_existing_parent(out_path) if not out_path.parent.exists() else out_path.parent
    if parent is None or not os.access(parent, os.W_OK):
        raise OutputDirError(f"cannot write {out_path}", fix="pass --out a path in a writable folder")
    profile = load_target(base)
    load_before = _load_average()  # before any timing of ours
    wanted = threads or profile.runtime.threads
    used = max(1, min(wanted, os.cpu_count() or 1))
    records = None
    if networks_from is not None:
        from .runtime_timing import time_networks

        records = time_networks(networks_from, used, runtimes or None, progress=progress)
    elif runtimes:
        records = _measure(profile, runtimes, used, networks, quick, progress)
    fitted = fit_host(profile, used, quick=quick)
    if records is not None:
        fitted = _with_runtime_models(fitted, records, used)
    fitted = _named_after(fitted, out_path)
    busy = busy_machine(load_before, _load_average(), used)
    if busy and progress is not None:
        progress(f"warning: {busy}")
    out_path.parent.mkdir(parents=True, exist_ok=True)
    return {"path": write_profile(fitted, out_path, warnings=[busy] if busy else []), "profile": fitted,
            "warnings": [busy] if busy else []}


def _load_average() -> float | None:
    try:
        return os.getloadavg()[0]
    except (OSError, AttributeError):  # not on every platform
        return None


def busy_machine(before: float | None, after: float | None, threads: int) -> str | None:
    """Why the figures were measured on a busy machine (other processes competing for the cores), else None.

    The 1-minute load average counts runnable processes: before the fit it should be near 0, and
    at its end near the fit's own threads. More than half a core above that is other work, and
    the efficiencies come out low by about the share of the cores it took.
    """
    if before is None or after is None:
        return None
    extra = max(before, after - threads)
    if extra <= 0.5:
        return None
    return (f"the machine was busy while fitting (1-minute load {before:.1f} before, {after:.1f} after, with "
            f"{threads} fitting thread{'s' if threads != 1 else ''}): the figures are pessimistic; fit again when "
            "nothing else runs")


def _named_after(profile, out_path: Path):
    """The fitted profile named after its file (``my-board.yaml`` -> ``my-board``), without the base's aliases."""
    import re

    from ..targets import profile_from_dict

    name = re.sub(r"[^A-Za-z0-9._-]+", "-", out_path.stem).strip("-._") or "fitted"
    data = profile.model_dump(mode="json")
    data.update(name=name, aliases=[], description=f"{data['description']} [fitted from {profile.name}]")
    return profile_from_dict(data, source=f"fitted {name}")


def _measure(profile, runtimes, threads: int, networks: int | None, quick: bool, progress) -> list[dict]:
    from ..predict.runtime_model import MIN_NETWORKS
    from .runtime_timing import measure_networks

    count = networks or (MIN_NETWORKS if quick else 32)
    if count < MIN_NETWORKS:
        raise ConfigError(f"--networks {count} is too few to fit a runtime model", fix=f"use at least {MIN_NETWORKS}")
    return measure_networks(count, tuple(runtimes), _model_precisions(profile), threads, progress=progress)


def _model_precisions(profile) -> tuple[str, ...]:
    return tuple(p for p in ("fp32", "int8") if p in profile.precisions) or ("fp32",)


def _with_runtime_models(profile, records: list[dict], threads: int) -> Any:
    from ..predict.runtime_model import MIN_NETWORKS
    from ..targets import profile_from_dict
    from .runtime_timing import fit_runtime_models

    if len(records) < MIN_NETWORKS:
        raise ConfigError(f"{len(records)} fitting networks are too few to fit a runtime model",
                          fix=f"export at least {MIN_NETWORKS}")
    data = profile.model_dump(mode="json")
    data["latency_models"] = fit_runtime_models(records, threads)
    return profile_from_dict(data, source=f"fitted {profile.name}")


def export_fitting_networks(out: str | os.PathLike, runtimes: tuple[str, ...], networks: int = 32,
                                precisions: tuple[str, ...] = ("fp32", "int8"),
                                progress: Callable[[str], None] | None = None) -> Path:
    """Export random fitting networks for ``fit_target(networks_from=...)`` on another machine.

    Args:
        out: A new (or empty) folder.
        runtimes: ``onnxruntime`` and/or ``litert``: the formats to write.
        networks: How many networks (at least 14).
        precisions: ``fp32`` and/or ``int8``.
        progress: Called with one line per network exported.

    Returns:
        The folder, with one sub-folder per network and ``manifest.json``.
    """
    from ..predict.runtime_model import MIN_NETWORKS
    from .runtime_timing import export_networks

    if networks < MIN_NETWORKS:
        raise ConfigError(f"--networks {networks} is too few to fit a runtime model",
                          fix=f"use at least {MIN_NETWORKS}")
    if not runtimes:
        raise ConfigError("no --runtime given", fix="pass --runtime onnxruntime and/or --runtime litert")
    return export_networks(out, networks, tuple(runtimes), tuple(precisions), progress=progress)
