"""Calibrate stage: temperature scaling of the exported student (``calibration.temperature_scaling``).

The exported student is :func:`~edgekd.artifact.final_student`: the pruned one when pruning ran.
Its model is replaced by the temperature-scaled twin (see :mod:`edgekd.calibrate.temperature`);
the other artifacts are unchanged.
"""

from __future__ import annotations

from ..artifact import final_student
from ..stage import BuildContext, Stage
from ..state import BuildState
from .temperature import scale_student


def run(state: BuildState, ctx: BuildContext) -> BuildState:
    """Swap the exported student's model for its temperature-scaled twin and record T and ECE."""
    target = final_student(state.artifacts).name
    out = []
    info: dict = {"enabled": False}
    for art in state.artifacts:
        if art.name != target or art.model is None:
            out.append(art)
            continue
        scaled, info = scale_student(art.model, ctx.data)
        ctx.reporter.note(f"temperature scaling: T={info['temperature']:.3f} (val ECE "
                          f"{info['ece_before']['val']:.4f} -> {info['ece_after']['val']:.4f})")
        out.append(art.evolve(model=scaled).with_note(
            f"temperature scaling: logits divided by T={info['temperature']:.4f} ({info['folded_into']}), "
            f"fitted on the val split"))
    return state.evolve(artifacts=out, temperature_scaling=info)


STAGE = Stage(name="calibrate", run=run, reads=("config.calibration",),
              enabled=lambda config: config.calibration.temperature_scaling)
