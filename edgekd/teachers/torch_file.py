"""Torch teachers from the user's files: a factory + state_dict checkpoint, or TorchScript.

The factory file is imported from the path the user gave, under a private module name
(``importlib.util.spec_from_file_location``), never by module name through ``sys.path``,
so a file called ``torch.py`` or ``models.py`` cannot shadow or be shadowed by a package.
"""

from __future__ import annotations

import hashlib
import importlib.util
import pickle
import sys
from collections.abc import Mapping
from pathlib import Path

import torch
from torch import nn

from ..errors import ModelFileError
from .blackbox import check_file, load_failed
from .schema import TorchScriptTeacher, TorchTeacher
from .user_code import user_code

# Checkpoint wrappers seen in the wild: {'state_dict': ...} (e.g. the CIFAR ResNets), Lightning, ...
_WRAPPER_KEYS = ("state_dict", "model_state_dict", "model", "net")
# Prefixes added by DataParallel / DistributedDataParallel and torch.compile.
_PREFIXES = ("module.", "_orig_mod.")
# BatchNorm's step counter: absent from old checkpoints, irrelevant in eval mode.
_OPTIONAL_SUFFIX = "num_batches_tracked"


def load_torch_teacher(cfg: TorchTeacher) -> tuple[nn.Module, str]:
    """Build the model with the user's factory and load the checkpoint into it.

    Returns:
        The model in eval mode with frozen parameters, and a one-line description.

    Raises:
        ModelFileError: Factory file missing or failing to import/run; checkpoint missing,
            empty, truncated, not a torch file, a full pickle without ``allow_pickle``, or
            with keys/shapes that do not fit the model.
    """
    file, func = cfg.factory_parts()
    factory = _import_factory(file, func)
    with user_code(f"teacher factory {file.name}:{func}(**{cfg.factory_kwargs})",
                   fix="check teacher.factory_kwargs against the factory's signature"):
        model = factory(**cfg.factory_kwargs)
    if not isinstance(model, nn.Module):
        raise ModelFileError(f"teacher factory {file.name}:{func} returned {type(model).__name__}, not a "
                             "torch.nn.Module", fix="return the model (an nn.Module) from the factory")
    description = f"torch teacher {type(model).__name__} from {file.name}:{func}"
    if cfg.weights is not None:
        state = read_state_dict(cfg.weights, allow_pickle=cfg.allow_pickle)
        apply_state_dict(model, state, cfg.weights)
        description += f" with weights {cfg.weights.name}"
    return freeze(model), description


def load_torchscript_teacher(cfg: TorchScriptTeacher) -> tuple[nn.Module, str]:
    """Load a TorchScript teacher on the CPU (eval mode, frozen).

    Raises:
        ModelFileError: Missing, empty, truncated or not a TorchScript file.
    """
    check_file(cfg.path, "torchscript")
    try:
        model = torch.jit.load(str(cfg.path), map_location="cpu")
    except Exception as exc:  # RuntimeError with a multi-line miniz message
        raise load_failed(cfg.path, "torchscript", exc,
                          "save it with torch.jit.save(torch.jit.script(model) or torch.jit.trace(model, x), path); "
                          "a state_dict checkpoint needs kind: torch with a factory") from None
    return freeze(model), f"TorchScript teacher {cfg.path.name}"


def freeze(model: nn.Module) -> nn.Module:
    """Eval mode and no parameter gradients: the teacher is never trained here."""
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    return model


def _import_factory(file: Path, func: str):
    if not file.is_file():
        raise ModelFileError(f"teacher factory file {file} does not exist",
                             fix='set teacher.factory to "path/to/file.py:function" (relative to the current folder)')
    resolved = file.resolve()
    # A private, path-derived name: cannot collide with an installed package or another file.
    name = "_edgekd_teacher_" + hashlib.sha1(str(resolved).encode()).hexdigest()[:12]
    spec = importlib.util.spec_from_file_location(name, resolved)
    if spec is None or spec.loader is None:
        raise ModelFileError(f"teacher factory file {file} cannot be imported as Python",
                             fix="point teacher.factory at a .py file")
    module = importlib.util.module_from_spec(spec)
    # Registered under the private name only while executing (dataclasses and pickling look it up).
    sys.modules[name] = module
    try:
        with user_code(f"importing teacher factory file {file}",
                       fix="make the file importable on its own (it is loaded from its path, not from "
                           "sys.path: import helpers from installed packages, not sibling files)"):
            spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(name, None)
        raise
    factory = getattr(module, func, None)
    if not callable(factory):
        found = sorted(n for n, v in vars(module).items() if callable(v) and not n.startswith("_"))[:8]
        raise ModelFileError(f"teacher factory file {file} has no function {func!r}",
                             fix=f"use one of: {', '.join(found) or '(none)'} after the ':'")
    return factory


def read_state_dict(path: Path, *, allow_pickle: bool = False) -> dict[str, torch.Tensor]:
    """Read a checkpoint's state_dict: unwrapped, prefixes stripped, tensors only.

    Args:
        path: A ``torch.save`` file (zip or legacy format).
        allow_pickle: Load full pickles too (runs code stored in the file).

    Raises:
        ModelFileError: The file cannot be read as a tensor checkpoint.
    """
    check_file(path, "torch")
    fix = "save the weights with torch.save(model.state_dict(), path)"
    try:
        obj = torch.load(str(path), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        if "Weights only load failed" not in str(exc):
            raise load_failed(path, "torch", exc, fix) from None
        if not allow_pickle:
            raise ModelFileError(
                f"teacher weights {path} are a full Python pickle, not just tensors; loading it would run code "
                "stored in the file, so it is refused", fix=f"{fix}, or set teacher.allow_pickle: true if you "
                                                            "trust the file") from None
        obj = _load_pickle(path, fix)
    except Exception as exc:  # EOFError (empty/truncated legacy), RuntimeError (truncated zip), KeyError (text)
        raise load_failed(path, "torch", exc, f"{fix} (the file looks truncated or is not a torch checkpoint)") \
            from None
    if isinstance(obj, nn.Module):
        obj = obj.state_dict()
    state = _unwrap(obj)
    if state is None:
        raise ModelFileError(f"teacher weights {path} hold a {type(obj).__name__} without a state_dict "
                             f"(keys: {_first(list(obj)) if isinstance(obj, Mapping) else '-'})", fix=fix)
    for prefix in _PREFIXES:
        if state and all(k.startswith(prefix) for k in state):
            state = {k[len(prefix):]: v for k, v in state.items()}
    return state


def _load_pickle(path: Path, fix: str):
    try:
        return torch.load(str(path), map_location="cpu", weights_only=False)
    except Exception as exc:  # a pickle can fail in arbitrary ways (missing classes, ...)
        raise load_failed(path, "torch (full pickle)", exc, fix) from None


def _unwrap(obj) -> dict[str, torch.Tensor] | None:
    """The tensor mapping inside ``obj`` (a state_dict, or a dict wrapping one)."""
    if not isinstance(obj, Mapping):
        return None
    if obj and all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in obj.items()):
        return dict(obj)
    for key in _WRAPPER_KEYS:
        inner = obj.get(key)
        if isinstance(inner, nn.Module):
            inner = inner.state_dict()
        found = _unwrap(inner) if inner is not None else None
        if found is not None:
            return found
    return None


def apply_state_dict(model: nn.Module, state: dict[str, torch.Tensor], path: Path) -> None:
    """Load ``state`` into ``model``: every key must fit, except BatchNorm's ``num_batches_tracked``.

    Raises:
        ModelFileError: Missing or unexpected keys (the first few named) or a shape mismatch.
    """
    expected = model.state_dict()
    missing = [k for k in expected if k not in state and not k.endswith(_OPTIONAL_SUFFIX)]
    unexpected = [k for k in state if k not in expected]
    if missing or unexpected:
        parts = ([f"missing {len(missing)} key(s) {_first(missing)}"] if missing else []) + \
                ([f"unexpected {len(unexpected)} key(s) {_first(unexpected)}"] if unexpected else [])
        raise ModelFileError(f"teacher weights {path} do not fit {type(model).__name__}: {'; '.join(parts)}",
                             fix="use the factory (and factory_kwargs) that built the checkpoint's model")
    for key, value in state.items():
        if tuple(value.shape) != tuple(expected[key].shape):
            raise ModelFileError(f"teacher weights {path}: {key} has shape {list(value.shape)} but "
                                 f"{type(model).__name__} has {list(expected[key].shape)}",
                                 fix="match teacher.factory_kwargs (e.g. depth, width, num_classes) to the checkpoint")
    model.load_state_dict(state, strict=False)


def _first(keys: list, n: int = 3) -> str:
    shown = ", ".join(repr(k) for k in keys[:n])
    return f"({shown}{', ...' if len(keys) > n else ''})"
