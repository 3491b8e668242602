"""Terminal rendering with rich: build progress, result tables, listings."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from .markdown import _bytes, _num, _pct

_err = Console(stderr=True, highlight=False)


def console() -> Console:
    """The stdout console (created per call so tests capturing stdout see the output)."""
    return Console(file=sys.stdout, highlight=False, width=160 if not sys.stdout.isatty() else None)


class RichReporter:
    """Progress on stderr: one line per stage and per training epoch."""

    def __init__(self) -> None:
        self._started = time.perf_counter()

    def __enter__(self) -> "RichReporter":
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def stage(self, name: str, detail: str = "") -> None:  # noqa: D102
        elapsed = time.perf_counter() - self._started
        _err.print(f"[dim]{elapsed:6.1f}s[/] [bold cyan]{name}[/] {detail}".rstrip())

    def epoch(self, label: str, epoch: int, epochs: int, loss: float, val_top1: float,
              samples_per_s: float) -> None:  # noqa: D102
        _err.print(f"  {label} epoch {epoch}/{epochs}  loss {loss:.4f}  val top-1 {100 * val_top1:.2f}%  "
                   f"{samples_per_s:,.0f} samples/s")

    def note(self, text: str) -> None:  # noqa: D102
        _err.print(f"[yellow]note:[/] {text}")


def models_table(report: dict[str, Any]) -> Table:
    """The models of a report as a table."""
    table = Table(title=f"models (deployable: {report.get('chosen')})")
    for col in ("model", "fmt", "prec", "MACs", "size", "top-1", "agree", "ECE", "host p90 ms",
                f"pred. {report['target']['name']} ms", "arena"):
        table.add_column(col, justify="left" if col in ("model", "fmt", "prec") else "right")
    for m in report["models"]:
        lat = m.get("latency_ms") or {}
        host, pred = lat.get("host") or {}, lat.get("predicted") or {}
        table.add_row(m["name"], m["format"], m["precision"], f"{m['macs']:,}", _bytes(m.get("size_bytes")),
                      _pct((m.get("accuracy") or {}).get("top1")),
                      _pct((m.get("accuracy") or {}).get("agreement_with_teacher")),
                      _num((m.get("calibration") or {}).get("ece")), _num(host.get("p90")),
                      _num(pred.get("p50")), _bytes((m.get("memory") or {}).get("peak_activation_bytes")))
    return table


def budgets_table(budgets: list[dict[str, Any]], title: str = "budgets") -> Table:
    """Budget entries as a table."""
    table = Table(title=title)
    for col in ("metric", "limit", "value", "model", "result"):
        table.add_column(col, justify="right" if col in ("limit", "value") else "left")
    for b in budgets:
        table.add_row(b["metric"], _num(b["limit"]), _num(b["value"]), b.get("model", ""),
                      "[green]pass[/]" if b["passed"] else "[bold red]MISS[/]")
    return table


def render_build(report: dict[str, Any], out_dir: Path) -> None:
    """Print a finished build."""
    out = console()
    out.print(models_table(report))
    out.print(budgets_table(report["budgets"]))
    if report.get("predicted_on_targets"):
        out.print(cross_target_table(report))
    deploy = report.get("deploy")
    if deploy:
        out.print(f"deploy bundle ({deploy['family']}): {out_dir / deploy['folder']}")
    verdict = "[green]all budgets met[/]" if report["passed"] else "[bold red]budget missed[/]"
    out.print(f"{verdict} — report: {out_dir / 'report.md'}")


def cross_target_table(report: dict[str, Any]) -> Table:
    """Where else the chosen model fits: predicted latency, memory and budget verdict on every profile."""
    from .cross_target import HEADER, NUMERIC, cross_target_cells

    table = Table(title=f"{report.get('chosen')} on every profile (predicted)")
    for i, col in enumerate(HEADER):
        table.add_column(col, justify="right" if i in NUMERIC else "left")
    for row in cross_target_cells(report):
        fits = {"yes": "[green]yes[/]", "no": "[bold red]no[/]"}.get(row[7], row[7])
        table.add_row(*row[:7], fits, row[8])
    return table


def render_check(result: dict[str, Any]) -> None:
    """Print the outcome of ``edgekd check``."""
    out = console()
    out.print(budgets_table(result["budgets"], title=f"budgets on {result['target']}"))
    if result["regressions"]:
        table = Table(title="vs baseline")
        for col in ("metric", "baseline", "value", "change", "result"):
            table.add_column(col)
        for r in result["regressions"]:
            verdict = ("[green]pass[/]" if r["passed"] else "[bold red]REGRESSED[/]") if not r.get("skipped") \
                else f"[dim]not compared: {r['skipped']}[/]"
            table.add_row(r["metric"], _num(r["baseline"]), _num(r["value"]), f"{100 * r['change']:+.1f}%", verdict)
        out.print(table)
    failed = [("budget", b["metric"], _num(b["limit"]), _num(b["value"]), b.get("model", ""))
              for b in result["budgets"] if not b["passed"]]
    failed += [("regression", r["metric"], f"{100 * r['limit']:+.1f}%", f"{100 * r['change']:+.1f}%",
                f"baseline {_num(r['baseline'])}") for r in result["regressions"] if not r["passed"]]
    if failed:
        table = Table(title="what failed")
        for col in ("kind", "metric", "limit", "value", "detail"):
            table.add_column(col)
        for row in failed:
            table.add_row(*row)
        out.print(table)
    out.print("[green]passed[/]" if result["passed"] else "[bold red]failed[/]")


def render_targets(profiles: list[Any]) -> None:
    """Print the device profiles."""
    table = Table(title="device profiles")
    for col in ("name", "kind", "runtime", "formats", "precisions", "RAM", "flash/storage", "description"):
        table.add_column(col)
    for p in profiles:
        table.add_row(p.name, p.kind, p.runtime.name, ",".join(p.formats), ",".join(p.precisions),
                      _bytes(p.memory.ram_bytes), _bytes(p.memory.flash_bytes), p.description)
    console().print(table)


def render_target(profile: Any) -> None:
    """Print one profile."""
    import yaml

    console().print(yaml.safe_dump(profile.to_public_dict(), sort_keys=False))


def render_students(infos: list[Any]) -> None:
    """Print the student registry."""
    table = Table(title="students")
    for col in ("name", "task", "description"):
        table.add_column(col)
    for info in infos:
        table.add_row(info.name, info.task, info.description)
    console().print(table)


def render_student(info: dict[str, Any]) -> None:
    """Print one student's size."""
    shape = "x".join(str(s) for s in info["input_shape"])
    console().print(f"{info['name']} {info['options'] or ''} @ {shape}, {info['num_classes']} classes: "
                    f"{info['params']:,} params, {info['macs']:,} MACs ({info['macs'] / 1e6:.1f} M)")


def render_fitted_profile(profile: Any, path: Path) -> None:
    """Print what ``edgekd targets fit`` measured."""
    table = Table(title=f"measured efficiency (fraction of spec peak), {profile.runtime.threads} threads")
    for col in ("op class", "fp32 low / mid / high", "int8 low / mid / high"):
        table.add_column(col)
    eff = profile.efficiency
    for cls in ("conv", "depthwise", "pointwise", "gemm", "elementwise", "pool"):
        per = getattr(eff, cls)
        table.add_row(cls, *(f"{b.low:.3f} / {b.mid:.3f} / {b.high:.3f}" for b in (per.fp32, per.int8)))
    out = console()
    out.print(table)
    if profile.latency_models:
        models = Table(title="runtime latency models (leave-one-out on the fitting networks)")
        for col in ("runtime / precision", "networks", "median |error|", "within ±10%", "band"):
            models.add_column(col)
        for runtime, per_precision in profile.latency_models.items():
            for precision, model in per_precision.items():
                models.add_row(f"{runtime}/{precision}", str(model.fit.networks),
                               f"{100 * model.fit.loo_median_abs_error:.1f}%",
                               f"{100 * model.fit.loo_within_10pct:.0f}%",
                               f"{100 * model.band.low:+.0f}% .. {100 * model.band.high:+.0f}%")
        out.print(models)
    out.print(f"bandwidth {profile.memory.bandwidth_bytes_per_s / 1e9:.1f} GB/s, op overhead "
              f"{profile.op_overhead_s * 1e6:.2f} µs — wrote {path}")
