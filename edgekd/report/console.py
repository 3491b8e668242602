"""Terminal rendering with rich: build progress, result tables, listings."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from . import units
from .alternatives import better_alternatives
from .markdown import COREML_FOOTNOTE
from .units import size as _bytes

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
    """The models of a report as a table (units in the header; Core ML cells say why they are empty).

    Sized for an 80-100 column terminal: MACs with a k/M/G suffix (report.md has the exact
    counts), a noisy host timing marked ``*`` with the footnote in the caption.
    """
    target = report["target"]["name"]
    table = Table(title=f"models (deployable: {units.deployable(report)})")
    names = [m["name"] for m in report["models"]]
    for col in ("model", "fmt", "prec", "MACs", "size", "top-1", "agree", "ECE", "host p90", "pred. p50", "arena"):
        _column(table, col, "left" if col in ("model", "fmt", "prec") else "right",
                key_width=max(map(len, names), default=5) if col == "model" else None)
    noisy = False
    for m in report["models"]:
        lat = m.get("latency_ms") or {}
        host, pred = lat.get("host") or {}, lat.get("predicted") or {}
        acc, cal = m.get("accuracy") or {}, m.get("calibration") or {}
        unmeasured = "n/a¹" if m["format"] == "coreml" else "—"
        noisy = noisy or bool(host.get("noisy"))
        host_text = (units.ms(host.get("p90")) + ("*" if host.get("noisy") else "")) if host else unmeasured
        table.add_row(m["name"], m["format"], m["precision"], units.macs_short(m.get("macs")),
                      units.size(m.get("size_bytes")),
                      units.pct(acc.get("top1")) if acc else unmeasured,
                      units.pct(acc.get("agreement_with_teacher")) if acc else unmeasured,
                      f"{cal['ece']:.4f}" if cal.get("ece") is not None else unmeasured, host_text,
                      units.ms(pred.get("p50")), units.size((m.get("memory") or {}).get("peak_activation_bytes")))
    table.caption = f"pred. p50: predicted on {target}" + ("; * noisy host timing (not judged)" if noisy else "")
    return table


def _column(table: Table, header: str, justify: str, key_width: int | None = None) -> None:
    """A column that never hides a character on a narrow terminal: values fold onto a second line.

    ``key_width``: the row-naming column (model, profile) keeps its longest name on one line.
    """
    if key_width is not None:
        table.add_column(header, justify=justify, no_wrap=True, min_width=key_width)  # type: ignore[arg-type]
    else:
        table.add_column(header, justify=justify, overflow="fold")  # type: ignore[arg-type]


def budgets_table(budgets: list[dict[str, Any]], title: str = "budgets") -> Table:
    """Budget entries as a table: result first, values and limits in their units."""
    table = Table(title=title)
    notes = any(b.get("judged") is False for b in budgets)
    for col in ("result", "metric", "value", "limit", "model") + (("why",) if notes else ()):
        table.add_column(col, justify="right" if col in ("limit", "value") else "left")
    for b in budgets:
        status = units.budget_status(b)
        styled = {"pass": "[green]pass[/]", "MISS": "[bold red]MISS[/]"}.get(status, "[yellow]not judged[/]")
        why = (escape(status.removeprefix("not judged: ")) if b.get("judged") is False else "",) if notes else ()
        table.add_row(styled, b["metric"], units.budget_value(b), units.budget_limit(b), b.get("model", ""), *why)
    return table


def verdict_lines(report: dict[str, Any]) -> list[str]:
    """The verdict, each missed budget in words, and any model at chance (rich markup)."""
    head, missed = units.verdict(report)
    colour = "green" if report["passed"] else "bold red"
    lines = [f"[{colour}]{escape(head)}[/] — deployable: {escape(units.deployable(report))}"]
    lines += [f"  [red]missed:[/] {escape(sentence)}" for sentence in missed]
    lines += [f"  [yellow]better twin:[/] {escape(sentence)}" for sentence in better_alternatives(report)]
    for row in report.get("at_chance") or []:
        lines.append(f"  [bold red]AT CHANCE:[/] {escape(row['model'])} {row['split']} top-1 {units.pct(row['top1'])}"
                     f" (better than chance needs >= {units.pct(row['threshold'])})")
    return lines


def render_build(report: dict[str, Any], out_dir: Path) -> None:
    """Print a finished build: verdict and budgets first, then the models, then where the report is."""
    out = console()
    for line in verdict_lines(report):
        out.print(line)
    out.print(budgets_table(report["budgets"]))
    out.print(models_table(report))
    if any(m["format"] == "coreml" for m in report["models"]):
        out.print(escape(COREML_FOOTNOTE))
    search = report.get("search")
    if search:  # the full table is in report.md / report.html
        out.print(f"search: {search['feasible']} of {search['space_size']} candidates meet the budgets untrained, "
                  f"{search.get('trials_run', 0)} trials; chose {escape(search['chosen']['key'])} — "
                  f"{escape(search['chosen_reason'])}")
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
    rows = cross_target_cells(report)
    for i, col in enumerate(HEADER):
        _column(table, col, "right" if i in NUMERIC else "left",
                key_width=max((len(r[0]) for r in rows), default=7) if i == 0 else None)
    for row in rows:
        fits = {"yes": "[green]yes[/]", "no": "[bold red]no[/]"}.get(row[7], row[7])
        table.add_row(*(escape(cell) for cell in row[:7]), fits, escape(row[8]))
    return table


def regressions_table(rows: list[dict[str, Any]]) -> Table:
    """The comparison with a baseline: change in the metric's own unit, and how it was judged."""
    table = Table(title="vs baseline")
    for col in ("result", "metric", "baseline", "value", "change", "judged by"):
        table.add_column(col, justify="right" if col in ("baseline", "value", "change") else "left")
    for r in rows:
        if r.get("skipped"):
            result = f"[dim]not compared: {escape(r['skipped'])}[/]"
        else:
            result = "[green]pass[/]" if r["passed"] else "[bold red]REGRESSED[/]"
        table.add_row(result, r["metric"], units.comparison_value(r, "baseline"),
                      units.comparison_value(r, "value"), units.comparison_change(r), escape(r.get("rule", "")))
    return table


def render_check(result: dict[str, Any]) -> None:
    """Print the outcome of ``edgekd check``: budgets, the baseline comparison and how it was judged."""
    out = console()
    out.print(budgets_table(result["budgets"], title=f"budgets on {result['target']}"))
    if result["regressions"]:
        out.print(regressions_table(result["regressions"]))
        for rule in result.get("rules") or []:
            out.print(f"[dim]judged by: {escape(rule)}[/]")
    failed = [("budget", b["metric"], units.budget_limit(b), units.budget_value(b), b.get("model", ""))
              for b in result["budgets"] if not b["passed"]]
    failed += [("regression", r["metric"], r.get("rule", ""), units.comparison_change(r),
                f"baseline {units.comparison_value(r, 'baseline')}")
               for r in result["regressions"] if not r["passed"]]
    if failed:
        table = Table(title="what failed")
        for col in ("kind", "metric", "limit", "value", "detail"):
            table.add_column(col)
        for row in failed:
            table.add_row(*(escape(str(c)) for c in row))
        out.print(table)
    out.print("[green]passed[/]" if result["passed"] else "[bold red]failed[/]")


def render_targets(profiles: list[Any]) -> None:
    """Print the device profiles."""
    table = Table(title="device profiles")
    for col in ("name", "also", "kind", "runtime", "formats", "precisions", "RAM", "flash/storage", "description"):
        table.add_column(col)
    for p in profiles:
        table.add_row(p.name, ", ".join(p.aliases), p.kind, p.runtime.name, ",".join(p.formats), ",".join(p.precisions),
                      _bytes(p.memory.ram_bytes), _bytes(p.memory.flash_bytes), p.description)
    console().print(table)


def render_target(profile: Any) -> None:
    """Print one profile."""
    import yaml

    console().print(yaml.safe_dump(profile.to_public_dict(), sort_keys=False))


def render_config(sections: list[dict[str, Any]]) -> None:
    """Print config sections as tables: key, type, default, description."""
    import json

    out = console()
    for section in sections:
        table = Table(title=f"{section['section']}: {section['description']}" if section["description"]
                      else section["section"], title_justify="left", expand=False)
        for col in ("key", "type", "default", "description"):
            table.add_column(col, overflow="fold", no_wrap=col == "key")
        for key in section["keys"]:
            default = key["default"]
            shown = default if isinstance(default, str) else json.dumps(default)
            table.add_row(key["key"], escape(key["type"]), escape(shown), escape(key["description"]))
        out.print(table)


def render_students(infos: list[Any]) -> None:
    """Print the student registry."""
    table = Table(title="students")
    for col in ("name", "task", "build defaults", "description"):
        table.add_column(col)
    for info in infos:
        defaults = ", ".join(f"{k}={v}" for k, v in info.build_defaults.items()) or "(its own)"
        table.add_row(info.name, info.task, defaults, info.description)
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


def render_profile(result: dict[str, Any]) -> None:
    """Print ``edgekd profile``: the model's facts, then one row per profile."""
    m = result["model"]
    mem, host = m.get("memory") or {}, m.get("host_latency_ms") or {}
    facts = (f"{m['path']} ({m['format']}, {m['precision']}): {units.num(m['params'])} params, "
             f"{units.macs(m.get('macs'))} MACs, {units.size(m['size_bytes'])}; "
             f"weights {units.size(mem.get('weights_bytes'))}, "
             f"activation arena {units.size(mem.get('peak_activation_bytes'))}")
    if host:
        facts += f"; host p50 {units.num(host.get('p50'))} ms ({host.get('runtime')}, {host.get('threads')} threads)"
    console().print(facts)
    table = Table(title="predicted latency (ms)")
    for col in ("target", "precision", "threads", "p50", "low", "high", "supported", "notes"):
        table.add_column(col, justify="right" if col in ("threads", "p50", "low", "high") else "left")
    for row in result["predictions"]:
        table.add_row(row["target"], row["precision"], str(row["threads"]), units.num(row["p50_ms"]),
                      units.num(row["low_ms"]), units.num(row["high_ms"]),
                      "yes" if row["supported"] else "[bold red]no[/]", escape("; ".join(row["notes"])))
    console().print(table)
