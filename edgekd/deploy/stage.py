"""Deploy stage: a bundle for the chosen model and the target's runtime, in ``DIR/deploy/``.

Every bundle holds the model file, ``labels.txt`` and ``model.json`` (tensors, preprocessing,
measured and predicted figures; see :mod:`edgekd.deploy.describe`). Then, by runtime family:

* ``tflite-micro`` (MCU profiles): ``model_data.h/.cc`` (the flatbuffer as an aligned C array,
  the measured arena as a ``#define``), ``model_ops.h`` (the op resolver with exactly the
  model's ops) and a minimal ``main.cc`` (:mod:`edgekd.deploy.tflm`);
* ``litert`` / ``onnxruntime`` (phones, SBCs): ``run.py``, a standalone runner that applies the
  recorded preprocessing and prints the top classes of an image, WAV or ``.npy`` input;
* ``coreml`` (Apple): ``model.mlpackage`` made a classifier with its labels and input described.

Audio models carry their feature front end (:mod:`edgekd.deploy.audio`): inside the ONNX graph,
else as parameters, ``frontend.npz`` and the reference ``frontend.py``. Files are staged in the
work folder; ``api.build`` promotes ``deploy/`` with the artifacts and lists it in the manifest.
"""

from __future__ import annotations

import shutil
from importlib import resources
from pathlib import Path
from typing import Any

from .. import atomic
from ..artifact import Artifact, accuracy_source
from ..stage import BuildContext, Stage
from ..state import BuildState
from . import describe

FOLDER = "deploy"
_MODEL_FILE = {"onnx": "model.onnx", "tflite": "model.tflite", "coreml": "model.mlpackage"}


def runtime_family(art: Artifact, target: Any) -> str:
    """``tflite-micro``, ``litert``, ``onnxruntime`` or ``coreml``: what the bundle is written for."""
    if art.format == "tflite":
        return "tflite-micro" if target.runtime.name == "tflite-micro" else "litert"
    return "onnxruntime" if art.format == "onnx" else "coreml"


def run(state: BuildState, ctx: BuildContext) -> BuildState:
    """Write the bundle of the chosen artifact; the state records what it holds."""
    chosen = state.artifact(state.chosen) if state.chosen else None
    if chosen is None or chosen.format == "torch" or not chosen.path:
        ctx.reporter.note("deploy: no exported model was chosen, so no deploy bundle was written")
        return state.evolve(deploy=None)
    folder = ctx.work_dir / FOLDER
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    family = runtime_family(chosen, ctx.target)
    ctx.reporter.stage("deploy", f"{chosen.name} for {family}")
    labels = [str(name) for name in ctx.data.class_names]
    source = ctx.resolve(chosen.path)
    frontend = _audio_frontend(chosen, source, folder, ctx)
    model_file = folder / _MODEL_FILE[chosen.format]
    if frontend is None or not frontend["in_graph"]:
        _copy_model(chosen, source, model_file, labels, ctx)
    inputs, outputs = _tensors(chosen.format, model_file, tuple(ctx.data.input_shape))
    spec = {
        "schema": describe.SCHEMA,
        "model": {"file": model_file.name, "format": chosen.format, "precision": chosen.precision,
                  "artifact": chosen.name, "artifact_sha256": atomic.sha256_of(source) if source.is_file() else None},
        "target": {"name": ctx.target.name, "kind": ctx.target.kind, "runtime": ctx.target.runtime.name,
                   "family": family},
        "labels": labels, "inputs": inputs, "outputs": outputs,
        "preprocessing": describe.preprocessing(ctx.config.data, ctx.data, frontend),
        "figures": describe.figures(chosen, accuracy_source(chosen, state.artifacts), list(state.budgets),
                                    ctx.target),
    }
    atomic.write_text(folder / "labels.txt", "".join(f"{label}\n" for label in labels))
    if family == "tflite-micro":
        _write_tflm(chosen, model_file, labels, inputs[0], folder)
    elif family in ("litert", "onnxruntime"):
        atomic.write_text(folder / "run.py", _template("run.py"))
    atomic.write_json(folder / "model.json", describe.jsonable(spec))
    return state.evolve(deploy={"folder": FOLDER, "family": family, "artifact": chosen.name,
                                "frontend_in_graph": None if frontend is None else frontend["in_graph"],
                                "files": sorted(p.name for p in folder.iterdir())})


def _audio_frontend(chosen: Artifact, source: Path, folder: Path, ctx: BuildContext) -> dict | None:
    """Ship an audio model's front end: in the ONNX graph, else beside the model (parameters + reference)."""
    from .audio import frontend_params, onnx_with_frontend, write_frontend_arrays

    if ctx.data.task != "audio" or ctx.data.frontend is None:
        return None
    params, arrays = frontend_params(ctx.data.frontend)
    if chosen.format == "onnx":
        audio_cfg: Any = ctx.config.data  # an audio_folder section (the data room made an audio front end)
        clip = int(round(audio_cfg.clip_seconds * audio_cfg.sample_rate))
        onnx_with_frontend(source, ctx.data.frontend, clip, folder / _MODEL_FILE["onnx"], ctx.config.export.opset)
        return {"in_graph": True, "params": params}
    write_frontend_arrays(folder / "frontend.npz", arrays)
    atomic.write_text(folder / "frontend.py", _template("frontend.py"))
    return {"in_graph": False, "params": params}


def _copy_model(chosen: Artifact, source: Path, dest: Path, labels: list[str], ctx: BuildContext) -> None:
    if chosen.format == "coreml":
        from .coreml import classifier_package

        shape = "x".join(str(d) for d in (1, *chosen.input_shape))
        classifier_package(source, dest, labels,
                           input_description=f"float32 {shape} NCHW, preprocessed as model.json says",
                           short_description=f"edgekd {chosen.name} for {ctx.target.name}",
                           metadata={"edgekd.artifact": chosen.name, "edgekd.labels": "\n".join(labels)})
    else:
        atomic.write_bytes(dest, source.read_bytes())


def _tensors(fmt: str, model_file: Path, sample_shape: tuple[int, ...]) -> tuple[list[dict], list[dict]]:
    if fmt == "onnx":
        return describe.onnx_tensors(model_file)
    if fmt == "tflite":
        return describe.tflite_tensors(model_file, sample_shape)
    return describe.coreml_tensors(model_file)


def _write_tflm(chosen: Artifact, model_file: Path, labels: list[str], input_info: dict, folder: Path) -> None:
    from ..predict.tflite_read import read_tflite
    from .tflm import tflm_sources

    memory = chosen.metrics.get("memory") or {}
    sources = tflm_sources(model_bytes=model_file.read_bytes(), op_types=[op.op_type for op in
                                                                           read_tflite(model_file).ops],
                           labels=labels, arena_bytes=memory.get("tflm_arena_bytes"),
                           arena_note=str(memory.get("tflm_arena_note") or "not measured"), input_info=input_info,
                           source=chosen.path or chosen.name)
    for name, text in sources.items():
        atomic.write_text(folder / name, text)


def _template(name: str) -> str:
    return resources.files("edgekd.deploy").joinpath("templates", name).read_text(encoding="utf-8")


STAGE = Stage(name="deploy", run=run, cached=False,
              reads=("target.name", "target.kind", "target.runtime", "target.memory", "config.data",
                     "config.export.opset", "inputs.data"))
