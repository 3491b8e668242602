"""The build's KD objectives: Hinton, FitNets + Hinton, RKD + Hinton.

:func:`build_objective` turns ``distill.method`` into a trainer loss
``loss(logits, labels, idx, inputs)``. Intermediate tensors are read with forward hooks
(:class:`FeatureTap`), so students and teachers need no special ``forward``: FitNets taps
the student's ``feature_layers()`` and named teacher modules, RKD taps the input of each
network's last ``nn.Linear`` (the penultimate embedding).

The teacher runs once per sample, before training (the soft-label cache), when its
outputs cannot change between epochs: the standard recipe, no augmentation, no mixing and
only logits needed. Otherwise it runs at every step on the batch the student sees
(augmented and mixed): with ``recipe: function_matching`` always.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import ConfigError
from ..teachers.blackbox import BlackBoxTeacher, unwrap
from ..teachers.loaders import teacher_batches
from .losses import FitNetsHint, hinton_kd_loss, rkd_angle_loss, rkd_distance_loss
from .mixing import MixSpec
from .trainer import predict_logits

EMBEDDING = "__embedding__"  # tap key of the penultimate embedding


class FeatureTap:
    """Forward hooks that keep the latest output of named modules (and an embedding input).

    Args:
        modules: ``{key: module}`` whose forward outputs are kept under ``key``.
        embedding_of: A linear layer whose *input* is kept under :data:`EMBEDDING`.
    """

    def __init__(self, modules: dict[str, nn.Module], embedding_of: nn.Module | None = None):
        self.values: dict[str, torch.Tensor] = {}
        self._handles = [m.register_forward_hook(self._keep(k)) for k, m in modules.items()]
        if embedding_of is not None:
            self._handles.append(embedding_of.register_forward_pre_hook(
                lambda _m, args: self.values.__setitem__(EMBEDDING, args[0])))

    def _keep(self, key: str) -> Callable:
        def hook(_module, _inputs, output):
            self.values[key] = output
        return hook

    def remove(self) -> None:
        """Detach every hook (the models are left as they were)."""
        for handle in self._handles:
            handle.remove()
        self._handles.clear()
        self.values.clear()


@dataclass
class Objective:
    """A KD loss ready for :func:`edgekd.distill.trainer.fit`.

    Attributes:
        loss: ``loss(logits, labels, idx, inputs)``.
        extra: Trainable modules of the loss (FitNets adapters) or ``None``.
        cached: Whether the teacher's logits were computed once up front.
        description: One line for the report.
    """

    loss: Callable
    extra: nn.Module | None
    cached: bool
    description: str
    taps: list[FeatureTap] = field(default_factory=list)
    undo: list[Callable[[], object]] = field(default_factory=list)

    def close(self) -> None:
        """Remove the hooks from the student and teacher and restore the teacher's memory layout."""
        for tap in self.taps:
            tap.remove()
        for step in self.undo:
            step()


def last_linear(model: nn.Module) -> nn.Module | None:
    """The last ``nn.Linear`` registered in ``model`` (its classifier, for the usual networks)."""
    found = None
    for module in model.modules():
        if isinstance(module, nn.Linear):
            found = module
    return found


def is_white_box(teacher: nn.Module) -> bool:
    """True for a torch teacher (its modules can be hooked), false for a runtime-backed one."""
    return not isinstance(unwrap(teacher), BlackBoxTeacher)


def build_objective(teacher: nn.Module, student: nn.Module, train, cfg, input_shape, device: torch.device,
                    teacher_name: str = "teacher", teacher_input_shape=None) -> Objective:
    """The loss of ``cfg.method`` for training ``student`` from ``teacher``.

    Args:
        teacher: The loaded teacher (frozen; torch or black box).
        student: The student about to be trained (hooks are added to it).
        train: The training split (decides whether the soft-label cache applies).
        cfg: The ``distill`` config section.
        input_shape: One model input's shape (for probing feature map sizes).
        device: The training device; a torch teacher is moved there.
        teacher_name: For messages.
        teacher_input_shape: One teacher input's shape when it differs (``teacher.features``).

    Raises:
        ConfigError: FitNets or embedding RKD with a black-box teacher, unknown layer names,
            or hint lists of different lengths.
    """
    white = is_white_box(teacher)
    if white:
        teacher.to(device)
    method, t, a = cfg.method, cfg.temperature, cfg.alpha
    needs_features = method == "fitnets" or (method == "rkd" and cfg.rkd_on == "embedding")
    if needs_features and not white:
        what = "FitNets hints" if method == "fitnets" else "RKD on embeddings"
        raise ConfigError(f"distill.method={method} needs the teacher's internal layers for {what}, but "
                          f"{teacher_name} is a black box (its runtime exposes logits only)",
                          fix="use a torch teacher (kind: torch or torchscript), or distill.method=hinton"
                              + (", or distill.rkd_on=logits" if method == "rkd" else ""))
    hint: FitNetsHint | None = None
    pairs: list = []
    taps: list = []
    s_tap: FeatureTap | None = None
    t_tap: FeatureTap | None = None
    if method == "fitnets":
        shapes = (input_shape, teacher_input_shape or input_shape)  # (student's, teacher's) sample shapes
        pairs = _hint_pairs(teacher, student, cfg.hint_layers, shapes)
        student_layers = student.feature_layers()  # type: ignore[operator]  # registry students all define it
        s_tap = FeatureTap({f"s:{s}": student_layers[s] for s, _t in pairs})
        t_tap = FeatureTap({f"t:{tn}": _named(teacher)[tn] for _s, tn in pairs})
        hint = FitNetsHint(*_channels(teacher, student, pairs, shapes)).to(device)
    elif method == "rkd" and cfg.rkd_on == "embedding":
        s_tap, t_tap = FeatureTap({}, last_linear(student)), FeatureTap({}, last_linear(unwrap(teacher)))
        if last_linear(student) is None or last_linear(unwrap(teacher)) is None:
            raise ConfigError(f"distill.rkd_on=embedding needs an nn.Linear classifier in the student and "
                              f"{teacher_name}", fix="set distill.rkd_on=logits")
    taps = [tap for tap in (s_tap, t_tap) if tap is not None]
    # alpha 0 with Hinton KD is the hard-label loss: the soft term would be computed only to be
    # multiplied by 0, so the teacher is never run (kd_sweep's baseline point saves a teacher forward a step)
    hard_only = method == "hinton" and a == 0
    cached = None
    if cfg.recipe == "standard" and train.augment is None and not mixing_of(cfg, 2).active and not needs_features \
            and not hard_only:
        with teacher_batches(teacher_name, min(len(train.y), 256)):
            cached = predict_logits(teacher, train.for_teacher(), device=device if white else "cpu")

    # A torch teacher run at every step gets channels-last image batches, like the student: oneDNN's
    # convolutions are faster in that layout (resnet56 forward: about 25% on this CPU). Undone on close.
    fast_layout = cached is None and white and len(input_shape) == 3 and not hard_only
    if fast_layout:
        teacher.to(memory_format=torch.channels_last)  # type: ignore[call-overload]  # stubs omit memory_format

    def teacher_logits(idx: torch.Tensor, inputs: torch.Tensor) -> torch.Tensor:
        if cached is not None:
            return cached[idx].to(inputs.device)
        t_inputs = train.teacher_batch(idx, inputs)  # inputs, or the teacher's own features of the same clips
        # not inference_mode: tapped features take part in the loss's graph
        with teacher_batches(teacher_name, len(t_inputs)), torch.no_grad():
            if fast_layout:
                return teacher(t_inputs.contiguous(memory_format=torch.channels_last))
            return teacher(t_inputs if white else t_inputs.cpu()).to(inputs.device)

    def loss(logits, labels, idx, inputs):
        if hard_only:
            return F.cross_entropy(logits, labels)
        t_logits = teacher_logits(idx, inputs)
        total = hinton_kd_loss(logits, t_logits, labels, t, a)
        if method == "fitnets":
            assert hint is not None and s_tap is not None and t_tap is not None  # set up above for fitnets
            total = total + cfg.hint_weight * hint([s_tap.values[f"s:{s}"] for s, _t in pairs],
                                                   [t_tap.values[f"t:{tn}"] for _s, tn in pairs])
        elif method == "rkd" and len(logits) >= 2:  # relations need two samples (a last batch may have one)
            s_emb = s_tap.values[EMBEDDING] if s_tap else logits
            t_emb = t_tap.values[EMBEDDING] if t_tap else t_logits
            total = total + cfg.rkd_distance_weight * rkd_distance_loss(s_emb, t_emb) \
                + cfg.rkd_angle_weight * rkd_angle_loss(s_emb, t_emb)
        return total

    undo = [lambda: teacher.to(memory_format=torch.contiguous_format)] if fast_layout else []  # type: ignore[call-overload]
    return Objective(loss=loss, extra=hint, cached=cached is not None,
                     description=_describe(cfg, pairs, cached is not None), taps=taps, undo=undo)


def mixing_of(cfg, num_classes: int) -> MixSpec:
    """The batch mixing the ``distill`` section asks for (inactive when mixup and cutmix are 0)."""
    return MixSpec(num_classes=num_classes, mixup=cfg.mixup, cutmix=cfg.cutmix)


def _describe(cfg, pairs, cached: bool) -> str:
    text = f"Hinton KD T={cfg.temperature}, alpha={cfg.alpha}"
    if cfg.recipe == "function_matching":
        text = "function matching (teacher on the student's mixed view), " + text
    mixes = [f"mixup {cfg.mixup}" if cfg.mixup else "", f"cutmix {cfg.cutmix}" if cfg.cutmix else ""]
    if any(mixes):
        text += ", " + " + ".join(m for m in mixes if m)
    if cfg.ema:
        text += f", EMA {cfg.ema}"
    if cfg.method == "fitnets":
        text += f" + FitNets hints x{cfg.hint_weight} ({', '.join(f'{s}<-{t}' for s, t in pairs)})"
    elif cfg.method == "rkd":
        text += (f" + RKD on {cfg.rkd_on} (distance x{cfg.rkd_distance_weight}, angle x{cfg.rkd_angle_weight})")
    if cfg.method == "hinton" and cfg.alpha == 0:
        return text + "; hard labels only, the teacher is not run"
    return text + ("; teacher logits cached once (no augmentation)" if cached else "; teacher run every step")


def _named(teacher: nn.Module) -> dict[str, nn.Module]:
    return dict(unwrap(teacher).named_modules())


def _hint_pairs(teacher, student, hints, shapes) -> list[tuple[str, str]]:
    """(student layer, teacher layer) pairs; student layers default to the closest spatial size."""
    if not hints.teacher:
        raise ConfigError("distill.method=fitnets needs distill.hint_layers.teacher (the teacher's module names)",
                          fix="e.g. --set 'distill.hint_layers.teacher=[layer2,layer3]'")
    named = _named(teacher)
    unknown = [n for n in hints.teacher if n not in named or not n]
    if unknown:
        close = [n for n in named if n and "." not in n][:12]
        raise ConfigError(f"distill.hint_layers.teacher: no module named {unknown[0]!r} in the teacher",
                          fix=f"use names from the teacher's named_modules(), e.g. {', '.join(close)}")
    if not hasattr(student, "feature_layers"):
        raise ConfigError("distill.method=fitnets needs a student with feature_layers()",
                          fix="pick a registered student (edgekd students list)")
    layers = student.feature_layers()
    if hints.student is not None:
        bad = [n for n in hints.student if n not in layers]
        if bad:
            raise ConfigError(f"distill.hint_layers.student: {bad[0]!r} is not a feature layer of the student",
                              fix=f"use one of {', '.join(layers)}")
        if len(hints.student) != len(hints.teacher):
            raise ConfigError(f"distill.hint_layers has {len(hints.student)} student and {len(hints.teacher)} "
                              "teacher layers", fix="give one student layer per teacher layer (or omit student)")
        return list(zip(hints.student, hints.teacher))
    s_shapes, t_shapes = _probe(teacher, student, layers, {n: named[n] for n in hints.teacher}, shapes)
    pairs = []
    for tn in hints.teacher:
        side = t_shapes[tn][-1]
        # Closest width; on a tie the deeper student layer (later in feature_layers order).
        best = min(reversed(list(layers)), key=lambda s: abs(s_shapes[s][-1] - side))
        pairs.append((best, tn))
    return pairs


def _probe(teacher, student, s_modules, t_modules, shapes):
    s_tap, t_tap = FeatureTap(dict(s_modules)), FeatureTap(dict(t_modules))
    device = next(student.parameters()).device
    s_shape, t_shape = shapes  # the student's and the teacher's sample shapes
    x, t_x = torch.zeros(2, *s_shape), torch.zeros(2, *t_shape)
    was = student.training
    try:
        student.eval()
        with torch.no_grad():
            student(x.to(device))
            teacher(t_x.to(next(iter(teacher.parameters()), t_x).device))
        return ({k: tuple(v.shape[1:]) for k, v in s_tap.values.items()},
                {k: tuple(v.shape[1:]) for k, v in t_tap.values.items()})
    finally:
        student.train(was)
        s_tap.remove()
        t_tap.remove()


def _channels(teacher, student, pairs, shapes):
    s_shapes, t_shapes = _probe(teacher, student, {s: student.feature_layers()[s] for s, _t in pairs},
                                {tn: _named(teacher)[tn] for _s, tn in pairs}, shapes)
    bad = [n for n, shp in {**s_shapes, **t_shapes}.items() if len(shp) != 3]
    if bad:
        raise ConfigError(f"distill.hint_layers: layer {bad[0]!r} does not output a (C, H, W) feature map",
                          fix="hint convolutional stages (e.g. layer2, layer3 of a ResNet)")
    return [s_shapes[s][0] for s, _t in pairs], [t_shapes[tn][0] for _s, tn in pairs]
