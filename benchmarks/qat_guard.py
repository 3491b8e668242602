"""QAT's kept-state guard on a real student (`make bench-qat-guard`).

The build's QAT (``quantize.tflite_engine: qat``, or ``auto`` after a post-training miss) ships
the fake-quant state with the lowest KL to the FP32 model on the representative samples, the
untrained post-training ranges (epoch 0) included. This runs it on ``make bench-compress``'s
speech student (FSDD, its saved weights) at the default learning rate and at two that are far
too high, then once more at the first of those with the guard off (the last epoch shipped, as
before the guard), and scores every written ``.tflite`` on the test split (held out: QAT and
its guard see only train and the representative samples).

    python benchmarks/qat_guard.py [--lrs 1e-5 1e-3 1e-2] [--epochs 2] [--out FILE]
"""

from __future__ import annotations

import argparse
import datetime
import json
import time
from pathlib import Path

from vision_common import ROOT, atomic, load_config, machine, write_section

STUDENT = ROOT / "benchmarks" / "work" / "compress" / "speech-student.pt"


def run(lrs: list[float], epochs: int, folder: Path) -> dict:
    """QAT at each learning rate (guarded), then the first too-high one unguarded; test top-1 of each."""
    import torch
    from compress import _load_saved, saved_student

    import edgekd.quantize.tflite_qat as qat
    from edgekd.data import load_data
    from edgekd.quantize.engines import tflite_top1

    saved = _load_saved(STUDENT)
    data = load_data(load_config(ROOT / "benchmarks" / "speech.yaml", saved["overrides"]))
    student = saved_student(saved, STUDENT, data)
    x_test, y_test = data.test.numpy()
    with torch.no_grad():
        fp32 = float((student.model(torch.from_numpy(x_test)).argmax(1).numpy() == y_test).mean())
    runs = []
    plan = [(lr, True) for lr in lrs] + [(lr, False) for lr in lrs[1:2]]
    for lr, guarded in plan:
        started, real_probe = time.perf_counter(), qat._probe_kl
        if not guarded:  # every epoch "improves": the last one is shipped
            qat._probe_kl = _always_lower()
        try:
            path = folder / f"qat-lr{lr:g}{'' if guarded else '-unguarded'}.tflite"
            result = qat.qat_tflite_int8(student.model, data.input_shape, path, train=data.train, epochs=epochs,
                                         representative=data.representative.x.numpy(), lr=lr, seed=0)
        finally:
            qat._probe_kl = real_probe
        runs.append({"lr": lr, "guarded": guarded, "test_top1": tflite_top1(path, x_test, y_test),
                     **{k: result[k] for k in ("kl_per_epoch", "kept_epoch", "diverged")},
                     "probe_kl": result["probe_kl"] if guarded else None,
                     "seconds": round(time.perf_counter() - started, 1)})
        print(json.dumps(runs[-1]), flush=True)
    return {"fp32_test_top1": fp32, "test_samples": int(len(y_test)), "epochs": epochs, "runs": runs}


def _always_lower():
    """A probe that reports a lower KL at every call (the guard then keeps the last epoch)."""
    ticks = iter(range(1, 1_000_000))
    return lambda *_args: 1.0 / next(ticks)


def render(results: dict) -> str:
    """The RESULTS.md section."""
    m = results["machine"]
    lines = ["## QAT ships its best state: the guard on the speech student (`make bench-qat-guard`)", "",
             f"{m['date']} · {m['cpu']} · torch {m['torch']} · {results['epochs']} QAT epochs, Adam, batch 64 · "
             f"FP32 test top-1 {100 * results['fp32_test_top1']:.2f}% ({results['test_samples']} clips, held out)", "",
             "| lr | guard | KL to FP32, train mean per epoch | KL on the representative samples, epoch 0 first "
             "| shipped | test top-1 |", "|---:|---|---|---|---|---:|"]
    for r in results["runs"]:
        probe = ", ".join(f"{v:.4f}" for v in r["probe_kl"]) if r["probe_kl"] else "not measured"
        shipped = "last epoch" if not r["guarded"] else (
            "epoch 0 (post-training ranges)" if r["kept_epoch"] == 0 else f"epoch {r['kept_epoch']}")
        lines.append(f"| {r['lr']:g} | {'on' if r['guarded'] else 'off'} | "
                     f"{', '.join(f'{v:.4f}' for v in r['kl_per_epoch'])} | {probe} | {shipped} | "
                     f"{100 * r['test_top1']:.2f}% |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lrs", type=float, nargs="+", default=[1e-5, 1e-3, 1e-2])
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "qat-guard.json")
    args = parser.parse_args()
    if not STUDENT.exists():
        raise SystemExit(f"error: {STUDENT} does not exist; run `make bench-compress COMPRESS_ARGS=--train-here` first")
    folder = ROOT / "benchmarks" / "work" / "qat-guard"
    folder.mkdir(parents=True, exist_ok=True)
    results = {"benchmark": "qat-guard", "machine": machine(), **run(args.lrs, args.epochs, folder),
               "finished_utc": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")}
    atomic.write_json(args.out, results)
    write_section("qat-guard", render(results))
    print(render(results))


if __name__ == "__main__":
    main()
