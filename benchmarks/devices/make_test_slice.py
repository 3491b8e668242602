"""Write the in-repo validation slice the test suite checks (tests/predict/data/device_slice.json).

The slice: the first in-scope published row of each (shipped profile, runtime family, precision)
in table order, plus the Coral Dev Board's ResNet-50 (the Edge TPU parameter-cache overflow case),
each with its source and the cost rows of its network (costed ops only; folded ops cost nothing).
The test predicts them with the shipped profiles and coefficients and checks them against the band
``benchmarks/devices/validate.py`` reports. Rerun after ``make bench-devices``::

    .venv/bin/python benchmarks/devices/make_test_slice.py
"""

from __future__ import annotations

import json
import sys
from dataclasses import asdict
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from benchmarks.devices.costs import load_rows  # noqa: E402
from benchmarks.devices.dataset import load_rows_table  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "tests" / "predict" / "data" / "device_slice.json"
SHIPPED = {p.stem for p in (ROOT / "edgekd" / "profiles").glob("*.yaml")}
FIELDS = ["name", "op_type", "op_class", "precision", "macs", "ops", "bytes_read", "bytes_written", "shape"]


def _plain(value):
    return asdict(value) if hasattr(value, "__dataclass_fields__") else value


def main() -> int:
    import yaml

    from edgekd.atomic import write_text

    raw = yaml.safe_load((Path(__file__).with_name("measurements.yaml")).read_text())["measurements"]
    chosen, seen = [], set()
    for row in load_rows_table():
        if not row.in_scope or row.ops is None or row.profile_name not in SHIPPED:
            continue
        key = (row.profile_name, row.family, row.precision)
        extra = row.profile_name == "coral-dev-board" and row.model == "resnet50_v1_299"
        if key in seen and not extra:
            continue
        seen.add(key)
        graph = "int8" if row.precision == "int8" else "fp32"
        costs = [[_plain(getattr(c, f)) for f in FIELDS] for c in load_rows(row.model, graph) if not c.folded]
        chosen.append({"model": row.model, "device": row.device, "profile": row.profile_name, "runtime": row.family,
                       "precision": row.precision, "threads": row.run_threads, "measured_ms": row.measured_ms,
                       "source": raw[row.index]["source"], "cost_rows": costs})
    write_text(OUT, json.dumps({"note": __doc__.splitlines()[0], "cost_fields": FIELDS, "rows": chosen},
                               separators=(",", ":")) + "\n")
    print(f"{len(chosen)} rows -> {OUT}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
