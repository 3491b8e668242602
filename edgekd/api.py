"""The Python API: ``build``, ``check`` and the listings. The CLI calls only this module."""

from __future__ import annotations

import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

from . import atomic
from .config import BuildConfig, dump_config, load_config
from .errors import EXIT_BUDGET_MISSED, EXIT_OK, BadInputError, OutputDirError
from .progress import NullReporter, Reporter
from .targets import TargetProfile, list_targets, load_target

__all__ = ["BuildResult", "build", "check", "export_fitting_networks", "fit_target", "list_students", "list_targets",
           "load_target", "show_student"]


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
          reporter: Reporter | None = None) -> BuildResult:
    """Distil, compress, export, measure and judge a student for ``target``.

    Args:
        config: A :class:`BuildConfig`, a YAML path, or ``None`` for the embedded default.
        target: A profile name from ``targets/``, a profile YAML path, or a loaded profile.
        out_dir: Output folder; receives report.json, report.md, manifest.json,
            config.resolved.yaml, artifacts/ and deploy/ (the bundle for the target's runtime).
        overrides: ``key.path=value`` strings applied to the config.
        resume: Continue a killed build in ``out_dir`` from its last checkpoints.
        reporter: Progress sink (the CLI passes a rich one).

    Returns:
        The :class:`BuildResult`; ``result.passed`` is false when a budget was missed.

    Raises:
        BadInputError: bad config, profile, data or output folder (nothing is left in ``out_dir``).
    """
    from .data import load_data
    from .pipeline import default_threads, run_pipeline
    from .stage import BuildContext

    started = time.perf_counter()
    cfg = config if isinstance(config, BuildConfig) else load_config(config, overrides)
    profile = target if isinstance(target, TargetProfile) else load_target(str(target))
    out = Path(out_dir)
    _check_out_dir(out)
    created_out = not out.exists()
    reporter = reporter or NullReporter()
    ctx = None
    try:
        data = load_data(cfg)
        ctx = BuildContext(config=cfg, target=profile, out_dir=out, data=data, reporter=reporter,
                           threads=default_threads(cfg.bench.threads, profile), started=started)
        if ctx.work_dir.exists() and not resume:
            shutil.rmtree(ctx.work_dir)
        _make_dir(ctx.work_dir)
        state = run_pipeline(ctx)
        if state.report is None:  # a torchrun worker rank: rank 0 finishes the build
            return BuildResult(report=None, out_dir=out)
        _promote(ctx, state.report, cfg)
        report = state.report
    except BadInputError:
        # Bad input leaves nothing behind: not the staging folder, not a folder we created.
        if ctx is not None:
            shutil.rmtree(ctx.work_dir, ignore_errors=True)
        if created_out:
            shutil.rmtree(out, ignore_errors=True)
        raise
    return BuildResult(report=report, out_dir=out)


def check(report_path: str | os.PathLike, target: str | None = None, baseline: str | os.PathLike | None = None,
          max_regression: float = 0.05) -> dict[str, Any]:
    """Re-judge a report against a profile's budgets and, optionally, a baseline report.

    Both reports are validated against ``edgekd/schemas/report.schema.json`` first.

    Returns:
        ``{"passed": bool, "budgets": [...], "regressions": [...]}``.

    Raises:
        BadInputError: a missing or unreadable report, or one that violates the schema (the
            message names the first violation).
    """
    from .report.gate import judge
    from .report.regression import compare_reports, load_report, models_from_report
    from .report.schema import validate_report

    report = load_report(report_path)
    validate_report(report, source=str(report_path))
    profile = load_target(target or report["target"]["name"])
    artifacts = models_from_report(report)
    _chosen, budgets = judge(artifacts, profile, report.get("conversion_failures", []))
    regressions = []
    if baseline:
        old = load_report(baseline)
        validate_report(old, source=str(baseline))
        regressions = compare_reports(report, old, max_regression)
    passed = all(b["passed"] for b in budgets) and all(r["passed"] for r in regressions)
    return {"passed": passed, "target": profile.name, "budgets": budgets, "regressions": regressions}


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


def _promote(ctx, report: dict[str, Any], cfg: BuildConfig) -> None:
    """Move the staged artifacts into place and write the reports; manifest.json last.

    The old manifest goes first, so at no moment does a half-promoted folder look complete.
    """
    from .report.html import render_html
    from .report.markdown import render_markdown

    out = ctx.out_dir
    (out / "manifest.json").unlink(missing_ok=True)
    folders = ("artifacts", "deploy")  # staged folders that replace the old build's
    for name in folders:
        staged, final, old = ctx.work_dir / name, out / name, out / f".{name}.old"
        shutil.rmtree(old, ignore_errors=True)
        if final.exists():
            os.replace(final, old)
        if staged.exists():
            os.replace(staged, final)
        shutil.rmtree(old, ignore_errors=True)
    written = [
        atomic.write_text(out / "config.resolved.yaml", dump_config(cfg)),
        atomic.write_json(out / "report.json", report),
        atomic.write_text(out / "report.md", render_markdown(report)),
        atomic.write_text(out / "report.html", render_html(report)),
    ]
    files = sorted(p for name in folders for p in (out / name).rglob("*") if p.is_file())
    entries = [{"path": str(p.relative_to(out)), "sha256": atomic.sha256_of(p), "size_bytes": p.stat().st_size}
               for p in [*files, *written]]
    atomic.write_json(out / "manifest.json", {"edgekd_version": report["edgekd_version"], "files": entries})
    shutil.rmtree(ctx.work_dir, ignore_errors=True)
