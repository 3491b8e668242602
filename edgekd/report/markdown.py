"""report.md: the human-readable twin of report.json."""

from __future__ import annotations

from typing import Any


def render_markdown(report: dict[str, Any]) -> str:
    """Render a report dict as Markdown (models, budgets, notes)."""
    target = report["target"]
    verdict = "PASSED" if report["passed"] else "FAILED"
    lines = [
        f"# edgekd build report — {target['name']}: {verdict}",
        "",
        f"edgekd {report['edgekd_version']}, {report['created_utc']}, {report['duration_s']} s on "
        f"{report['host']['cpu']} ({report['host']['cores']} cores). Data: {report['data']['name']} "
        f"({report['data']['samples']['test']} test samples). Deployable model: **{report['chosen']}**.",
        "",
        "## Models",
        "",
        "| model | format | precision | params | MACs | size | top-1 | agree w/ teacher | ECE | host p50 / p90 ms "
        f"| predicted on {target['name']} ms | weights | arena |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    lines += [_model_row(m) for m in report["models"]]
    lines += _prediction_methods(report["models"], target["name"])
    lines += ["", "## Budgets", "", "| metric | limit | value | model | result |", "|---|---:|---:|---|---|"]
    for b in report["budgets"]:
        result = "pass" if b["passed"] else "**MISS**"
        lines.append(f"| {b['metric']} | {_num(b['limit'])} | {_num(b['value'])} | {b['model']} | {result} |")
    lines += _cross_target(report)
    failures = report.get("conversion_failures") or []
    if failures:
        lines += ["", "## Conversion failures", ""] + [f"- {f['error']}" for f in failures]
    notes = [(m["name"], n) for m in report["models"] for n in m.get("notes", [])]
    if notes:
        lines += ["", "## Notes", ""] + [f"- **{name}**: {note}" for name, note in notes]
    return "\n".join(lines) + "\n"


def _cross_target(report: dict[str, Any]) -> list[str]:
    from .cross_target import cross_target_markdown  # it renders with this module's number formats

    return cross_target_markdown(report)


def _prediction_methods(models: list[dict[str, Any]], target: str) -> list[str]:
    """A line naming the measured runtime models used, when any was (the roofline is the default)."""
    methods = {}
    for m in models:
        method = ((m.get("latency_ms") or {}).get("predicted") or {}).get("method", "roofline")
        if method != "roofline":
            methods.setdefault(method.split(":", 1)[1], []).append(m["name"])
    if not methods:
        return []
    used = "; ".join(f"{runtime} model for {', '.join(names)}" for runtime, names in methods.items())
    return ["", f"Predicted latency on {target}: the runtime models measured on it ({used}); "
                "the per-op roofline from spec figures for the other models."]


def _model_row(m: dict[str, Any]) -> str:
    acc = m.get("accuracy") or {}
    cal = m.get("calibration") or {}
    lat = m.get("latency_ms") or {}
    host = lat.get("host") or {}
    pred = lat.get("predicted") or {}
    mem = m.get("memory") or {}
    host_text = f"{_num(host.get('p50'))} / {_num(host.get('p90'))}" if host else "—"
    pred_text = f"{_num(pred.get('p50'))} [{_num(pred.get('low'))}–{_num(pred.get('high'))}]" if pred else "—"
    return (f"| {m['name']} | {m['format']} | {m['precision']} | {m['params']:,} | {m['macs']:,} "
            f"| {_bytes(m.get('size_bytes'))} | {_pct(acc.get('top1'))} | {_pct(acc.get('agreement_with_teacher'))} "
            f"| {_num(cal.get('ece'))} | {host_text} | {pred_text} | {_bytes(mem.get('weights_bytes'))} "
            f"| {_bytes(mem.get('peak_activation_bytes'))} |")


def _num(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        # Byte counts and other large integral figures read better with separators.
        return f"{int(value):,}" if value.is_integer() and abs(value) >= 1e4 else f"{value:.4g}"
    return f"{value:,}" if isinstance(value, int) else str(value)


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.2f}%"


def _bytes(value: int | None) -> str:
    if value is None:
        return "—"
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(value) < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return str(value)
