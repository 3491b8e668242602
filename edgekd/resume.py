"""Stage cache for ``edgekd build --resume``: hash what each stage reads, store and restore its state.

After a stage runs, :class:`StageCache` records in ``.edgekd-work/stages/<stage>.json`` the
build state it returned (artifacts without their in-memory models, every other field), the
sha256 of each staged file the artifacts point at, and a *key*: the hash of the values of
everything the stage declares it reads (:class:`edgekd.stage.Stage` ``reads``), the key of the
stage before it and the edgekd version. On ``--resume`` a stage whose key and files still
match is restored instead of run; its models are rebuilt by the stage that created them
(``Stage.rebuild``). The first stage whose key differs reruns, and so does every stage after
it (keys chain). Training checkpoints belong to the stage that is running: they are kept only
when that stage's recorded key is unchanged, so training resumes from its last epoch but
never from a checkpoint of another config. Multi-process (torchrun) builds do not use the
stage cache (ranks must agree on every decision); their training still resumes from the
trainer's checkpoints.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from pathlib import Path
from typing import Any, Callable

from . import __version__, atomic
from .artifact import Artifact
from .stage import BuildContext, Stage
from .state import BuildState


class NotRestorable(Exception):
    """A recorded stage cannot be rebuilt in memory (it is rerun instead)."""


def read_value(path: str, ctx: BuildContext) -> Any:
    """The value behind one declared read path (see :mod:`edgekd.stage`)."""
    root, _, rest = path.partition(".")
    if root == "inputs":
        return _INPUTS[rest](ctx)
    if root == "config":
        node: Any = ctx.config.model_dump(mode="json")
    elif root == "target":
        node = ctx.target.model_dump(mode="json")
    else:
        raise ValueError(f"read path {path!r} must start with config., target. or inputs.")
    for part in rest.split(".") if rest else ():
        if not isinstance(node, dict) or part not in node:
            raise ValueError(f"read path {path!r}: no key {part!r}")
        node = node[part]
    return node


def stage_key(stage: Stage, ctx: BuildContext, upstream: str) -> str:
    """Hash of the values ``stage`` declares it reads, chained with the upstream stage's key."""
    material = {"stage": stage.name, "edgekd_version": __version__, "upstream": upstream,
                "reads": {path: read_value(path, ctx) for path in sorted(stage.reads)}}
    return hashlib.sha256(json.dumps(material, sort_keys=True, default=str).encode()).hexdigest()


class StageCache:
    """Records finished stages and restores them on resume.

    Args:
        ctx: The build context (its ``work_dir`` holds the records).
        stages: Every stage of the pipeline, in order (restore asks them to rebuild models).
    """

    def __init__(self, ctx: BuildContext, stages: tuple[Stage, ...]) -> None:
        self.ctx = ctx
        self.stages = {s.name: s for s in stages}
        self.order = [s.name for s in stages]
        self.dir = ctx.work_dir / "stages"
        self.key = ""  # key of the last stage run or restored (chains into the next one)
        self.valid = True  # false once a stage reran: everything after reruns too
        self._built_by: dict[int, str] = {}  # id(model) -> the stage that created it
        self.carried_s = 0.0  # seconds earlier (killed) runs spent on the stage begin() let run
        # Under torchrun every rank runs the pipeline; ranks deciding (and deleting) on their own
        # could disagree or race, so multi-process builds keep only the trainer's own checkpoints.
        self.enabled = int(os.environ.get("WORLD_SIZE", "1") or 1) <= 1
        if self.enabled:
            _remove_temporaries(ctx.work_dir)

    def begin(self, stage: Stage) -> BuildState | None:
        """Restore ``stage`` if its record matches; else prepare to run it.

        Returns:
            The state after the stage (restored), or ``None`` when the stage must run.
        """
        key = stage_key(stage, self.ctx, self.key)
        self._pending_key = key
        if not self.enabled or not stage.cached:
            self.key = key
            return None
        record = _read_json(self.dir / f"{stage.name}.json")
        if self.valid and isinstance(record, dict) and record.get("key") == key:
            try:
                state = self._restore(record)
            except NotRestorable:
                state = None
            if state is not None:
                self.key = key
                return state
        # This stage runs: later records are stale, and so are checkpoints of another key.
        self.valid = False
        self._invalidate_from(stage.name)
        pending = _read_json(self.dir / f"{stage.name}.pending")
        self.carried_s = 0.0
        if not isinstance(pending, dict) or pending.get("key") != key:
            shutil.rmtree(self.ctx.work_dir / "checkpoints", ignore_errors=True)
        else:
            self.carried_s = self._checkpointed_seconds(pending)
        atomic.write_json(self.dir / f"{stage.name}.pending",
                          {"key": key, "started_unix": time.time(), "carried_s": self.carried_s})
        return None

    def finish(self, stage: Stage, state: BuildState) -> None:
        """Record ``stage``'s output (skipped when it could not be restored later)."""
        self.key = self._pending_key
        for art in state.artifacts:
            if art.model is not None:
                self._built_by.setdefault(id(art.model), stage.name)
        if not self.enabled or not stage.cached:
            return
        try:
            record = {"key": self.key, "stage": stage.name, "state": state.fields_record(),
                      "artifacts": [self._to_record(a, state.artifacts) for a in state.artifacts],
                      "files": {a.path: atomic.sha256_of(self.ctx.resolve(a.path))
                                for a in state.artifacts if _staged(a)}}
            text = json.dumps(record, allow_nan=True)
        except (TypeError, ValueError, NotRestorable):
            (self.dir / f"{stage.name}.json").unlink(missing_ok=True)
            return  # not JSON-able or not rebuildable: this stage simply reruns on resume
        atomic.write_text(self.dir / f"{stage.name}.json", text)

    # -- internals ----------------------------------------------------------------------------
    def _checkpointed_seconds(self, pending: dict) -> float:
        """Seconds earlier runs of this stage spent on work this run reuses (its checkpoints).

        A killed run's time counts up to its newest checkpoint (the work after it is redone);
        ``carried_s`` holds what the runs before that one contributed.
        """
        started = pending.get("started_unix")
        carried = float(pending.get("carried_s") or 0.0)
        folder = self.ctx.work_dir / "checkpoints"
        if not isinstance(started, (int, float)) or not folder.is_dir():
            return carried
        newest = max((p.stat().st_mtime for p in folder.rglob("*") if p.is_file()), default=0.0)
        return carried + max(0.0, newest - started)

    def _to_record(self, art: Artifact, artifacts: tuple[Artifact, ...]) -> dict[str, Any]:
        record = art_record(art)
        if art.model is not None:
            # The first artifact holding a model owns it (the teacher, or the student its exports share).
            owner = next(a for a in artifacts if a.model is art.model)
            record["model_of"] = owner.name
            if owner is art:
                maker = self._built_by.get(id(art.model))
                if maker is None or self.stages[maker].rebuild is None:
                    raise NotRestorable(art.name)
                record["built_by"] = maker
        return record

    def _restore(self, record: dict) -> BuildState:
        for rel, digest in record["files"].items():
            path = self.ctx.work_dir / rel
            if not path.exists() or atomic.sha256_of(path) != digest:
                raise NotRestorable(rel)
        recs = record["artifacts"]
        plain = {r["name"]: art_from_record(r) for r in recs}
        models: dict[str, Any] = {}
        for rec in recs:
            if rec.get("built_by"):
                rebuild = self._rebuilder(rec["built_by"])
                try:
                    model = rebuild(plain[rec["name"]], self.ctx)
                except Exception as exc:  # noqa: BLE001 - any mismatch means: rerun the stage
                    raise NotRestorable(f"{rec['name']}: {exc}") from None
                models[rec["name"]] = model
                self._built_by[id(model)] = rec["built_by"]
        artifacts = [plain[r["name"]].evolve(model=models[r["model_of"]]) if r.get("model_of") else plain[r["name"]]
                     for r in recs]
        return BuildState.from_fields(record["state"], artifacts)

    def _rebuilder(self, name: str) -> Callable[[Artifact, BuildContext], Any]:
        stage = self.stages.get(name)
        if stage is None or stage.rebuild is None:
            raise NotRestorable(name)
        return stage.rebuild

    def _invalidate_from(self, name: str) -> None:
        """Drop the records (and staged files) of ``name`` and every stage after it."""
        cut = self.order.index(name) if name in self.order else len(self.order)
        # Files of the stages before this one stay (every record lists all files so far).
        keep = {rel for stage in self.order[:cut]
                for rel in (_read_json(self.dir / f"{stage}.json") or {}).get("files", {})}
        for stage in self.order[cut:]:
            record = _read_json(self.dir / f"{stage}.json")
            (self.dir / f"{stage}.json").unlink(missing_ok=True)
            if not isinstance(record, dict):
                continue
            for rel in set(record.get("files", {})) - keep:
                path = self.ctx.work_dir / rel
                if path.is_dir():
                    shutil.rmtree(path, ignore_errors=True)
                else:
                    path.unlink(missing_ok=True)


def art_record(art: Artifact) -> dict[str, Any]:
    """An artifact as JSON (everything but its in-memory model)."""
    return {"name": art.name, "role": art.role, "format": art.format, "precision": art.precision,
            "path": art.path, "input_shape": list(art.input_shape), "params": art.params,
            "macs": art.macs, "parent": art.parent, "metrics": art.metrics, "notes": list(art.notes)}


def art_from_record(rec: dict[str, Any]) -> Artifact:
    """Inverse of :func:`art_record` (without the model)."""
    return Artifact(name=rec["name"], role=rec["role"], format=rec["format"], precision=rec["precision"],
                    path=rec["path"], input_shape=tuple(rec["input_shape"]), params=rec["params"], macs=rec["macs"],
                    parent=rec["parent"], metrics=rec["metrics"], notes=tuple(rec["notes"]))


def data_digest(data) -> str:
    """sha256 over every split's inputs and labels (and the class names)."""
    digest = hashlib.sha256(json.dumps([data.name, list(data.class_names), list(data.input_shape)]).encode())
    for split in (data.train, data.val, data.test, data.representative):
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
    return {str(p): atomic.sha256_of(p) if p.is_file() else "missing" for p in paths}


def _targets_digest(_ctx: BuildContext) -> dict[str, Any]:
    from .targets import list_targets

    return {p.name: p.model_dump(mode="json") for p in list_targets()}


_INPUTS: dict[str, Callable[[BuildContext], Any]] = {
    "data": lambda ctx: data_digest(ctx.data),
    "teacher_files": lambda ctx: teacher_file_digests(ctx.config.teacher),
    "threads": lambda ctx: ctx.threads,
    "targets": _targets_digest,
}


def _staged(art: Artifact) -> bool:
    return art.path is not None and art.path != "" and not Path(art.path).is_absolute()


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
