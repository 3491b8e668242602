"""Build configuration: YAML validated by pydantic with ``extra="forbid"``.

Every section is optional; ``BuildConfig()`` is the embedded default (scikit-learn's
bundled handwritten digits, a small CNN teacher trained on the spot, Hinton KD into a
MobileNetV2-style student, INT8, ONNX). ``--set a.b=value`` overrides any key.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, Field, ValidationError, field_validator, model_validator

from .data.schema import DATA_SECTIONS, DataSection
from .errors import ConfigError
from .quantize.schema import QuantizeConfig
from .search.schema import SearchConfig
from .sections import BatchSize, Section
from .teachers.schema import TEACHER_SECTIONS, TeacherSection

# The largest seed every library we seed accepts (scikit-learn's random_state: 32-bit unsigned).
MAX_SEED = 2**32 - 1

# Each room defines its own sections; the union's tag is the section's `kind`.
DataConfig = Annotated[DataSection, Field(discriminator="kind")]
TeacherConfig = Annotated[TeacherSection, Field(discriminator="kind")]


class StudentConfig(Section):
    """Which registered student to build, and its options (see ``edgekd students list``)."""

    name: str = Field("mobilenetv2", description="a registered student (edgekd students list)")
    options: dict[str, Any] = Field(default_factory=dict,
        description="the student's build options over its own build defaults, e.g. {width: 0.5} (edgekd students "
                    "list: mobilenetv2 is built at width 0.35, the others at their builder's defaults)")
    search: SearchConfig = Field(default_factory=SearchConfig, description="search the student that meets the "
                                 "target's budgets instead (off by default; `edgekd build --fit`)")


class HintLayers(Section):
    """FitNets hint pairs: teacher module names (``named_modules()``) and, optionally, the student's."""

    teacher: list[str] = Field(default_factory=list, description="e.g. [layer2, layer3] (a torch teacher's modules)")
    student: list[str] | None = Field(None, description="names from the student's feature_layers(); default: the "
                                                        "one closest in spatial size to each teacher layer")


class DistillConfig(Section):
    """Knowledge distillation. Every method keeps the Hinton term
    α·T²·KL(p_T^teacher ‖ p_T^student) + (1-α)·CE; ``fitnets`` adds hint_weight·MSE on
    adapted feature maps, ``rkd`` adds the distance and angle terms on embeddings or logits.
    The learning rate warms up linearly for ``warmup_epochs``, then follows a cosine to zero at
    the last epoch (so a longer run is a longer cosine, not more epochs at the end)."""

    method: Literal["hinton", "fitnets", "rkd"] = Field("hinton",
        description="hinton, or hinton plus fitnets hints or rkd relations")
    temperature: float = Field(4.0, gt=0, le=100, description="softmax temperature T of the soft targets")
    alpha: float = Field(0.7, ge=0, le=1, description="weight of the soft (teacher) term")
    hint_layers: HintLayers = Field(default_factory=HintLayers, description="fitnets only")
    hint_weight: float = Field(1.0, ge=0, description="fitnets only: weight of the hint term")
    rkd_on: Literal["embedding", "logits"] = Field("embedding", description="rkd only: penultimate embeddings "
                                                   "(torch teachers) or logits (any teacher)")
    rkd_distance_weight: float = Field(25.0, ge=0, description="rkd only (Park et al. use 25)")
    rkd_angle_weight: float = Field(50.0, ge=0, description="rkd only (Park et al. use 50)")
    epochs: int = Field(15, ge=1, description="training epochs of the student (and of the baseline)")
    patience: int | None = Field(None, ge=1, description="stop after this many epochs without a better val top-1")
    keep: Literal["best", "last"] = Field("best", description="the weights shipped (student, baseline, search trials, "
                                          "prune recovery): best = the best val epoch's; last = the last epoch's "
                                          "(when val is small or unlike the deployment data, e.g. other speakers, "
                                          "its best epoch can be a noisy early one)")
    lr: float = Field(1e-2, gt=0, description="peak learning rate (cosine schedule after warm-up)")
    weight_decay: float = Field(1e-4, ge=0, description="decoupled weight decay (adamw) or L2 (sgd)")
    batch_size: BatchSize = Field("auto", description="an integer, or auto: 128 unless that gives fewer than 20 "
                                                   "optimizer steps per epoch, then ceil(train samples / 20); "
                                                   "the effective value is in report.json training")
    optimizer: Literal["adamw", "sgd"] = Field("adamw", description="adamw, or sgd with Nesterov momentum 0.9")
    warmup_epochs: int = Field(1, ge=0, description="epochs of linear learning-rate warm-up")
    device: Literal["auto", "cpu", "cuda"] = Field("auto", description="auto: CUDA when present")
    train_baseline: bool = Field(False, description="also train the student on hard labels alone (with the same "
                                                    "augmentation, mixing, schedule, EMA and epochs)")
    recipe: Literal["standard", "function_matching"] = Field(
        "standard", description="standard: the teacher's logits are cached once when nothing changes the train "
                                "batches, else it runs on each batch; function_matching (Beyer et al. 2022): the "
                                "teacher labels, at every step, exactly the augmented and mixed images the student "
                                "sees (never cached); needs mixup or cutmix")
    mixup: float = Field(0.0, ge=0, description="mixup between the images of a batch, proportion ~ Beta(a, a); "
                                                "labels mixed alike; 0 = off (1.0 = uniform proportion)")
    cutmix: float = Field(0.0, ge=0, description="CutMix: paste a box of another image, kept area ~ Beta(a, a); "
                                                 "0 = off; with mixup too, each batch uses one of them at random")
    ema: float | None = Field(None, gt=0, lt=1, description="decay of an exponential moving average of the student's "
                                                            "weights, updated every step (e.g. 0.999); the average is "
                                                            "what is validated, kept and exported; null = off")

    @model_validator(mode="after")
    def _keep_last_without_patience(self) -> "DistillConfig":
        if self.keep == "last" and self.patience is not None:
            raise ValueError("patience stops training after the best val epoch, so keep 'last' would ship a stale "
                             "epoch: drop distill.patience or use keep 'best'")
        return self

    @model_validator(mode="after")
    def _function_matching_mixes(self) -> "DistillConfig":
        if self.recipe == "function_matching" and self.mixup == 0 and self.cutmix == 0:
            raise ValueError("recipe 'function_matching' matches the teacher on mixed images: set mixup "
                             "(e.g. 1.0) or cutmix")
        return self


class PruneConfig(Section):
    """Pruning of the distilled student, then KD recovery fine-tuning (off by default)."""

    enabled: bool = Field(False, description="prune the distilled student, then recover with KD")
    method: Literal["structured", "unstructured"] = Field(
        "structured", description="structured removes channels (smaller, faster); unstructured only zeroes weights")
    target_macs_ratio: float = Field(0.5, gt=0, lt=1, description="MACs after / before (unstructured: kept weights)")
    target_latency_ms: float | None = Field(
        None, gt=0, description="structured only: prune until the predicted latency upper bound on the build target "
                                "(what the gate judges, at the precision it ships) is at most this; replaces "
                                "target_macs_ratio; null = prune by MACs")
    importance: Literal["l2", "l1", "bn_scale", "lamp"] = Field("l2",
        description="how channels are ranked for removal (torch-pruning importance)")
    round_to: int | None = Field(None, ge=1, description="keep channel counts a multiple of this")
    recovery_epochs: int = Field(5, ge=0, description="KD fine-tuning epochs after pruning (0: none)")
    lr: float = Field(2e-3, gt=0, description="learning rate of the recovery fine-tuning")

    @model_validator(mode="after")
    def _latency_needs_structured(self) -> "PruneConfig":
        if self.target_latency_ms is not None and self.method != "structured":
            raise ValueError("target_latency_ms needs method: structured (unstructured pruning keeps every MAC)")
        return self


class ExportConfig(Section):
    """Which formats to write; ``None`` means the target profile's formats."""

    formats: list[Literal["onnx", "tflite", "coreml"]] | None = Field(
        None, description="null: the target's formats; an empty list is an error (nothing to export)")
    opset: int = Field(17, ge=13, le=21, description="ONNX opset of the exported graph")

    @field_validator("formats")
    @classmethod
    def _some_formats_once_each(cls, value: list[str] | None) -> list[str] | None:
        # An empty list used to fall back to the target's formats silently; say what is meant instead.
        if value is not None and not value:
            raise ValueError("is empty: no format to export; list one or more of onnx, tflite, coreml, "
                             "or leave export.formats unset (null) for the target's formats")
        if value is not None and len(set(value)) != len(value):
            raise ValueError(f"lists a format twice ({', '.join(value)}); list each format once")
        return value


class BenchConfig(Section):
    """How artifacts are measured."""

    latency_mode: Literal["short", "full", "off"] = Field("short",
        description="host timing: short (builds), full (MLPerf-like, minutes) or off")

    @field_validator("latency_mode", mode="before")
    @classmethod
    def _off_is_not_false(cls, value: Any) -> Any:
        # `latency_mode: off` in a YAML file arrives as False.
        return "off" if value is False else value
    threads: int | None = Field(None, ge=1, description="default: the target profile's threads")


class CalibrationConfig(Section):
    """Probability calibration of the student (ECE before/after goes in the report)."""

    temperature_scaling: bool = Field(False, description="fit T on the val split and fold logits/T into the "
                                                         "student's last layer before export")


class BuildConfig(Section):
    """The whole build."""

    # The range is checked by _seed_in_range (one message naming both ends) and published in the schema here.
    seed: int = Field(0, description=f"0..{MAX_SEED}: seeds splits, initialisation and shuffling",
                      json_schema_extra={"minimum": 0, "maximum": MAX_SEED})
    data: DataConfig = Field(default_factory=lambda: DATA_SECTIONS[0]())
    teacher: TeacherConfig = Field(default_factory=lambda: TEACHER_SECTIONS[0]())
    student: StudentConfig = Field(default_factory=StudentConfig)
    distill: DistillConfig = Field(default_factory=DistillConfig)
    prune: PruneConfig = Field(default_factory=PruneConfig)
    quantize: QuantizeConfig = Field(default_factory=QuantizeConfig)
    export: ExportConfig = Field(default_factory=ExportConfig)
    bench: BenchConfig = Field(default_factory=BenchConfig)
    calibration: CalibrationConfig = Field(default_factory=CalibrationConfig)

    @model_validator(mode="after")
    def _ensemble_teacher_has_logits_only(self) -> "BuildConfig":
        members = getattr(self.teacher, "members", 1)
        method = self.distill.method
        if members > 1 and (method == "fitnets" or (method == "rkd" and self.distill.rkd_on == "embedding")):
            raise ValueError(f"teacher.members={members} averages the logits of {members} teachers, which share no "
                             f"internal layers for distill.method={method}: use distill.method=hinton "
                             "(or rkd with distill.rkd_on=logits), or teacher.members=1")
        return self

    @field_validator("seed")
    @classmethod
    def _seed_in_range(cls, value: int) -> int:
        # numpy's legacy RandomState and scikit-learn's random_state take 32-bit unsigned seeds only.
        if not 0 <= value <= MAX_SEED:
            raise ValueError(f"must be an integer in the range 0..{MAX_SEED} (a 32-bit unsigned seed)")
        return value


_YAML11_BOOL_WORDS = {"on", "off", "yes", "no", "y", "n"}


def load_config(path: str | os.PathLike | None = None, overrides: Sequence[str] = ()) -> BuildConfig:
    """Read a YAML config (or the embedded default), apply ``a.b=value`` overrides, validate.

    Args:
        path: YAML file, or ``None`` for the embedded default.
        overrides: ``key.path=value`` strings; values are parsed as YAML (``[onnx,tflite]``, ``0.5``).

    Raises:
        ConfigError: unreadable file, YAML syntax error, unknown key or bad value (one line).
    """
    source = str(path) if path else "default config"
    raw: dict[str, Any] = _read_yaml(Path(path)) if path else {}
    for item in overrides:
        _apply_override(raw, item)
    # A section given without `kind` means the default kind (so `--set data.resolution=24` works).
    defaulted = []
    for section, default_kind in (("data", "digits"), ("teacher", "scratch-cnn")):
        if isinstance(raw.get(section), dict) and "kind" not in raw[section]:
            raw[section]["kind"] = default_kind
            defaulted.append(section)
    try:
        return BuildConfig.model_validate(raw)
    except ValidationError as exc:
        problem = describe_validation_error(exc, BuildConfig)
        fix = "correct that key (see README 'Config')"
        section = str(exc.errors()[0]["loc"][0]) if exc.errors()[0]["loc"] else ""
        if section in defaulted:
            fix = f"{section}.kind was not given, so it is '{raw[section]['kind']}'; set {section}.kind first"
        raise ConfigError(f"{source}: {problem}", fix=fix) from None


def dump_config(config: BuildConfig) -> str:
    """The resolved config as YAML (every default filled in)."""
    return yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False)


class DuplicateKeyError(yaml.YAMLError):
    """A mapping in the YAML file names the same key twice."""


class _UniqueKeyLoader(yaml.SafeLoader):
    """yaml.SafeLoader that refuses a key given twice in one mapping (PyYAML keeps the last silently)."""

    def construct_mapping(self, node, deep=False):
        seen: dict[Any, int] = {}
        for key_node, _value in node.value:
            key = self.construct_object(key_node, deep=True)
            if key in seen:
                raise DuplicateKeyError(f"key {key!r} appears twice (lines {seen[key]} and "
                                        f"{key_node.start_mark.line + 1})")
            seen[key] = key_node.start_mark.line + 1
        return super().construct_mapping(node, deep=deep)


def _load_unique_keys(text: str) -> Any:
    """``yaml.safe_load`` that refuses duplicate keys (the loader is a SafeLoader subclass)."""
    loader = _UniqueKeyLoader(text)
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()


def _read_yaml(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise ConfigError(f"config file {path} does not exist", fix="pass the path of a YAML build config")
    try:
        data = _load_unique_keys(path.read_text(encoding="utf-8"))
    except DuplicateKeyError as exc:
        raise ConfigError(f"{path}: {exc}", fix="keep one of them: YAML would silently use the last") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise ConfigError(f"{path}: YAML syntax error{where}: {problem}",
                          fix="check indentation and quoting on that line") from None
    except (UnicodeDecodeError, OSError) as exc:
        raise ConfigError(f"{path}: cannot read config ({exc.__class__.__name__})",
                          fix="pass a UTF-8 YAML file") from None
    except RecursionError:
        raise ConfigError(f"{path}: nested too deeply to be a build config",
                          fix="a build config is a few levels of sections and keys; see README 'Config'") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: top level must be a mapping of sections, got {type(data).__name__}",
                          fix="start the file with keys such as `data:`, `student:`, `distill:`")
    return data


def _apply_override(raw: dict[str, Any], item: str) -> None:
    key, sep, text = item.partition("=")
    if not sep or not key.strip():
        raise ConfigError(f"--set {item!r} is not of the form key.path=value", fix="e.g. --set distill.epochs=5")
    # YAML 1.1 reads on/off/yes/no as booleans; keep them as words (pydantic still
    # accepts them for boolean keys) so `--set bench.latency_mode=off` means "off".
    if text.strip().lower() in _YAML11_BOOL_WORDS:
        value: Any = text.strip()
    else:
        try:
            value = yaml.safe_load(text)
        except yaml.YAMLError:
            value = text
        except RecursionError:
            raise ConfigError(f"--set {key.strip()}: the value is nested too deeply",
                              fix="give a number, a word or a short list such as [onnx,tflite]") from None
    node = raw
    parts = key.strip().split(".")
    for part in parts[:-1]:
        child = node.get(part)
        if not isinstance(child, dict):
            child = node[part] = {}
        node = child
    node[parts[-1]] = value


def describe_validation_error(exc: ValidationError, model: type[BaseModel]) -> str:
    """One line for the first pydantic error: the key path, what is wrong, what is allowed."""
    err = exc.errors()[0]
    loc, section = _walk(model, list(err["loc"]))
    key = ".".join(loc) or "(top level)"
    if err["type"] == "extra_forbidden":
        allowed = sorted(getattr(section, "model_fields", {}))
        close = difflib.get_close_matches(loc[-1], allowed, n=1)
        guess = f"; did you mean '{close[0]}'?" if close else ""
        hint = f" (allowed here: {', '.join(allowed)})" if allowed else ""
        return f"unknown key '{key}'{guess}{hint}"
    if err["type"] == "missing":
        return f"missing required key '{key}'"
    got = err.get("input")
    got_text = "" if isinstance(got, (dict, list)) else f" (got {got!r})"
    return f"bad value for '{key}': {err['msg'].removeprefix('Value error, ')}{got_text}"


def _walk(model: type[BaseModel], loc: list[Any]) -> tuple[list[str], Any]:
    """Follow an error location through the models.

    Returns the user-facing key path (without the discriminator tags pydantic inserts
    for tagged unions) and the section class that holds the last key.
    """
    keys: list[str] = []
    section: Any = model
    parent: Any = model
    pending_union: dict[str, type[BaseModel]] | None = None
    for part in loc:
        if pending_union is not None and part in pending_union:
            section, pending_union = pending_union[part], None
            continue
        keys.append(str(part))
        fields = getattr(section, "model_fields", None)
        if not fields or part not in fields:
            parent = section
            section = None
            continue
        parent = section
        members = _model_members(fields[part].annotation)
        section = members[0] if members else None
        tags = {m.model_fields["kind"].default: m for m in members if "kind" in m.model_fields}
        pending_union = tags or None
    # The last part is the offending key itself: its holder is the parent section.
    return keys, parent


def _model_members(annotation: Any) -> list[type[BaseModel]]:
    """The BaseModel classes an annotation can hold (unwrapping Annotated/Union/Optional)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    found: list[type[BaseModel]] = []
    inner = getattr(annotation, "__origin__", None)
    if getattr(annotation, "__metadata__", None) is not None and inner is not None:
        return _model_members(inner)
    for arg in getattr(annotation, "__args__", ()) or ():
        found.extend(_model_members(arg))
    return found
