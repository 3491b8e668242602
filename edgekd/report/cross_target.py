"""The cross-target table: where else the chosen model fits, as plain cells for every renderer.

One row per profile in the targets folder (``report["predicted_on_targets"]``, written by the
predict stage with :func:`edgekd.predict.cross_target.fit_on`): the predicted latency, the
model size and the RAM it would need there, and the verdict of that profile's budgets. The
console, report.md and report.html render the same cells.
"""

from __future__ import annotations

from typing import Any

from .units import num as _num
from .units import size as _bytes

HEADER = ("profile", "kind", "runs as-is", "predicted ms p50 [low–high]", "p90 budget ms", "model size",
          "RAM needed", "fits", "missed budgets")
NUMERIC = frozenset({3, 4, 5, 6})


def cross_target_cells(report: dict[str, Any]) -> list[list[str]]:
    """Plain-text cells of the cross-target table (an empty list when nothing was predicted)."""
    rows = []
    for r in report.get("predicted_on_targets") or []:
        latency = "—" if r.get("p50") is None else f"{_num(r['p50'])} [{_num(r.get('low'))}–{_num(r.get('high'))}]"
        runs = r.get("runs_as_is", r.get("supported"))
        missed = [b["metric"] for b in r.get("budgets") or [] if not b["passed"]]
        fits = r.get("fits")
        rows.append([r["target"], r.get("kind", ""), "—" if runs is None else ("yes" if runs else "no"), latency,
                     _num(r.get("budget_ms")), _bytes(r.get("model_bytes")), _bytes(r.get("peak_ram_bytes")),
                     "—" if fits is None else ("yes" if fits else "no"),
                     ", ".join(missed) or ("—" if r.get("error") is None else r["error"])])
    return rows


def cross_target_markdown(report: dict[str, Any]) -> list[str]:
    """report.md lines of the table (a heading, a reading, the table); none when nothing was predicted."""
    rows = cross_target_cells(report)
    if not rows:
        return []
    lines = ["", f"## {report.get('chosen')} on every profile", "",
             "Predicted from the graph (latency upper bound judged against each profile's p90 budget); model "
             "size measured; accuracy and calibration measured once on the host's test split. \"runs as-is\": "
             "the profile lists this model's format and precision.", "",
             "| " + " | ".join(HEADER) + " |",
             "|" + "|".join("---:" if i in NUMERIC else "---" for i in range(len(HEADER))) + "|"]
    lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in rows]
    return lines


# What a profile may change and still describe the device the build costed: its budgets and its labels.
NOT_THE_DEVICE = frozenset({"name", "aliases", "description", "budgets"})


def same_device(built_target: dict[str, Any], profile: Any) -> bool:
    """True when ``profile`` differs from the report's own target only in budgets and labels.

    A user who tightens the budgets in a copy of the profile (``my-pi4.yaml``: same hardware,
    runtime and formats) checks the build's own predictions against new budgets; nothing needs
    re-costing, so ``retarget`` (and its refusal of profiles the build never costed) does not apply.
    """
    mine = profile.model_dump(mode="json")
    return all(built_target.get(key) == value for key, value in mine.items() if key not in NOT_THE_DEVICE)


def retarget(report: dict[str, Any], artifacts: list, profile: Any) -> list:
    """The report's artifacts with latency as predicted on ``profile``, for `check --target` on another device.

    A build predicts its artifacts' latency on its own target; the predict stage costs only the
    deployable model on every other profile (``predicted_on_targets``). Judging another profile's
    latency budget with the build target's prediction would pass a 20 ms microcontroller budget on a
    Pi 4's 1.4 ms, so the costed row replaces the prediction, and every other student loses its own.

    Raises:
        BadInputError: the report has no row for ``profile`` (a profile added after the build), or
            ``profile`` would ship a model of another precision than the one costed there, or the
            build exported no model ``profile`` runs.
    """
    from ..artifact import choose_deployable
    from ..errors import BadInputError

    built_for = report["target"]["name"]
    fix = f"rebuild with --target {profile.name}, or check against the build's own target ({built_for})"
    rows = {r["target"]: r for r in report.get("predicted_on_targets") or []}
    row = rows.get(profile.name)
    if row is None:
        listed = ", ".join(sorted(rows)) or "none"
        raise BadInputError(f"the report (built for {built_for}) has no latency prediction for {profile.name} "
                            f"(profiles it predicted: {listed})", fix=fix)
    shipped = choose_deployable(artifacts, profile)
    # The row costs the deployable network at its precision; another format of it (the profile's own,
    # e.g. .tflite where the build chose .onnx) is the same graph at the same precision.
    if profile.kind != "host" and (shipped is None or shipped.format == "torch"):
        raise BadInputError(f"the build exported no model {profile.name} runs (formats {', '.join(profile.formats)}; "
                            f"precisions {', '.join(profile.precisions)})", fix=fix)
    if profile.kind != "host" and shipped is not None and shipped.precision != row.get("precision"):
        raise BadInputError(f"{profile.name} would ship {shipped.name} ({shipped.precision}), but the build costed "
                            f"only its {row.get('precision')} model there", fix=fix)
    for art in artifacts:
        latency = art.metrics.get("latency_ms")
        if art.role != "student" or not isinstance(latency, dict):
            continue
        mine = art is shipped
        latency["predicted"] = ({"p50": row.get("p50"), "low": row.get("low"), "high": row.get("high")}
                                if mine else None)
    return artifacts
