"""Render the "Device latency" block of benchmarks/RESULTS.md from benchmarks/results/devices.json.

The block between ``<!-- devices:begin -->`` and ``<!-- devices:end -->`` is rewritten on every
run (tables only); the reading below it is written by hand from the numbers.
"""

from __future__ import annotations

from pathlib import Path

RESULTS_MD = Path(__file__).resolve().parents[1] / "RESULTS.md"
BEGIN, END = "<!-- devices:begin -->", "<!-- devices:end -->"


def _pct(value) -> str:
    return "–" if value is None else f"{100 * value:.0f}%"


def _num(value, digits: int = 3) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def _row(name: str, a: dict) -> str:
    return (f"| {name} | {a.get('n', 0)} | {_pct(a.get('within_10'))} | {_pct(a.get('within_30'))} | "
            f"{_num(a.get('median_abs_ln'))} | {_num(a.get('spearman'))} | {_num(a.get('geomean_ratio'), 2)} | "
            f"{_pct(a.get('coverage'))} |")


_HEAD = ("| {what} | n | within ±10% | within ±30% | median abs ln(pred/meas) | Spearman | geomean pred/meas | "
         "in band |\n|---|---:|---:|---:|---:|---:|---:|---:|")


def _table(what: str, groups: dict) -> list[str]:
    return [_HEAD.format(what=what)] + [_row(k, v) for k, v in groups.items()]


def markdown(result: dict) -> str:
    """The block's Markdown."""
    rows, loso = result["rows"], result["loso"]
    lines = ["## Device latency: predicted vs published on-device measurements (`make bench-devices`)", "",
             f"{rows['total']} published points (`benchmarks/devices/measurements.yaml`); {rows['predicted']} "
             f"predicted ({rows['no_profile']} on devices without a profile: RX, RH850, RISC-V); **{rows['in_scope']} "
             f"in scope** (a runtime edgekd models, a profile, threads known, FP32/INT8); {rows['reference']} "
             f"reference rows (other engines, TFLite Micro without CMSIS-NN, threads not stated, FP16), reported "
             f"apart.", "",
             "Headline = **leave-one-source-out** (each source predicted by coefficients fitted without it). "
             "Band = p50 x the 10th/90th percentile of those errors per family and device kind (phone, sbc, ...) "
             "where the kind has 20+ points, else per family.", "",
             *_table("in scope", {"leave-one-source-out": loso["overall"],
                                  "in-sample (fit on all)": result["in_sample"]["overall"],
                                  "priors only (no fit)": result["priors_only"]["overall"]}), "",
             *_table("device class (LOSO)", loso["by_device_class"]), "",
             *_table("precision / threads (LOSO)", loso["by_precision_threads"]), "",
             *_table("runtime family (LOSO)", loso["by_family"]), "",
             *_table("source held out", loso["by_source"]), ""]
    direction = result["int8_direction"]
    lines += ["INT8-vs-FP32 direction (same model, device, threads): " + ", ".join(
        f"{k} {v['right']}/{v['pairs']}" for k, v in direction.items()), ""]
    nested = result["band_nested_coverage"]
    band = result["band"]
    lines += ["Bands (LOSO errors, 10th-90th percentile; per device kind where a kind has 20+ points of the "
              "family, else per family): " + "; ".join(_band_text(f, b) for f, b in band.items())
              + f". Nested coverage (each source's band from the other sources' errors of its group): "
              f"{_pct(nested['coverage'])} of {nested['n']} ("
              + ", ".join(f"{g} {_pct(v['coverage'])} of {v['n']}" for g, v in nested["by_family"].items()) + ").", ""]
    base = result["baseline_roofline"]
    if base["rows"]:
        lines += [f"Before this model (roofline and profiles at {base['commit']}, rows on shipped profiles):", "",
                  *_table("device (before → after LOSO)", {
                      f"{k} before": v for k, v in base["before"]["by_device"].items()} | {
                      f"{k} after": v for k, v in base["after_loso"]["by_device"].items()}), ""]
    lines += ["Reference rows (not in the headline; in-sample coefficients, never fitted on these rows):", "",
              *_table("reference group", result["reference_rows"]["by_family"]), ""]
    lines += ["In-sample sources (every coefficient shipped in `edgekd/predict/device_coefficients.yaml` was fitted "
              "on these): " + "; ".join(f"{f}: {', '.join(s)}" for f, s in result["in_sample_sources"].items() if s)]
    return "\n".join(lines)


def _band_text(family: str, b: dict) -> str:
    text = f"{family} x{b['low']:.2f}..x{b['high']:.2f} ({b['points']} points)"
    kinds = ", ".join(f"{k} x{kb['low']:.2f}..x{kb['high']:.2f} ({kb['points']})"
                      for k, kb in b.get("by_kind", {}).items())
    return f"{text} [{kinds}]" if kinds else text


def render_section(result: dict, path: Path = RESULTS_MD) -> None:
    """Replace (or append) the devices block of RESULTS.md."""
    from edgekd.atomic import write_text

    block = f"{BEGIN}\n{markdown(result).rstrip()}\n{END}\n"
    text = path.read_text(encoding="utf-8") if path.exists() else "# Benchmark results\n"
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        text = head + block + rest.split(END, 1)[1].lstrip("\n")
    else:
        text = text.rstrip("\n") + "\n\n" + block
    write_text(path, text)
