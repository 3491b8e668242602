"""Validate edgekd's device latency model against the published measurements (``make bench-devices``).

1. Every row of ``measurements.yaml`` gets its profile (``profiles/index.yaml``), runtime family
   and scope (``dataset.py``), and the op arrays of its network's cost table (``costs.py``:
   ONNX FP32 for FP32/FP16 rows, onnxruntime QDQ INT8 for INT8 rows).
2. Each family's coefficients are fitted on all in-scope rows (``fit.py``; **in-sample**), and
   again once per source with that source's rows left out, predicting them (**leave-one-source-
   out**, the headline). Predictions from the first-principles priors alone (no fit) and from the
   profiles edgekd shipped before this model (the roofline at commit cebc830) are reported too.
3. Bands: per family, the 10th/90th percentiles of the leave-one-source-out log errors; their
   coverage is checked nested (each source's band comes from the other sources' errors).
4. Results go to ``benchmarks/results/devices.json`` and the "Device latency" section of
   ``benchmarks/RESULTS.md``; ``--write`` also rewrites ``edgekd/predict/device_coefficients.yaml``
   (the coefficients edgekd ships, with the sources they were fitted on and the band).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from benchmarks.devices.dataset import load_rows_table  # noqa: E402
from benchmarks.devices.fit import Batch, fit_family  # noqa: E402
from benchmarks.devices.metrics import band_factors, breakdown, int8_direction, nested_band_coverage  # noqa: E402
from edgekd.predict.device_coefficients import COEFFICIENTS_FILE, FAMILIES, PRIORS, base_family  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "benchmarks" / "results" / "devices.json"
BASELINE_COMMIT = "cebc830"  # the profiles and roofline edgekd shipped before the device model
MIN_KIND_POINTS = 20  # fewer rows of a device kind: its rows use the family's band


def _family_rows(rows, family):
    return [r for r in rows if base_family(r.family) == family]


def fit_all(scope) -> dict:
    """Coefficients of every family fitted on all in-scope rows (litert first: the Edge TPU's fallback uses it)."""
    coef: dict[str, dict] = {}
    for family in FAMILIES:
        rows = _family_rows(scope, family)
        if rows:
            coef[family] = fit_family(Batch(rows, family, coef.get("litert")))
    return coef


def predict(rows, coef: dict) -> dict:
    """Row index -> predicted ms under per-family ``coef``."""
    out = {}
    for family in FAMILIES:
        fam_rows = _family_rows(rows, family)
        if fam_rows:
            seconds = Batch(fam_rows, family, coef.get("litert")).predict(coef[family])
            out.update({r.index: float(s) * 1e3 for r, s in zip(fam_rows, seconds)})
    return out


def leave_one_source_out(scope, full: dict) -> tuple[dict, dict]:
    """Predictions of every in-scope row by coefficients fitted without its source; and those coefficients."""
    pred, by_source = {}, {}
    for source in sorted({r.source for r in scope}):
        held = [r for r in scope if r.source == source]
        coef = dict(full)
        for family in FAMILIES:
            train = [r for r in _family_rows(scope, family) if r.source != source]
            if any(base_family(r.family) == family for r in held) and train:
                coef[family] = fit_family(Batch(train, family, coef.get("litert")), start=full[family])
        pred.update(predict(held, coef))
        by_source[source] = {f: coef[f] for f in FAMILIES if any(base_family(r.family) == f for r in held)}
    return pred, by_source


def baseline(rows) -> dict:
    """Predictions of the shipped roofline with the profiles as of ``BASELINE_COMMIT`` (shipped profiles only)."""
    import subprocess

    import yaml

    from benchmarks.devices.costs import load_rows
    from edgekd.predict.latency import roofline_latency
    from edgekd.targets import profile_from_dict

    out, old = {}, {}
    for r in rows:
        name = r.profile_name
        if name not in old:
            try:
                text = subprocess.run(["git", "show", f"{BASELINE_COMMIT}:edgekd/profiles/{name}.yaml"], cwd=ROOT,
                                      capture_output=True, text=True, check=True).stdout
                old[name] = profile_from_dict(yaml.safe_load(text), name)
            except subprocess.CalledProcessError:
                old[name] = None
        if old[name] is None or r.precision not in ("fp32", "int8"):
            continue
        graph = load_rows(r.model, r.precision)
        threads = r.threads if r.family in ("litert", "tflite-builtin") and r.threads else None
        out[r.index] = roofline_latency(graph, old[name], r.precision, threads)["p50"]
    return out


def bands(scope, loso: dict) -> dict:
    """Per family: the (low, high) multipliers from leave-one-source-out errors; and per device kind
    (phone, sbc, ...) where a kind has at least MIN_KIND_POINTS rows of the family.

    One band per family was as wide as its worst device kind made it for every device (a phone user
    got the Raspberry Pis' spread) and still too narrow for the kind that widened it.
    """
    out = {}
    for family in FAMILIES:
        rows = _family_rows(scope, family)
        if not rows:
            continue
        out[family] = _band(rows, loso)
        by_kind = {k: [r for r in rows if r.profile.kind == k] for k in sorted({r.profile.kind for r in rows})}
        if len(by_kind) > 1:
            out[family]["by_kind"] = {k: _band(v, loso) for k, v in by_kind.items() if len(v) >= MIN_KIND_POINTS}
    return out


def _band(rows, loso: dict) -> dict:
    low, high = band_factors([np.log(r.measured_ms / loso[r.index]) for r in rows])
    return {"low": low, "high": high, "points": len(rows)}


def band_for(band: dict, r) -> dict:
    """The band a row is judged with: its device kind's, else its family's."""
    fam = band[base_family(r.family)]
    return fam.get("by_kind", {}).get(r.profile.kind, fam)


def band_group(band: dict, r) -> str:
    """The calibration group of a row: family/kind when the kind has its own band, else the family."""
    fam = base_family(r.family)
    return f"{fam}/{r.profile.kind}" if r.profile.kind in band[fam].get("by_kind", {}) else fam


def summarise(rows, pred: dict, band: dict | None = None) -> dict:
    """Agreement overall, per device class, per precision/threads, per family and per source."""
    band_of = None
    if band is not None:
        def band_of(r):
            b = band_for(band, r)
            return b["low"], b["high"]
    everything = breakdown(rows, pred, lambda r: "all", band_of).get("all", {"n": 0})
    return {"overall": everything,
            "by_device_class": breakdown(rows, pred, lambda r: r.device_class, band_of),
            "by_precision_threads": breakdown(rows, pred, lambda r: f"{r.precision}/{r.run_threads}t", band_of),
            "by_family": breakdown(rows, pred, lambda r: r.family, band_of),
            "by_source": breakdown(rows, pred, lambda r: r.source, band_of),
            "by_device": breakdown(rows, pred, lambda r: r.device, band_of)}


def run(write: bool) -> dict:
    rows = load_rows_table()
    usable = [r for r in rows if r.ops is not None]
    scope = [r for r in usable if r.in_scope]
    reference = [r for r in usable if not r.in_scope]
    full = fit_all(scope)
    in_sample = predict(usable, full)
    priors = predict(usable, {f: {k: v for k, (v, _s) in PRIORS[f].items()} for f in FAMILIES})
    loso, loso_coef = leave_one_source_out(scope, full)
    band = bands(scope, loso)
    base = baseline(scope)
    based = [r for r in scope if r.index in base]
    result = {
        "rows": {"total": len(rows), "predicted": len(usable), "in_scope": len(scope), "reference": len(reference),
                 "no_profile": sum(r.profile_name is None for r in rows),
                 "missing_cost_table": sum(r.profile_name is not None and r.ops is None for r in rows)},
        "in_sample_sources": {f: sorted({r.source for r in _family_rows(scope, f)}) for f in FAMILIES},
        "loso": summarise(scope, loso, band), "in_sample": summarise(scope, in_sample),
        "priors_only": summarise(scope, priors), "reference_rows": summarise(reference, in_sample),
        "band": band, "band_nested_coverage": nested_band_coverage(scope, loso, lambda r: band_group(band, r)),
        "int8_direction": {"loso": int8_direction(scope, loso), "in_sample": int8_direction(scope, in_sample),
                           "priors_only": int8_direction(scope, priors)},
        "baseline_roofline": {"commit": BASELINE_COMMIT, "rows": len(based),
                              **{k: summarise(based, p) for k, p in (("before", base), ("after_loso", loso))}},
        "coefficients": full, "loso_coefficients": loso_coef,
        "points": [_point(r, in_sample, loso, priors, base, band) for r in usable],
    }
    if write:
        write_coefficients(full, band, scope)
    return result


def _point(r, in_sample, loso, priors, base, band) -> dict:
    fam = base_family(r.family) if r.family else None
    out = {"index": r.index, "model": r.model, "device": r.device, "device_class": r.device_class,
           "precision": r.precision, "threads": r.threads, "run_threads": r.run_threads, "family": r.family,
           "profile": r.profile_name, "source": r.source, "runtime": r.runtime, "in_scope": r.in_scope,
           "reason": r.reason, "measured_ms": r.measured_ms, "in_sample_ms": in_sample.get(r.index),
           "priors_ms": priors.get(r.index), "loso_ms": loso.get(r.index), "baseline_ms": base.get(r.index)}
    if r.index in loso and fam in band:
        b = band_for(band, r)
        out.update(low_ms=loso[r.index] * b["low"], high_ms=loso[r.index] * b["high"])
    return out


def write_coefficients(full: dict, band: dict, scope) -> None:
    """Write the shipped coefficient file: values, band and the sources they are fitted on."""
    import yaml

    from edgekd.atomic import write_text

    families = {}
    for family, coef in full.items():
        rows = _family_rows(scope, family)
        sources = sorted({r.source for r in rows})
        b = band[family]
        families[family] = {
            "coefficients": {k: float(f"{v:.6g}") for k, v in coef.items()},
            "band": _band_record(b, f"published {family} measurements ({len(sources)} sources)"),
            "fitted_on": {"points": len(rows), "sources": sources}}
        if b.get("by_kind"):
            families[family]["bands_by_kind"] = {
                kind: _band_record(kb, f"published {family} measurements on {kind} devices")
                for kind, kb in b["by_kind"].items()}
    header = ("# Device cost model coefficients, fitted by benchmarks/devices/validate.py --write on the published\n"
              "# measurements of benchmarks/devices/measurements.yaml (the sources listed are in-sample).\n"
              "# Do not edit by hand: rerun `make bench-devices`.\n")
    write_text(COEFFICIENTS_FILE, header + yaml.safe_dump({"schema_version": 1, "families": families},
                                                          sort_keys=False, width=120))


def _band_record(b: dict, what: str) -> dict:
    return {"low": round(b["low"], 4), "high": round(b["high"], 4),
            "description": (f"10th-90th percentile of leave-one-source-out errors over {b['points']} {what}: "
                            f"p50 x {b['low']:.2f} .. p50 x {b['high']:.2f}")}


def main(argv: list[str] | None = None) -> int:
    """Command line: ``--write`` rewrites the shipped coefficients; ``--no-render`` skips RESULTS.md."""
    from benchmarks.devices.render import render_section
    from edgekd.atomic import write_json

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="rewrite edgekd/predict/device_coefficients.yaml")
    parser.add_argument("--no-render", action="store_true")
    args = parser.parse_args(argv)
    result = run(args.write)
    write_json(RESULTS, result)
    if not args.no_render:
        render_section(result)
    o = result["loso"]["overall"]
    print(f"in scope {o['n']}: LOSO within 30% {o['within_30']:.0%}, within 10% {o['within_10']:.0%}, "
          f"Spearman {o.get('spearman', float('nan')):.3f}, median |ln| {o['median_abs_ln']:.3f}, "
          f"coverage {o.get('coverage', float('nan')):.0%}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
