"""Load the user's teacher, whatever its kind, and check it fits the data before any training.

Every loaded teacher is a callable ``nn.Module``: ``teacher(x_nchw) -> logits [N, K]``, in
eval mode, without gradients. Torch kinds are the user's own module; ONNX, TFLite and Keras
teachers are :class:`~edgekd.teachers.blackbox.BlackBoxTeacher` wrappers around their runtime.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from ..errors import ConfigError, EdgekdError, ModelFileError
from .blackbox import BlackBoxTeacher, ChannelsLastInput, LogProbabilities, shape_text, unwrap
from .schema import FileTeacher


def load_teacher(cfg: FileTeacher, input_shape: Sequence[int], num_classes: int,
                 val: Any = None, class_names: Sequence[str] | None = None,
                 task: str = "image") -> tuple[nn.Module, str]:
    """Load a teacher from the user's file and check it against the data.

    Args:
        cfg: A teacher section of a file kind (``torch``, ``torchscript``, ``onnx``, ``tflite``, ``keras``).
        input_shape: The per-sample shape the build feeds the teacher ``(C, H, W)``: the data's,
            the teacher's own front end's (``teacher.features``) or its own pixels' (``teacher.input``).
        num_classes: The data's number of classes.
        val: The val split (:class:`edgekd.data.bundle.Split`): decides ``teacher.outputs: auto``
            from real outputs and runs the sanity check (``teacher.min_val_top1``); ``None``
            (unit use) decides from two probe samples and skips the check.
        class_names: The data's classes (for the sanity check's message).
        task: ``image`` or ``audio`` (for the sanity check's message).

    Returns:
        ``(model, description)``: a frozen callable returning logits for the batches the build
        feeds it, and one line for the report. A teacher whose outputs are probabilities is
        wrapped so it returns their logarithm (valid logits for KD, ECE and agreement).

    Raises:
        ModelFileError: The file cannot be loaded, the teacher does not fit the data (input
            shape/layout or class count), or it scores near chance on val
            (:class:`~edgekd.teachers.sanity.TeacherAtChanceError`).
        ConfigError: Contradictory preprocessing keys (``teacher.input.layout`` vs ``input_layout``).
    """
    from .adapters import PixelInput, resolved_layout
    from .outputs import decide_outputs

    layout = resolved_layout(cfg)
    model, description = _load(cfg)
    if isinstance(model, BlackBoxTeacher):
        model.set_layout(layout, input_shape)
        if model.layout == "nhwc":
            description += ", fed NHWC"
    elif layout == "nhwc":
        model = ChannelsLastInput(model)
        description += ", fed NHWC"
    if cfg.input is not None:
        model = PixelInput(model, cfg.input, int(input_shape[0]))
        description += f"; {model.describe()}"
    name = _name(cfg)
    probe_outputs = check_teacher(model, input_shape, num_classes, name=name)
    outputs = probe_outputs if val is None else _raw_outputs(model, val.for_teacher(), name)
    kind, why = decide_outputs(cfg.outputs, unwrap(model), outputs, num_classes, name)
    if kind == "probabilities":
        model = LogProbabilities(model)
        description += f"; it outputs probabilities ({why}), so log-probabilities are used as its logits"
    if val is not None and cfg.min_val_top1 != 0:
        from .sanity import check_val_top1

        logits = np.log(np.clip(outputs, 1e-12, None)) if kind == "probabilities" else outputs
        names = [str(c) for c in class_names] if class_names else [str(i) for i in range(num_classes)]
        top1, limit = check_val_top1(logits, val.y.numpy(), names,
                                     cfg.min_val_top1, name, task=task, uses_input=cfg.input is not None)
        description += f"; val top-1 {100 * top1:.2f}% (sanity check: at least {100 * limit:.1f}%)"
    if cfg.preprocess:
        description += f"; expects input: {cfg.preprocess}"
    return model, description


@torch.no_grad()
def _raw_outputs(model: nn.Module, x: torch.Tensor, name: str) -> np.ndarray:
    from ..distill.trainer import predict_logits

    with teacher_batches(name, min(len(x), 256)):
        return predict_logits(model, x).double().numpy()


@contextlib.contextmanager
def teacher_batches(name: str, batch: int) -> Iterator[None]:
    """Run a loaded, probed teacher on the build's batches: a failure there is bad input naming the batch size.

    The 2-sample probe passed, so an error on a larger batch is the model's (a batch size fixed in
    its forward or graph), not edgekd's; edgekd's own errors pass through unchanged.
    """
    try:
        yield
    except EdgekdError:
        raise
    except Exception as exc:  # noqa: BLE001 - the user's model: any exception is a bad-input problem
        reason = " ".join(str(exc).split())[:160]
        raise ModelFileError(f"teacher {name} runs on a batch of 2 samples but fails on a batch of {batch}: "
                             f"{exc.__class__.__name__}: {reason}",
                             fix="make the teacher accept any batch size (no batch size fixed in its forward or "
                                 "graph); a graph fixed at batch 1 is fine") from None


def _load(cfg: FileTeacher) -> tuple[nn.Module, str]:
    if cfg.kind in ("torchscript", "keras") and not cfg.trust_code:
        runs = "TorchScript program" if cfg.kind == "torchscript" else "Keras/TensorFlow model (its layers' code)"
        raise ConfigError(f"teacher {cfg.path} ({cfg.kind}) runs the {runs} stored in the file, so it loads only "
                          "with teacher.trust_code: true",
                          fix=f"set teacher.trust_code: true if you trust where {cfg.path.name} comes from, or "
                              "export it to ONNX or TFLite (kind onnx/tflite runs no code from the file)")
    # Each kind's module is imported only when used (the Keras one pulls in TensorFlow on load).
    if cfg.kind == "torch":
        from .torch_file import load_torch_teacher
        return load_torch_teacher(cfg)
    if cfg.kind == "torchscript":
        from .torch_file import load_torchscript_teacher
        return load_torchscript_teacher(cfg)
    if cfg.kind == "onnx":
        from .onnx_teacher import load_onnx_teacher
        return load_onnx_teacher(cfg)
    if cfg.kind == "tflite":
        from .tflite_teacher import load_tflite_teacher
        return load_tflite_teacher(cfg)
    if cfg.kind == "keras":
        from .keras_teacher import load_keras_teacher
        return load_keras_teacher(cfg)
    raise AssertionError(f"no loader for teacher kind {cfg.kind!r}")  # the schema admits no other kind


def _name(cfg: FileTeacher) -> str:
    if cfg.kind == "torch":
        return cfg.weights.name if cfg.weights is not None else cfg.factory
    return cfg.path.name


def check_teacher(model: nn.Module, input_shape: Sequence[int], num_classes: int, *,
                  name: str | None = None) -> np.ndarray:
    """Run the teacher on probe samples of the data's shape; fail early and clearly if it does not fit.

    Args:
        model: A loaded teacher (torch module or black box).
        input_shape: The data's sample shape ``(C, H, W)``.
        num_classes: The data's number of classes.
        name: The teacher's file name, for messages.

    Returns:
        The raw outputs on the two probes (float64 ``[2, num_classes]``).

    Raises:
        ModelFileError: The input shape/layout does not match the data, the forward pass
            fails, the output is not ``[N, num_classes]``, or the outputs are not finite.
    """
    inner = unwrap(model)
    kind = inner.kind if isinstance(inner, BlackBoxTeacher) else "torch"
    name = name or (inner.path.name if isinstance(inner, BlackBoxTeacher) else type(inner).__name__)
    data = f"[1,{','.join(str(d) for d in input_shape)}]"
    fix_input = ("make the data match the teacher (data section: channels, resolution), or give the teacher its own "
                 "input (teacher.input: size, layout nchw/nhwc)")
    if isinstance(inner, BlackBoxTeacher):
        why = inner.input_mismatch(input_shape)
        if why:
            raise ModelFileError(why, fix=fix_input)
    # Two probes: zeros and a fixed random sample (deterministic, independent of the global RNG).
    probe = torch.stack([torch.zeros(*input_shape),
                         torch.randn(*input_shape, generator=torch.Generator().manual_seed(0))])
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            out = model(probe)
    except Exception as exc:  # the user's forward (shape errors surface as RuntimeError/ValueError)
        reason = " ".join(str(exc).split())[:160]
        raise ModelFileError(f"teacher {name} ({kind}){_torch_expects(inner)} fails on the data's input {data} (NCHW): "
                             f"{exc.__class__.__name__}: {reason}", fix=fix_input) from None
    finally:
        model.train(was_training)
    if not isinstance(out, torch.Tensor):
        raise ModelFileError(f"teacher {name} ({kind}) returns {type(out).__name__}, not a logits tensor",
                             fix="make forward() return the [N, classes] logits tensor only")
    if out.dim() != 2 or out.shape[0] != len(probe) or out.shape[1] != num_classes:
        got = shape_text([1, *out.shape[1:]]) if out.dim() >= 1 else "a scalar"
        raise ModelFileError(f"teacher {name} ({kind}) outputs {got} but the data has {num_classes} classes "
                             f"(expected [1,{num_classes}])",
                             fix="use a teacher trained on the data's classes (for kind torch, check factory_kwargs, "
                                 "e.g. num_classes)")
    if not torch.isfinite(out).all():
        raise ModelFileError(f"teacher {name} ({kind}) outputs NaN/inf on the data's input {data}",
                             fix="check the weights (a broken checkpoint) and the teacher's input normalisation")
    return out.double().numpy()


def _torch_expects(model: nn.Module) -> str:
    """' expects 3 input channels (conv1)' from a torch model's first conv/linear layer, else ''."""
    for mod_name, mod in model.named_modules():
        if isinstance(mod, (nn.Conv1d, nn.Conv2d, nn.Conv3d)):
            return f" expects {mod.in_channels} input channels (first conv: {mod_name or 'the model'}) but"
        if isinstance(mod, nn.Linear):
            return f" expects {mod.in_features} input features (first linear: {mod_name or 'the model'}) but"
    return ""


def teacher_size(model: nn.Module, input_shape: Sequence[int]) -> tuple[int, int | None, str | None]:
    """Parameters and per-sample MACs of a loaded teacher, and a note when MACs are unknown.

    Torch modules are counted with ``edgekd.students.count_params_macs`` (TorchScript, whose
    layers cannot be hooked, by the ops it runs: :func:`edgekd.teachers.torch_macs.count_traced_macs`);
    ONNX, TFLite and Keras teachers from their graph (``edgekd.predict.model_facts``). MACs are
    ``None`` (report.json: null, "unknown") only when the graph has ops whose cost it cannot give,
    never 0.
    """
    inner = unwrap(model)
    if isinstance(inner, BlackBoxTeacher):
        params, macs = inner.size(input_shape)
        if macs is None:
            return params, None, (f"the {inner.kind} teacher's MACs are unknown (its graph has ops whose cost it "
                                  "cannot give: custom ops, control flow, recurrent or attention layers); "
                                  "report.json has null")
        return params, macs, None
    from ..students import count_params_macs

    if isinstance(inner, torch.jit.ScriptModule):
        from .torch_macs import count_traced_macs

        params = sum(p.numel() for p in inner.parameters())
        macs = count_traced_macs(model, input_shape)
        if macs is None:
            return params, None, "the TorchScript teacher's MACs are unknown (its forward could not be counted)"
        return params, macs, None
    # The wrappers (input adapters, log-probabilities) hold no layers: counting through them is the model's count.
    params, macs = count_params_macs(model, input_shape)
    return params, macs, None
