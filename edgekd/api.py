"""The Python API: ``build``, ``check`` and the listings. The CLI calls only this module."""

from __future__ import annotations

import contextlib
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

from .config import BuildConfig, load_config
from .errors import EXIT_BUDGET_MISSED, EXIT_OK, BadInputError, OutputDirError
from .progress import NullReporter, Reporter
from .targets import TargetProfile, list_targets, load_target

__all__ = ["BuildResult", "build", "check", "config_sections", "export_fitting_networks", "fit_target",
           "list_students", "list_targets", "load_target", "predict_latency", "profile", "show_student"]


@dataclass(frozen=True)
class BuildResult:
    """What a build produced.

    Attributes:
        report: The report.json content (None on a torchrun worker rank: rank 0 writes it).
        out_dir: Where the outputs are.
        passed: Every budget met.
    """

    report: dict[str, Any] | None
    out_dir: Path

    @property
    def passed(self) -> bool:
        return self.report is None or bool(self.report["passed"])

    @property
    def exit_code(self) -> int:
        return EXIT_OK if self.passed else EXIT_BUDGET_MISSED


def build(config: BuildConfig | str | os.PathLike | None = None, target: str | TargetProfile = "host",
          out_dir: str | os.PathLike = "runs/build", *, overrides: Sequence[str] = (), resume: bool = False,
          force: bool = False, reporter: Reporter | None = None) -> BuildResult:
    """Distil, compress, export, measure and judge a student for ``target``.

    Args:
        config: A :class:`BuildConfig`, a YAML path, or ``None`` for the embedded default.
        target: A profile name from ``targets/``, a profile YAML path, or a loaded profile.
        out_dir: Output folder; receives report.json, report.md, manifest.json,
            config.resolved.yaml, artifacts/ and deploy/ (the bundle for the target's runtime). It is
            locked for the build (one build per folder).
        overrides: ``key.path=value`` strings applied to the config.
        resume: Continue a killed build in ``out_dir`` from its last checkpoints.
        force: Build into a non-empty folder edgekd did not make (its other files are kept),
            and replace ``artifacts/`` and ``deploy/`` even if they hold files no manifest lists.
        reporter: Progress sink (the CLI passes a rich one).

    Returns:
        The :class:`BuildResult`; ``result.passed`` is false when a budget was missed.

    Raises:
        BadInputError: bad config, profile, data or output folder, or the folder is in use by
            another build (nothing is left in ``out_dir``).
    """
    from .data import load_data
    from .outdir import check_ours, refuse_out_inside_data
    from .pipeline import default_threads, run_pipeline
    from .promote import promote
    from .stage import BuildContext

    started = time.perf_counter()
    cfg = config if isinstance(config, BuildConfig) else load_config(config, overrides)
    profile = target if isinstance(target, TargetProfile) else load_target(str(target))
    if not str(out_dir).strip():
        raise OutputDirError("--out is empty: the build would write into the current folder",
                             fix="pass --out a folder name, e.g. --out runs/build")
    out = Path(out_dir)
    _check_out_dir(out)
    refuse_out_inside_data(out, cfg.data)
    # Imported here, not above: it imports torch (seconds), and the checks above fail bad input without it.
    from .students.registry import check_student_config

    check_student_config(cfg.student.name, cfg.student.options)  # before minutes of teacher training
    from .quantize.engines import check_float_first_conv

    check_float_first_conv(cfg, profile)
    created_out = not out.exists()
    _make_dir(out)
    reporter = reporter or NullReporter()
    lock = _lock(out, created_out, reporter)
    ctx = None
    try:
        check_ours(out, force)
        data = load_data(cfg)
        ctx = BuildContext(config=cfg, target=profile, out_dir=out, data=data, reporter=reporter,
                           threads=default_threads(cfg.bench.threads, profile), started=started)
        if ctx.work_dir.exists() and not resume:
            shutil.rmtree(ctx.work_dir)
        _make_dir(ctx.work_dir)
        state = run_pipeline(ctx)
        if state.report is None:  # a torchrun worker rank: rank 0 finishes the build
            return BuildResult(report=None, out_dir=out)
        promote(ctx, state.report, cfg)
        report = state.report
    except BadInputError:
        # Bad input leaves nothing behind: not the staging folder, not a folder we created.
        if ctx is not None:
            shutil.rmtree(ctx.work_dir, ignore_errors=True)
        if created_out:
            shutil.rmtree(out, ignore_errors=True)
        raise
    finally:
        if lock is not None:
            lock.release()
    return BuildResult(report=report, out_dir=out)


def _lock(out: Path, created_out: bool, reporter: Reporter):
    """Lock ``out`` for this build (rank 0 only under torchrun: the other ranks share its folder)."""
    from .outdir import BuildLock

    if int(os.environ.get("RANK", "0") or 0) != 0:
        return None
    lock = BuildLock(out)
    try:
        lock.acquire()
    except BadInputError:
        if created_out:  # we made it a moment ago; the other build made its own (or will)
            with contextlib.suppress(OSError):
                out.rmdir()
        raise
    if lock.took_over:
        owner = lock.took_over
        reporter.note(f"took over the lock of an earlier build that is no longer running "
                      f"(pid {owner.get('pid', '?')} on {owner.get('host', '?')})")
    return lock


def check(report_path: str | os.PathLike, target: str | None = None, baseline: str | os.PathLike | None = None,
          max_regression: float = 0.05, confidence: float = 0.95) -> dict[str, Any]:
    """Re-judge a report against a profile's budgets and, optionally, a baseline report.

    Both reports are validated against ``edgekd/schemas/report.schema.json`` first. Against the
    baseline, size and latency regress when worse by more than ``max_regression`` (a fraction);
    top-1 and ECE when the change is outside what the test splits resolve at ``confidence``
    (see :mod:`edgekd.report.regression`).

    A null value in the report (not measured; edgekd writes non-finite numbers as null) fails
    every budget that needs it, and a report without a student model fails the gate with a
    ``deployable_student`` entry (exit 3 from the CLI): nothing judged is never a pass.

    With ``target`` naming another profile than the build's, latency is judged on the report's
    prediction for that profile (``predicted_on_targets``), never on the build target's (a copy of the
    build's profile that changes only its name, aliases, description or budgets is the same device:
    judged on the build's own predictions against its budgets); a report
    without one, a profile that would ship another precision than the one costed there, or one that
    runs none of the exported models is refused (:func:`edgekd.report.cross_target.retarget`).

    Returns:
        ``{"passed": bool, "target": name, "budgets": [...], "regressions": [...], "rules": [...]}``.

    Raises:
        BadInputError: a missing or unreadable report, or one that violates the schema (the
            message names the first violation).
    """
    from .report.gate import judge
    from .report.regression import STATISTICAL_RULES, compare_reports, load_report, models_from_report

    if max_regression < 0:
        raise BadInputError(f"--max-regression is {max_regression:g}: a negative limit fails every comparison",
                            fix="pass a worsening you accept, e.g. 5% or 0.05 (0 = no worsening at all)")
    _refuse_unfinished_build(Path(report_path))
    report = load_report(report_path)
    _validate(report, str(report_path))
    profile = load_target(target or report["target"]["name"])
    artifacts = models_from_report(report)
    from .report.cross_target import retarget, same_device

    if profile.name != report["target"]["name"] and not same_device(report["target"], profile):
        artifacts = retarget(report, artifacts, profile)
    _chosen, budgets = judge(artifacts, profile, report.get("conversion_failures", []), report.get("data"))
    regressions = []
    if baseline:
        old = load_report(baseline)
        _validate(old, str(baseline))
        regressions = compare_reports(report, old, max_regression, confidence)
    passed = all(b["passed"] for b in budgets) and all(r["passed"] for r in regressions)
    return {"passed": passed, "target": profile.name, "budgets": budgets, "regressions": regressions,
            "rules": list(STATISTICAL_RULES) if baseline else []}


def _refuse_unfinished_build(report_path: Path) -> None:
    """A build folder (report beside artifacts/) without manifest.json was never finished: not a report to pass."""
    folder = report_path.parent
    if (folder / "artifacts").is_dir() and not (folder / "manifest.json").is_file():
        raise BadInputError(f"{folder} has report.json and artifacts/ but no manifest.json: the build was not finished "
                            "(killed while promoting its outputs?)",
                            fix=f"rebuild, or finish it with `edgekd build --resume --out {folder}`")


def _validate(report: Any, source: str) -> None:
    from .report.schema import validate_report

    try:
        validate_report(report, source=source)
    except RecursionError:
        raise BadInputError(f"{source} is nested too deeply to be an edgekd report",
                            fix="pass the report.json a build wrote") from None


def fit_target(out: str | os.PathLike, base: str = "host", quick: bool = False, threads: int | None = None,
               runtimes: tuple[str, ...] = (), networks: int | None = None,
               networks_from: str | os.PathLike | None = None,
               progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Fit a device profile to this machine: micro-benchmarks, optionally timed networks per runtime.

    See :func:`edgekd.fitting.workflow.fit_target` for the arguments.

    Returns:
        ``{"path", "profile"}``: the written file and the fitted :class:`TargetProfile`.
    """
    from .fitting.workflow import fit_target as _fit

    return _fit(out, base=base, quick=quick, threads=threads, runtimes=runtimes, networks=networks,
                networks_from=networks_from, progress=progress)


def export_fitting_networks(out: str | os.PathLike, runtimes: tuple[str, ...], networks: int = 32,
                            precisions: tuple[str, ...] = ("fp32", "int8"),
                            progress: Callable[[str], None] | None = None) -> Path:
    """Export random networks to time on another machine with ``fit_target(networks_from=...)``.

    See :func:`edgekd.fitting.workflow.export_fitting_networks` for the arguments.
    """
    from .fitting.workflow import export_fitting_networks as _export

    return _export(out, runtimes, networks=networks, precisions=precisions, progress=progress)


def config_sections(section: str | None = None) -> list[dict[str, Any]]:
    """Every config key (type, default, description), by section; see :mod:`edgekd.config_docs`."""
    from .config_docs import config_sections as _sections

    return _sections(section)


def predict_latency(graph: str | os.PathLike, target: str | TargetProfile = "host", precision: str = "fp32",
                    runtime: str | None = None, threads: int | None = None) -> dict[str, Any]:
    """Predict batch-1 latency of a model graph on a device profile, without building anything.

    A profile with ``device:`` facts is costed by the device model (validated against published
    on-device measurements, ``benchmarks/RESULTS.md``), one with a fitted runtime model for
    ``runtime`` by that model, any other by the roofline (see :mod:`edgekd.predict.latency`).

    Args:
        graph: An ONNX file (FP32, or QDQ INT8 for an INT8 artifact).
        target: A profile name from ``targets/``, a profile YAML path, or a loaded profile.
        precision: ``fp32``, ``fp16`` or ``int8``: the precision the model ships in.
        runtime: ``litert``, ``onnxruntime``, ``tflite-micro``, ``x-cube-ai`` or ``edgetpu``
            (default: the profile's runtime).
        threads: CPU threads to cost (default: the profile's ``runtime.threads``).

    Returns:
        ``p50``/``low``/``high`` in ms, ``method``, ``band`` (how low/high were derived),
        ``per_op`` rows and the figures of :func:`edgekd.predict.latency.predict_latency`.

    Raises:
        BadInputError: Unknown target or precision, an unreadable graph, bad ``threads``.
    """
    from .predict.latency import band_description
    from .predict.latency import predict_latency as _predict

    profile = target if isinstance(target, TargetProfile) else load_target(str(target))
    pred = _predict(graph, profile, precision, runtime=runtime, threads=threads)
    return {**pred, "band": band_description(pred)}


def profile(model: str | os.PathLike, targets: Sequence[str] = (), *, all_targets: bool = False,
            threads: int | None = None, measure_host: bool = True) -> dict[str, Any]:
    """Size, params, MACs, memory, host latency and predicted latency per profile of an existing model file.

    No distillation: for an ``.onnx`` or ``.tflite`` someone already has (INT8 graphs are costed
    as INT8, float ones as FP32). See :func:`edgekd.predict.profile_model.profile_model`.

    Args:
        model: The ``.onnx`` or ``.tflite`` file.
        targets: Profile names or YAML paths (none and not ``all_targets``: ``host``).
        all_targets: Every profile in the targets folder.
        threads: Cost and time with this many threads instead of each profile's own.
        measure_host: Time the model in its own runtime on this machine.

    Returns:
        ``{"model": {...}, "predictions": [{target, precision, threads, p50_ms, low_ms, high_ms,
        supported, notes}, ...]}``.

    Raises:
        ModelFileError: Missing, empty, corrupt or unsupported model file (exit 2).
        TargetError: An unknown profile (exit 2).
    """
    from .predict.profile_model import profile_model

    return profile_model(model, list(targets), all_targets=all_targets, threads=threads, measure_host=measure_host)


def list_students() -> list[Any]:
    """Every registered student (name, task, description, default options)."""
    from .students import list_students as _list

    return _list()


def show_student(name: str, num_classes: int = 1000, input_shape: tuple[int, int, int] = (3, 224, 224),
                 **options: Any) -> dict[str, Any]:
    """Build a student and count its params and MACs for one input shape."""
    from .students import build_student, count_params_macs

    model = build_student(name, num_classes, input_shape, **options)
    params, macs = count_params_macs(model, input_shape)
    return {"name": name, "options": options, "num_classes": num_classes, "input_shape": list(input_shape),
            "params": params, "macs": macs}


def _check_out_dir(out: Path) -> None:
    if out.exists() and not out.is_dir():
        raise OutputDirError(f"output folder {out} is a file", fix="pass --out a folder path (new or existing)")
    probe = out if out.exists() else _nearest_existing_parent(out)
    if probe is None or not probe.is_dir():
        raise OutputDirError(f"cannot create output folder {out}: {probe} is not a folder",
                             fix="pass --out a path under an existing folder")
    if not os.access(probe, os.W_OK | os.X_OK):
        raise OutputDirError(f"output folder {probe} is not writable", fix="pass --out a folder you can write to")


def _nearest_existing_parent(path: Path) -> Path | None:
    for parent in path.absolute().parents:
        if parent.exists():
            return parent
    return None


def _make_dir(path: Path) -> None:
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputDirError(f"cannot create {path}: {exc.strerror}", fix="pass --out a writable folder") from None
