"""Stage cache for ``edgekd build --resume``: reuse finished stages, rerun the rest.

After each stage the pipeline records, in ``.edgekd-work/stages/<stage>.json``, the
artifacts it returned (without their in-memory models), the build's ``extras`` and the
sha256 of every staged file they point at, under a *key*: a hash of the config the stage
reads, the upstream stage's key and the edgekd version (the first stage's key also covers
the data and the teacher's files). On ``--resume`` a stage whose key and files still
match is restored instead of run; torch models are rebuilt from the saved state dicts
(the scratch teacher and the students from the config, file teachers from the user's
file). The first stage whose key differs reruns, and so does every stage after it
(their keys chain). Training checkpoints belong to the stage that is running: they are
kept only when that stage's recorded key is unchanged, so training resumes from its last
epoch but never from a checkpoint of another config. Multi-process (torchrun) builds do
not use the stage cache (ranks must agree on every decision); their training still resumes
from the trainer's checkpoints.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path
from typing import Any

from . import __version__, atomic
from .artifact import Artifact

# Config sections each known stage reads. A stage not listed here (or a section no stage
# claims) is keyed by the whole config, so a new stage or section can never reuse stale output.
_READS: dict[str, tuple[str, ...]] = {
    "teacher": ("seed", "data", "teacher"),
    "distill": ("seed", "student", "distill"),
    "export": ("export",),
    "quantize": ("quantize",),
    "bench": ("bench",),
    "prune": ("seed", "prune", "distill"),
    "calibrate": ("calibration",),
}
_CLAIMED = {section for sections in _READS.values() for section in sections}


# Artifacts whose torch model is rebuilt from config + the state dict at their path.
_REBUILDABLE = {"teacher", "student", "baseline", "student-pruned"}


class _NotRestorable(Exception):
    """A recorded stage cannot be rebuilt in memory (it is rerun instead)."""


class StageCache:
    """Records finished stages and restores them on resume.

    Args:
        ctx: The build context (its ``work_dir`` holds the records).
    """

    def __init__(self, ctx) -> None:
        self.ctx = ctx
        self.dir = ctx.work_dir / "stages"
        self.key = ""  # key of the last stage run or restored (chains into the next one)
        self.valid = True  # false once a stage reran: everything after reruns too
        self._models: dict[str, Any] = {}
        # Under torchrun every rank runs the pipeline; ranks deciding (and deleting) on their own
        # could disagree or race, so multi-process builds keep only the trainer's own checkpoints.
        self.enabled = int(os.environ.get("WORLD_SIZE", "1") or 1) <= 1
        if self.enabled:
            _remove_temporaries(ctx.work_dir)

    # -- keys -------------------------------------------------------------------------------
    def stage_key(self, name: str) -> str:
        """Hash of what stage ``name`` reads, chained with the previous stage's key."""
        ctx = self.ctx
        config = ctx.config.model_dump(mode="json")
        reads = _READS.get(name)
        material: dict[str, Any] = {"stage": name, "edgekd_version": __version__, "upstream": self.key}
        if reads is None:
            material["config"] = config
            material["target"] = ctx.target.to_public_dict()
        else:
            material["config"] = {k: config.get(k) for k in reads}
            # Sections no known stage claims (added later by another room) key every stage.
            material["unclaimed"] = {k: v for k, v in config.items() if k not in _CLAIMED}
        if name == "teacher":
            material["data"] = data_digest(ctx.data)
            material["teacher_files"] = teacher_file_digests(ctx.config.teacher)
        elif name == "export":
            material["formats"] = ctx.formats()
        elif name == "quantize":
            material["runtime"] = ctx.target.runtime.name
        elif name == "bench":
            material["target"] = ctx.target.to_public_dict()
            material["threads"] = ctx.threads
        return hashlib.sha256(json.dumps(material, sort_keys=True, default=str).encode()).hexdigest()

    # -- restore / save -----------------------------------------------------------------------
    def begin(self, name: str) -> list[Artifact] | None:
        """Restore stage ``name`` if its record matches; else prepare to run it.

        Returns:
            The artifacts after the stage (restored), or ``None`` when the stage must run.
        """
        if not self.enabled:
            return None
        key = self.stage_key(name)
        record = self._read(name)
        if self.valid and record is not None and record.get("key") == key:
            try:
                artifacts = self._restore(record)
            except _NotRestorable:
                artifacts = None
            if artifacts is not None:
                self.key = key
                return artifacts
        # This stage runs: later records are stale, and so are checkpoints of another key.
        self.valid = False
        self._invalidate_from(name)
        if _read_json(self.dir / f"{name}.pending") != {"key": key}:
            shutil.rmtree(self.ctx.work_dir / "checkpoints", ignore_errors=True)
        atomic.write_json(self.dir / f"{name}.pending", {"key": key})
        self._pending_key = key
        return None

    def finish(self, name: str, artifacts: list[Artifact]) -> None:
        """Record stage ``name``'s output (skipped when it cannot be restored later)."""
        if not self.enabled:
            return
        self.key = self._pending_key
        restorable = True
        for art in artifacts:
            if art.model is None:
                continue
            owner = next(a for a in artifacts if a.model is art.model)
            # A model rebuilt on resume comes from its saved weights: only the models the
            # teacher and distill stages save qualify, and only while no stage swapped them.
            if owner.name not in _REBUILDABLE or self._models.setdefault(owner.name, art.model) is not art.model:
                restorable = False
                self._models[owner.name] = art.model
        if not restorable:
            (self.dir / f"{name}.json").unlink(missing_ok=True)
            return  # rerun on resume (it and every stage after it)
        try:
            record = {"key": self.key, "stage": name, "artifacts": [_to_record(a, artifacts) for a in artifacts],
                      "extras": self.ctx.extras,
                      "files": {a.path: atomic.sha256_of(self.ctx.resolve(a.path))
                                for a in artifacts if _staged(a)}}
            text = json.dumps(record, allow_nan=True)
        except (TypeError, ValueError, _NotRestorable):
            return  # not JSON-able or not rebuildable: this stage simply reruns on resume
        atomic.write_text(self.dir / f"{name}.json", text)

    # -- internals ----------------------------------------------------------------------------
    def _read(self, name: str) -> dict | None:
        record = _read_json(self.dir / f"{name}.json")
        return record if isinstance(record, dict) else None

    def _restore(self, record: dict) -> list[Artifact]:
        for rel, digest in record["files"].items():
            path = self.ctx.work_dir / rel
            if not path.exists() or atomic.sha256_of(path) != digest:
                raise _NotRestorable(rel)
        artifacts = [_from_record(r) for r in record["artifacts"]]
        by_name = {a.name: a for a in artifacts}
        out = []
        for art, rec in zip(artifacts, record["artifacts"]):
            owner = rec.get("model_of")
            if owner is not None:
                art = art.evolve(model=self._model(by_name[owner]))
            out.append(art)
        self.ctx.extras.clear()
        self.ctx.extras.update(record["extras"])
        return out

    def _model(self, art: Artifact):
        if art.name not in self._models:
            self._models[art.name] = rebuild_model(art, self.ctx)
        return self._models[art.name]

    def _invalidate_from(self, name: str) -> None:
        """Drop the records (and staged files) of ``name`` and every stage recorded after it."""
        from .pipeline import STAGES

        names = [n for n, _ in STAGES]
        cut = names.index(name) if name in names else len(names)
        # Files of the stages before this one stay (every record lists all files so far).
        keep = {rel for stage in names[:cut] for rel in (self._read(stage) or {}).get("files", {})}
        for stage in [*names[cut:], name]:
            record = self._read(stage)
            (self.dir / f"{stage}.json").unlink(missing_ok=True)
            if record is None:
                continue
            for rel in set(record.get("files", {})) - keep:
                path = self.ctx.work_dir / rel
                if path.is_dir():
                    shutil.rmtree(path, ignore_errors=True)
                else:
                    path.unlink(missing_ok=True)


def rebuild_model(art: Artifact, ctx):
    """Rebuild the in-memory torch model of a recorded artifact from its saved weights.

    Raises:
        _NotRestorable: the artifact is not one this module knows how to rebuild.
    """
    import torch

    cfg = ctx.config
    data = ctx.data
    if art.role == "teacher" and cfg.teacher.kind != "scratch-cnn":
        from .teachers.stage import _load_file_teacher

        return _load_file_teacher(cfg.teacher, data).model
    if art.name not in _REBUILDABLE:
        raise _NotRestorable(art.name)
    if art.name == "teacher" and art.path:
        from .teachers.scratch import ScratchCNN

        model = ScratchCNN(data.input_shape[0], data.num_classes, cfg.teacher.width)
    elif art.role in ("student", "baseline") and art.path and art.path.endswith(".pt"):
        from .students import build_student

        model = build_student(cfg.student.name, data.num_classes, data.input_shape, **cfg.student.options)
    else:
        raise _NotRestorable(art.name)
    try:
        state = torch.load(ctx.resolve(art.path), weights_only=True)
        if art.name == "student-pruned":
            from .prune.reshape import fit_to_state_dict

            fit_to_state_dict(model, state)  # channel counts come from the pruned weights
        model.load_state_dict(state)
    except Exception as exc:  # noqa: BLE001 - any mismatch means: rerun the stage
        raise _NotRestorable(f"{art.name}: {exc}") from None
    return model.eval()


def data_digest(data) -> str:
    """sha256 over every split's inputs and labels (and the class names)."""
    digest = hashlib.sha256(json.dumps([data.name, list(data.class_names), list(data.input_shape)]).encode())
    for split in (data.train, data.val, data.test, data.calibration):
        for tensor in (split.x, split.y):
            digest.update(str(tuple(tensor.shape)).encode())
            digest.update(tensor.contiguous().numpy().tobytes())
    return digest.hexdigest()


def teacher_file_digests(teacher_cfg) -> dict[str, str]:
    """sha256 of each user file a teacher section names (none for the scratch teacher)."""
    paths = []
    for attr in ("path", "weights"):
        value = getattr(teacher_cfg, attr, None)
        if value is not None:
            paths.append(Path(value))
    if getattr(teacher_cfg, "kind", None) == "torch":
        paths.append(teacher_cfg.factory_parts()[0])
    return {str(p): atomic.sha256_of(p) if p.exists() else "missing" for p in paths}


def _staged(art: Artifact) -> bool:
    return bool(art.path) and not Path(art.path).is_absolute()


def _to_record(art: Artifact, artifacts: list[Artifact]) -> dict[str, Any]:
    record = {"name": art.name, "role": art.role, "format": art.format, "precision": art.precision,
              "path": art.path, "input_shape": list(art.input_shape), "params": int(art.params),
              "macs": int(art.macs), "parent": art.parent, "metrics": art.metrics, "notes": list(art.notes),
              "model_of": None}
    if art.model is not None:
        # The first record holding this model owns it (the teacher, or the student its exports share).
        record["model_of"] = next(a.name for a in artifacts if a.model is art.model)
    return record


def _from_record(rec: dict[str, Any]) -> Artifact:
    return Artifact(name=rec["name"], role=rec["role"], format=rec["format"], precision=rec["precision"],
                    path=rec["path"], input_shape=tuple(rec["input_shape"]), params=rec["params"], macs=rec["macs"],
                    parent=rec["parent"], metrics=rec["metrics"], notes=tuple(rec["notes"]))


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _remove_temporaries(work_dir: Path) -> None:
    """Half-written files of a killed run (atomic temp names) must not be promoted later."""
    if not work_dir.exists():
        return
    for path in sorted(work_dir.rglob(f"*{atomic.TMP_MARK}*"), key=lambda p: len(p.parts)):
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
