"""The ``edgekd`` command: parses, calls :mod:`edgekd.api`, renders with rich, maps errors to exit codes.

Heavy libraries are never imported here (``edgekd --help`` stays fast).
"""

from __future__ import annotations

import json
import sys
import traceback
from pathlib import Path
from typing import Any

import click

from . import __version__
from .errors import EXIT_BAD_INPUT, EXIT_BUDGET_MISSED, EXIT_INTERNAL, EXIT_INTERRUPTED, EdgekdError

_STATE = {"debug": False}


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="edgekd")
@click.option("--debug", is_flag=True, help="Show full tracebacks on errors.")
def cli(debug: bool) -> None:
    """Distil a teacher into a small student that is proven to fit an edge device."""
    _STATE["debug"] = debug


@cli.command()
@click.argument("config", required=False, type=click.Path(dir_okay=False))
@click.option("--target", "-t", default="host", show_default=True,
              help="Device profile name (see `edgekd targets list`) or path to a profile YAML.")
@click.option("--out", "-o", "out_dir", default="runs/build", show_default=True, type=click.Path(),
              help="Output folder.")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE",
              help="Override a config key, e.g. --set distill.epochs=5 (repeatable).")
@click.option("--resume", is_flag=True, help="Continue a killed build in --out from its last checkpoint.")
@click.option("--force", is_flag=True, help="Build into a non-empty folder edgekd did not make (its other files are "
                                            "kept; artifacts/ is replaced).")
@click.option("--fit", is_flag=True, help="Search the student that meets the target's budgets "
              "(short for --set student.search.enabled=true).")
@click.option("--json", "as_json", is_flag=True, help="Print report.json instead of tables.")
def build(config, target, out_dir, overrides, resume, force, fit, as_json) -> None:
    """Build, measure and judge a student (no CONFIG: the embedded digits example).

    Exit codes: 0 every budget met, 3 a budget missed, 2 bad input, 1 internal error.
    """
    from . import api
    from .report.console import RichReporter, render_build

    if fit:  # first, so an explicit --set student.search.enabled=false still wins
        overrides = ("student.search.enabled=true", *overrides)

    with RichReporter() as reporter:
        result = api.build(config, target, out_dir, overrides=overrides, resume=resume, force=force,
                           reporter=reporter)
    if result.report is None:  # a torchrun worker rank: rank 0 reports
        sys.exit(0)
    if as_json:
        click.echo(json.dumps(result.report, indent=2))
    else:
        render_build(result.report, result.out_dir)
    sys.exit(result.exit_code)


@cli.command()
@click.argument("report", type=click.Path(dir_okay=False))
@click.option("--target", "-t", default=None, help="Judge against this profile (default: the report's).")
@click.option("--baseline", type=click.Path(dir_okay=False), default=None, help="An older report.json to compare.")
@click.option("--max-regression", default="5%", show_default=True,
              help="Largest allowed worsening of size and latency vs the baseline, e.g. 5% or 0.05.")
@click.option("--confidence", default="95%", show_default=True,
              help="Level of the intervals that judge top-1 and ECE vs the baseline (they regress only when "
                   "the change is outside what the test split resolves).")
@click.option("--format", "output_format", type=click.Choice(["text", "github"]), default="text", show_default=True,
              help="github: ::error/::warning annotations on stdout and a Markdown job summary appended to "
                   "$GITHUB_STEP_SUMMARY (printed when it is unset).")
def check(report, target, baseline, max_regression, confidence, output_format) -> None:
    """Re-judge REPORT against a profile's budgets (and a baseline); exit 3 on a miss.

    A null (not measured) value fails its budget, and a report with no student model fails the gate.
    """
    from . import api

    level = _fraction(confidence, "--confidence")
    if not 0.5 <= level < 1:
        from .errors import ConfigError

        raise ConfigError(f"--confidence {confidence!r} is not a level in [50%, 100%)", fix="e.g. --confidence 95%")
    result = api.check(report, target=target, baseline=baseline, max_regression=_fraction(max_regression),
                       confidence=level)
    if output_format == "github":
        _github_check(result, report, baseline)
    else:
        from .report.console import render_check

        render_check(result)
    sys.exit(0 if result["passed"] else EXIT_BUDGET_MISSED)


def _github_check(result: dict, report: str, baseline: str | None) -> None:
    """Print the annotations; append the summary to $GITHUB_STEP_SUMMARY, else print it."""
    import os

    from . import atomic
    from .report.github import SUMMARY_ENV, annotation_lines, summary_markdown

    for line in annotation_lines(result):
        click.echo(line)
    summary = summary_markdown(result, report, baseline)
    path = os.environ.get(SUMMARY_ENV)
    if path:
        # GitHub expects the step's summary file to be appended to (earlier output of the step stays).
        before = Path(path).read_text(encoding="utf-8") if Path(path).is_file() else ""
        atomic.write_text(Path(path), before + summary)
    else:
        click.echo("")
        click.echo(summary, nl=False)


@cli.group()
def targets() -> None:
    """Device profiles."""


@targets.command("list")
def targets_list() -> None:
    """List the device profiles in targets/."""
    from . import api
    from .report.console import render_targets

    render_targets(api.list_targets())


@targets.command("show")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="Print the profile as JSON.")
def targets_show(name, as_json) -> None:
    """Show one profile (NAME or a path to a YAML)."""
    from . import api
    from .report.console import render_target

    profile = api.load_target(name)
    if as_json:
        click.echo(json.dumps(profile.to_public_dict(), indent=2))
    else:
        render_target(profile)


def _fit_options(command):
    """The options of `targets fit` (shared with its old name `targets calibrate`)."""
    options = [
        click.option("--out", "-o", "out", required=True, type=click.Path(dir_okay=False),
                     help="Profile YAML to write, e.g. my-board.yaml."),
        click.option("--base", default="host", show_default=True,
                     help="Profile whose spec figures (peaks, memory, budgets) are kept."),
        click.option("--quick", is_flag=True, help="Fewer sizes, shorter timings (seconds, not a minute)."),
        click.option("--threads", type=click.IntRange(min=1), default=None,
                     help="Runtime threads (default: the base profile's)."),
        click.option("--runtime", "runtimes", multiple=True, type=click.Choice(["onnxruntime", "litert"]),
                     help="Also fit this runtime's latency model on random networks timed in it (repeatable; "
                          "minutes: every network is exported and converted)."),
        click.option("--networks", type=click.IntRange(min=14), default=None,
                     help="Fitting networks per runtime model (default 32, 14 with --quick)."),
        click.option("--networks-from", type=click.Path(file_okay=False), default=None,
                     help="Time the networks `edgekd targets export-networks` wrote (no torch needed here)."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def _fit(out, base, quick, threads, runtimes, networks, networks_from) -> None:
    from . import api
    from .report.console import render_fitted_profile

    result = api.fit_target(out, base=base, quick=quick, threads=threads, runtimes=tuple(runtimes),
                            networks=networks, networks_from=networks_from,
                            progress=lambda line: click.echo(line, err=True))
    render_fitted_profile(result["profile"], result["path"])
    for warning in result.get("warnings", []):  # again after the table, where it is seen
        click.echo(f"warning: {warning}", err=True)


@targets.command("fit")
@_fit_options
def targets_fit(**options) -> None:
    """Fit a profile to this machine (micro-benchmarks, timed networks) and write it."""
    _fit(**options)


@targets.command("calibrate", hidden=True)
@_fit_options
def targets_calibrate(**options) -> None:
    """Old name of `targets fit` (kept so existing scripts keep working)."""
    click.echo("note: `edgekd targets calibrate` is now `edgekd targets fit`", err=True)
    _fit(**options)


@targets.command("export-networks")
@click.argument("folder", type=click.Path(file_okay=False))
@click.option("--runtime", "runtimes", multiple=True, required=True, type=click.Choice(["onnxruntime", "litert"]),
              help="Formats to write (repeatable).")
@click.option("--networks", type=click.IntRange(min=14), default=32, show_default=True,
              help="How many random fitting networks.")
@click.option("--precision", "precisions", multiple=True, type=click.Choice(["fp32", "int8"]),
              default=("fp32", "int8"), show_default=True, help="Precisions to write (repeatable).")
def targets_export_networks(folder, runtimes, networks, precisions) -> None:
    """Export fitting networks to FOLDER, to time on a board with `targets fit --networks-from`."""
    from . import api

    path = api.export_fitting_networks(folder, tuple(runtimes), networks, tuple(precisions),
                                       progress=lambda line: click.echo(line, err=True))
    click.echo(f"wrote {networks} networks to {path}; on the board: edgekd targets fit --out board.yaml "
               f"--networks-from {path}")


@cli.command()
@click.argument("model", type=click.Path(dir_okay=False))
@click.option("--target", "-t", "targets", multiple=True, help="A profile name or YAML (repeatable; default host).")
@click.option("--all-targets", is_flag=True, help="Every profile in the targets folder.")
@click.option("--threads", type=click.IntRange(min=1), default=None, help="Cost and time with N threads.")
@click.option("--no-host", is_flag=True, help="Do not time the model on this machine.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object (model, predictions).")
def profile(model, targets, all_targets, threads, no_host, as_json) -> None:
    """Size, MACs, memory and predicted latency of an existing .onnx/.tflite on device profiles."""
    from . import api
    from .report.console import render_profile

    result = api.profile(model, targets, all_targets=all_targets, threads=threads, measure_host=not no_host)
    if as_json:
        click.echo(json.dumps(result, indent=2))
    else:
        render_profile(result)


@cli.group()
def config() -> None:
    """The build config: every key, its type, default and meaning."""


@config.command("show")
@click.argument("section", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def config_show(section, as_json) -> None:
    """List every config key (or SECTION's: distill, data, data.image_folder, teacher.onnx, ...)."""
    from . import api
    from .report.console import render_config

    sections = api.config_sections(section)
    if as_json:
        click.echo(json.dumps(sections, indent=2))
    else:
        render_config(sections)


@cli.group()
def students() -> None:
    """Student architectures."""


@students.command("list")
def students_list() -> None:
    """List the registered students."""
    from . import api
    from .report.console import render_students

    render_students(api.list_students())


@students.command("show")
@click.argument("name")
@click.option("--set", "options", multiple=True, metavar="KEY=VALUE",
              help="Option such as width=0.5, resolution=224, classes=1000, channels=3.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def students_show(name, options, as_json) -> None:
    """Params and MACs of one student at one input size."""
    from . import api
    from .report.console import render_student

    opts = _parse_options(options)
    size = _resolution(opts.pop("resolution", 224))
    info = api.show_student(name, num_classes=opts.pop("classes", 1000),
                            input_shape=(opts.pop("channels", 3), *size), **opts)
    if as_json:
        click.echo(json.dumps(info, indent=2))
    else:
        render_student(info)


def _resolution(value) -> tuple[int, int]:
    """``224`` -> (224, 224); ``97x40`` or ``[97, 40]`` -> (H, W)."""
    from .errors import ConfigError

    parts: Any = value.lower().split("x") if isinstance(value, str) else value
    if isinstance(parts, int) and not isinstance(parts, bool):
        parts = (parts, parts)
    try:
        size = tuple(int(p) for p in parts)
    except (TypeError, ValueError):
        size = ()
    if len(size) != 2 or min(size) < 1:
        raise ConfigError(f"resolution {value!r} is not a size", fix="use one number (224) or HxW (97x40)")
    return size


def _parse_options(items) -> dict:
    import yaml

    from .errors import ConfigError

    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep:
            raise ConfigError(f"--set {item!r} is not KEY=VALUE", fix="e.g. --set width=0.5")
        out[key.strip()] = yaml.safe_load(value)
    return out


def _fraction(text: str, option: str = "--max-regression") -> float:
    from .errors import ConfigError

    raw = text.strip()
    try:
        return float(raw[:-1]) / 100 if raw.endswith("%") else float(raw)
    except ValueError:
        raise ConfigError(f"{option} {text!r} is not a number", fix=f"e.g. {option} 5%") from None


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the CLI and convert exceptions into exit codes exactly once."""
    from .closed_pipe import stdout_survives_closed_pipe

    with stdout_survives_closed_pipe():
        _main(argv)


def _main(argv: list[str] | None) -> None:
    args = list(sys.argv[1:] if argv is None else argv)
    # --debug is accepted anywhere on the line, not only before the subcommand.
    if "--debug" in args:
        _STATE["debug"] = True
        args = ["--debug", *[a for a in args if a != "--debug"]]
    try:
        cli.main(args=args, prog_name="edgekd", standalone_mode=False)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        sys.exit(EXIT_BAD_INPUT)
    except click.exceptions.Abort:  # click's form of KeyboardInterrupt (Ctrl-C)
        click.echo("interrupted: a build continues where it stopped with `edgekd build --resume --out DIR`", err=True)
        sys.exit(EXIT_INTERRUPTED)
    except EdgekdError as exc:
        if _STATE["debug"]:
            traceback.print_exc()
        click.echo(f"error: {exc.one_line()}", err=True)
        sys.exit(exc.exit_code)
    except Exception as exc:  # noqa: BLE001 - the one place internal errors are converted
        if _STATE["debug"]:
            traceback.print_exc()
        first = str(exc).splitlines()[0] if str(exc) else ""
        click.echo(f"internal error: {exc.__class__.__name__}: {first} (run with --debug for the traceback)",
                   err=True)
        sys.exit(EXIT_INTERNAL)


if __name__ == "__main__":  # pragma: no cover
    main()
