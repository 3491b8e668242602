"""Device profiles: the schema of ``targets/*.yaml`` and its loader.

A profile says what a device can do (cores, clock, peak MAC rate per precision of each
compute unit, memory bandwidth and capacity), how edgekd deploys to it (runtime, threads,
formats, precisions) and what a model must meet there (budgets). Every section forbids
unknown keys, so a typo is an error naming the key, never a silently ignored setting.

Units: byte budgets and capacities accept ``512 KiB`` / ``2 MB`` / ``1.5 GiB`` (or a plain
integer), latency accepts a number of milliseconds or ``20 ms`` / ``0.02 s``, accuracy and ECE
are fractions in [0, 1] (``0.85``; ``85%`` is accepted too, a bare ``85`` is rejected).
"""

from __future__ import annotations

import copy
import difflib
import os
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, Field, ValidationError, model_validator

from .device_facts import DeviceFacts, check_device_section
from .efficiency import DEFAULT_EFFICIENCY, DEFAULT_OP_OVERHEAD_S, Efficiency, RuntimeModel, Section
from .errors import TargetError
from .units import Bytes, BytesPerSecond, Fraction, Hertz, Milliseconds

Precision = Literal["fp32", "fp16", "int8"]
TARGETS_ENV = "EDGEKD_TARGETS_DIR"

class Cpu(Section):
    cores: int = Field(gt=0)
    clock_hz: Hertz
    arch: str
    simd: str


class PeakMacs(Section):
    """Peak multiply-accumulates per second of one compute unit; ``None`` = no native support."""

    fp32: float | None = Field(None, gt=0)
    fp16: float | None = Field(None, gt=0)
    int8: float | None = Field(None, gt=0)


class ComputeUnit(Section):
    name: str
    type: Literal["cpu", "gpu", "npu", "dsp", "tpu"]
    peak_macs_per_s: PeakMacs
    cores: int | None = Field(None, gt=0, description="CPU cores the peak covers (default: cpu.cores)")


class Memory(Section):
    bandwidth_bytes_per_s: BytesPerSecond
    ram_bytes: Bytes
    flash_bytes: Bytes
    weights_in: Literal["ram", "flash"] = "ram"
    # Optional: an op whose bytes fit in this cache streams at the cache's rate, not DRAM's.
    cache_bytes: Bytes | None = None
    cache_bandwidth_bytes_per_s: BytesPerSecond | None = None


class Runtime(Section):
    name: Literal["onnxruntime", "litert", "tflite-micro", "coreml", "tensorrt", "edgetpu"]
    threads: int = Field(1, ge=1)
    compute_unit: str


class Budgets(Section):
    max_latency_p90_ms: Milliseconds | None = None
    max_model_bytes: Bytes | None = None
    max_peak_ram_bytes: Bytes | None = None
    min_top1: Fraction | None = None
    max_top1_drop: Fraction | None = None
    max_ece: Fraction | None = None
    max_ece_increase_vs_teacher: float | None = Field(
        None, ge=0, le=1, description="largest allowed ECE(deployed) - ECE(teacher), e.g. 0.02")
    max_student_macs_ratio: float | None = Field(
        None, gt=0, description="largest allowed MACs(deployed student) / MACs(teacher), e.g. 0.5; not judged "
                                "when the teacher's MACs are unknown")


def _deep_merge(base: dict, override: dict) -> dict:
    out = copy.deepcopy(base)
    for key, value in override.items():
        out[key] = _deep_merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def _default_family(data: dict) -> str:
    """Which priors apply: those of the runtime's compute unit type, else of the device kind.

    A phone running Core ML on its neural engine behaves like an accelerator, not like its CPU.
    """
    runtime_raw, units_raw = data.get("runtime"), data.get("compute_units")
    runtime: dict = runtime_raw if isinstance(runtime_raw, dict) else {}
    units: list = units_raw if isinstance(units_raw, list) else []
    unit_type = next((u.get("type") for u in units if isinstance(u, dict)
                      and u.get("name") == runtime.get("compute_unit")), None)
    if unit_type in ("npu", "tpu", "dsp"):
        return "accelerator"
    if unit_type == "gpu":
        return "gpu"
    if unit_type == "cpu" and data["kind"] in ("gpu", "accelerator"):
        return "sbc"
    return data["kind"]


class TargetProfile(Section):
    """One edge device: capabilities, deployment and budgets (see the module docstring)."""

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
    aliases: list[str] = Field(default_factory=list, description="other names --target accepts (e.g. rpi4); case, "
                                                                 "'-', '_' and spaces are ignored when matching")
    kind: Literal["mcu", "sbc", "phone", "gpu", "accelerator", "host"]
    description: str
    cpu: Cpu
    compute_units: list[ComputeUnit] = Field(min_length=1)
    memory: Memory
    runtime: Runtime
    formats: list[Literal["onnx", "tflite", "coreml"]] = Field(min_length=1)
    precisions: list[Precision] = Field(min_length=1)
    efficiency: Efficiency
    op_overhead_s: float = Field(ge=0)
    # Measured per-runtime models (runtime -> precision -> model); used instead of the roofline.
    latency_models: dict[Literal["onnxruntime", "litert"], dict[Precision, RuntimeModel]] = Field(default_factory=dict)
    # Micro-architecture facts; a profile with them is costed by the device model (device_facts.py).
    device: DeviceFacts | None = None
    budgets: Budgets = Field(default_factory=Budgets)

    @model_validator(mode="before")
    @classmethod
    def _fill_defaults(cls, data: Any) -> Any:
        """Efficiency and op overhead default by ``kind``; a profile may override any part."""
        if not isinstance(data, dict) or not isinstance(data.get("kind"), str) \
                or data["kind"] not in DEFAULT_EFFICIENCY:
            return data
        data = dict(data)
        family = _default_family(data)
        given = data.get("efficiency") or {}
        if isinstance(given, dict):
            data["efficiency"] = _deep_merge(DEFAULT_EFFICIENCY[family], given)
        data.setdefault("op_overhead_s", DEFAULT_OP_OVERHEAD_S[family])
        return data

    @model_validator(mode="after")
    def _consistent(self) -> TargetProfile:
        names = [u.name for u in self.compute_units]
        if self.runtime.compute_unit not in names:
            raise ValueError(f"runtime.compute_unit {self.runtime.compute_unit!r} is not one of the "
                             f"compute_units ({', '.join(names)})")
        check_device_section(self.kind, self.runtime.name, self.device)
        if self.kind == "mcu" and self.runtime.threads != 1:
            raise ValueError("runtime.threads must be 1 on an mcu (its runtimes are single-threaded)")
        for precision in self.precisions:
            if all(getattr(u.peak_macs_per_s, precision) is None and u.peak_macs_per_s.fp32 is None
                   for u in self.compute_units):
                raise ValueError(f"precision {precision} is listed but no compute unit has a {precision} "
                                 "or fp32 peak_macs_per_s")
        return self

    def unit(self, name: str | None = None) -> ComputeUnit:
        """The compute unit called ``name`` (default: the runtime's)."""
        wanted = name or self.runtime.compute_unit
        return next(u for u in self.compute_units if u.name == wanted)

    def peak_macs(self, precision: str, threads: int | None = None) -> float:
        """Peak MAC/s of the runtime's compute unit at ``precision``.

        Fallbacks: a unit without a native FP16 or INT8 rate runs that model at its FP32
        rate (the runtime dequantizes or upcasts). A unit without any usable rate (e.g. a
        neural engine asked for FP32) hands the model to the first other compute unit that
        has one, as Core ML does. For CPU units the peak covers ``unit.cores`` cores and is
        scaled by ``min(threads, cores) / cores`` (threads default: ``runtime.threads``;
        always 1 on an MCU).

        Raises:
            TargetError: No compute unit can run ``precision``.
        """
        if precision not in ("fp32", "fp16", "int8"):
            raise TargetError(f"unknown precision {precision!r}", fix="use fp32, fp16 or int8")
        threads = 1 if self.kind == "mcu" else (threads or self.runtime.threads)
        default = self.unit()
        for unit in [default] + [u for u in self.compute_units if u is not default]:
            rate = getattr(unit.peak_macs_per_s, precision) or unit.peak_macs_per_s.fp32
            if rate is None:
                continue
            if unit.type == "cpu":
                cores = unit.cores or self.cpu.cores
                rate *= min(threads, cores) / cores
            return float(rate)
        raise TargetError(f"target {self.name!r} has no compute unit for {precision}",
                          fix="add a peak_macs_per_s rate for it to a compute unit")

    def to_public_dict(self) -> dict[str, Any]:
        """The profile as JSON-able data (``report.json["target"]``)."""
        out = self.model_dump(mode="json")
        out["peak_macs_per_s_effective"] = {p: self.peak_macs(p) for p in self.precisions}
        return out


def targets_dir() -> Path:
    """The folder of ``<name>.yaml`` profiles: ``$EDGEKD_TARGETS_DIR`` when set, else the ones edgekd ships.

    The shipped profiles are package data (``edgekd/profiles/``; ``targets/`` in the repository
    points there), so a normal ``pip install`` can load them.
    """
    env = os.environ.get(TARGETS_ENV)
    if env:
        if not Path(env).is_dir():
            raise TargetError(f"{TARGETS_ENV}={env} is not a folder",
                              fix=f"point {TARGETS_ENV} at a folder of profile YAMLs, or unset it")
        return Path(env)
    return Path(__file__).resolve().parent / "profiles"


def _known_names() -> list[str]:
    folder = targets_dir()
    return sorted({p.stem for p in folder.glob("*.yaml")} | {p.stem for p in folder.glob("*.yml")})


def load_target(name_or_path: str | os.PathLike) -> TargetProfile:
    """Load a profile by name (``targets/<name>.yaml``) or from a YAML path.

    Raises:
        TargetError: Unknown name (with a did-you-mean), unreadable file, YAML syntax error,
            or a profile that does not validate (one line: file, field path, what is allowed).
    """
    text = str(name_or_path)
    if "/" in text or os.sep in text or text.endswith((".yaml", ".yml")):
        return _load_file(Path(text))
    folder = targets_dir()
    for suffix in (".yaml", ".yml"):
        if (folder / f"{text}{suffix}").is_file():
            return _load_file(folder / f"{text}{suffix}")
    aliases = _aliases()
    if _plain(text) in aliases:
        return _load_file(aliases[_plain(text)])
    known = _known_names()
    close = difflib.get_close_matches(_plain(text), list(aliases), n=1, cutoff=0.5)
    hint = f"did you mean {aliases[close[0]].stem!r}? " if close else ""
    raise TargetError(f"unknown target {text!r}; {hint}known targets: {', '.join(known)}",
                      fix="use one of the known names or a path to a profile YAML")


def _plain(name: str) -> str:
    """A name as matched against profile names and aliases: lower case, no '-', '_', '.' or spaces."""
    return "".join(ch for ch in name.lower() if ch.isalnum())


def _aliases() -> dict[str, Path]:
    """Every profile's file under its plain name and plain aliases (unreadable files are skipped here)."""
    index: dict[str, Path] = {}
    folder = targets_dir()
    for path in sorted([*folder.glob("*.yaml"), *folder.glob("*.yml")]):
        index.setdefault(_plain(path.stem), path)
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError, RecursionError):
            continue
        names = data.get("aliases") if isinstance(data, dict) else None
        for alias in names if isinstance(names, list) else []:
            index.setdefault(_plain(str(alias)), path)
    return index


def list_targets() -> list[TargetProfile]:
    """Every profile in :func:`targets_dir`, sorted by name."""
    folder = targets_dir()
    files = sorted(list(folder.glob("*.yaml")) + list(folder.glob("*.yml")))
    return sorted((_load_file(p) for p in files), key=lambda p: p.name)


def profile_from_dict(data: Any, source: str = "<profile>") -> TargetProfile:
    """Validate a mapping as a profile, converting pydantic's error to a one-line TargetError."""
    if not isinstance(data, dict):
        raise TargetError(f"{source}: a profile must be a mapping of keys, got {type(data).__name__}",
                          fix="start from one of the files in targets/")
    try:
        return TargetProfile.model_validate(data)
    except ValidationError as exc:
        raise TargetError(f"{source}: {_one_line(exc)}", fix="see edgekd/targets.py for every field") from None


def _load_file(path: Path) -> TargetProfile:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise TargetError(f"cannot read target profile {path}: {exc.strerror or exc}",
                          fix="check the path, or use a name from `edgekd targets list`") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1} column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise TargetError(f"{path}:{where}: YAML syntax error: {problem}", fix="fix the YAML syntax") from None
    except RecursionError:
        raise TargetError(f"{path}: nested too deeply to be a device profile",
                          fix="start from a profile in `edgekd targets list`") from None
    return profile_from_dict(data, str(path))


def _one_line(exc: ValidationError) -> str:
    """The first validation error as ``field.path: message``, plus how many others there are."""
    errors = exc.errors()
    first = errors[0]
    loc = ".".join(str(p) for p in first["loc"]) or "<profile>"
    msg = first["msg"].removeprefix("Value error, ")
    if first["type"] == "missing":
        msg = "missing required field"
    elif first["type"] == "extra_forbidden":
        allowed = _allowed_keys(first["loc"][:-1])
        msg = f"unknown key; allowed: {', '.join(allowed)}" if allowed else "unknown key"
    if ("input" in first and first["type"] not in ("missing", "extra_forbidden", "value_error")
            and not isinstance(first["input"], (dict, list))):
        msg += f" (got {first['input']!r})"
    more = f" (and {len(errors) - 1} more error{'s' if len(errors) > 2 else ''})" if len(errors) > 1 else ""
    return " ".join(f"{loc}: {msg}{more}".split())


def _allowed_keys(loc: tuple) -> list[str]:
    """Field names of the section at ``loc`` (list indices skipped)."""
    model: Any = TargetProfile
    for part in loc:
        if isinstance(part, int):
            continue
        field = model.model_fields.get(part)
        if field is None:
            return []
        model = _model_of(field.annotation)
        if model is None:
            return []
    return list(model.model_fields)


def _model_of(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()) or ():
        found = _model_of(arg)
        if found is not None:
            return found
    return None
