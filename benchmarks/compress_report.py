"""RESULTS.md section of ``benchmarks/compress.py``: one table per student, every INT8 engine side by side."""

from __future__ import annotations

from pathlib import Path

from int8_engines import fallback_summary
from onnx_ops import breakdown_line

ROOT = Path(__file__).resolve().parents[1]
TASKS = ("embedded", "vision", "speech", "byo-speech")


def render_markdown(results: dict, section: str = "compress") -> str:
    """The RESULTS.md section for one run (tables from the results JSON), between ``section`` markers."""
    t = results["targets"]
    title = ("## Compression: FP32 vs INT8 engines, pruning + KD recovery (`make bench-compress`)"
             if "byo-speech" not in results else
             "## Compression of a student distilled from a third-party-style Keras teacher: FP32 vs INT8 engines "
             "(`make bench-compress-byo`)")
    lines = [f"<!-- {section}:start -->", title, "",
             f"{results['date_utc']}, {results['machine']['cpu']} ({results['machine']['cores']} cores, shared; "
             f"SIMD: {', '.join(results['machine'].get('cpu_features') or ['not recorded'])}), "
             f"{results['seconds']} s. Command: `{results['command']}`. Latency: one sample, interleaved A B A B in "
             f"one loop{_method(results)}, p50; ratios are vs the FP32 model of the same runtime. "
             "Accuracy-aware engines tune on the val split (budget: the drop target); test top-1 is held out. "
             "`build s`: wall time to make that file "
             "(the AI Edge Quantizer rows start from the FP32 `.tflite`, whose export is the fp32.tflite row). "
             f"Targets: INT8 top-1 drop ≤ {100 * t['max_int8_top1_drop']:.1f} point, INT8 latency ≤ "
             f"{t['max_int8_latency_ratio']}x FP32 on the best runtime.", ""]
    for task in TASKS:
        if task in results:
            lines += _task(task, results[task])
    return "\n".join(lines + [f"<!-- {section}:end -->"]) + "\n"


def _task(task: str, r: dict) -> list[str]:
    st = r["student"]
    teacher = "–" if r.get("teacher_test_top1") is None else f"{100 * r['teacher_test_top1']:.2f}%"
    lines = [f"### {task}: {r['data']['name']} ({r['data']['samples']}); teacher test top-1 {teacher}; student "
             f"{st['params']:,} params, {st['macs']:,} MACs", "",
             "| model | test top-1 | drop vs FP32 | p50 ms | p50 vs FP32 | bytes | build s | not int8 |",
             "|---|---:|---:|---:|---:|---:|---:|---|"]
    for key, m in st["models"].items():
        build = "–" if m.get("build_seconds") is None else m["build_seconds"]
        lines.append(f"| {key} | {100 * m['top1']:.2f}% | {100 * m['top1_drop_vs_fp32']:+.2f} | "
                     f"{m['latency_ms'].get('p50', float('nan')):.3f} | {m['p50_ratio_vs_fp32']:.2f}x | "
                     f"{m['bytes']:,} | {build} | {fallback_summary(key, st['int8_tuning'])} |")
    lines.append("")
    for key, tuning in st["int8_tuning"].items():
        lines.append(_tuning_line(key, tuning))
    if "onnx_op_us" in st:
        ops = st["onnx_op_us"]
        lines += ["", "ONNX Runtime's per-node profile, by layer kind, FP32 -> static INT8 (sums of per-node "
                  "kernel-time medians, the two models profiled side by side; the profiler adds its own cost to "
                  "every node, so for a model of many small nodes the sums exceed the p50 in the table): "
                  + breakdown_line(ops["fp32.onnx"], ops["int8-ort.onnx"])]
    v = r["verdict"]
    lines += ["", f"Best INT8 runtime within the drop target: {v['best_int8_runtime']} at {v['best_ratio']:.2f}x FP32 "
              f"(latency target met: {v['ratio_target_met']}); drop target met (test): "
              + ", ".join(f"{k} {'yes' if ok else 'no'}" for k, ok in v["drop_target_met"].items()) + ".", ""]
    if "pruning" in r:
        lines += _pruning(r)
    return lines


def _qat_probe(t: dict) -> str:
    """The probe KL per epoch and the kept epoch (runs before 2026-12-01 did not record them)."""
    if "probe_kl" not in t:
        return ""
    stopped = f"; stopped at {t['diverged']}" if t.get("diverged") else ""
    return (f"; on the representative samples, epoch 0 (untrained) first: "
            f"{', '.join(f'{v:.4f}' for v in t['probe_kl'])}; kept epoch {t['kept_epoch']}{stopped}")


def _tuning_line(key: str, t: dict) -> str:
    if "kl_per_epoch" in t:  # QAT: trained, not tuned on val
        kl = ", ".join(f"{v:.4f}" for v in t["kl_per_epoch"])
        return (f"- {key}: quantization-aware fine-tuning, {t['epochs']} epochs ({t['steps']} steps, batch "
                f"{t['batch_size']}, Adam lr {t['lr']:g}) towards the FP32 outputs on the train split; KL to FP32 "
                f"per epoch: {kl}{_qat_probe(t)}; no val tuning; time: train {t['seconds']['train']} s, convert "
                f"{t['seconds']['convert']} s.")
    ops = t.get("fallback_ops", t.get("float_ops", []))
    kind = t.get("fallback", "float")
    shown = ", ".join(ops[:6]) + (f", ... ({len(ops)} in all)" if len(ops) > 6 else "")
    extra = f"; INC ended with exit(0): {t['inc_exit']}" if "inc_exit" in t else ""
    seconds = t.get("seconds")
    split = (", ".join(f"{k} {v} s" for k, v in seconds.items()) if isinstance(seconds, dict)
             else (f"{seconds} s" if seconds is not None else ""))
    return (f"- {key}: {t['trials']} trials, val top-1 {100 * t['baseline_top1']:.2f}% FP32 -> {100 * t['top1']:.2f}% "
            f"(drop {100 * t['drop']:.2f} points), met budget: {t['met_budget']}; ops kept in {kind}: "
            f"{shown or 'none'}{extra}" + (f"; time: {split}" if split else "") + ".")


def _pruning(r: dict) -> list[str]:
    p, pruned = r["pruning"], r["pruned_student"]["models"]
    curve = ", ".join(f"{e['epoch']}: {100 * e['val_top1']:.2f}%" for e in p["recovery_curve"])
    return [f"Pruning to {p['target_macs_ratio']} of the MACs: MACs {p['macs_before']:,} -> {p['macs_after']:,}, "
            f"params {p['params_before']:,} -> {p['params_after']:,}; val top-1 "
            f"{100 * p['val_top1_before_pruning']:.2f}% -> {100 * p['val_top1_after_pruning']:.2f}% (pruned) -> "
            f"{100 * p['val_top1_after_recovery']:.2f}% after KD recovery (curve, val top-1 per epoch: {curve}); "
            f"pruned FP32 ONNX test top-1 {100 * pruned['fp32.onnx']['top1']:.2f}%, p50 "
            f"{pruned['fp32.onnx']['latency_ms']['p50']:.3f} ms vs unpruned "
            f"{pruned['unpruned-fp32.onnx']['latency_ms']['p50']:.3f} ms.", ""]


def write_results_md(section: str, text: str, path: Path = ROOT / "benchmarks/RESULTS.md") -> None:
    """Replace this run's section of RESULTS.md (between its ``section`` markers), or append it."""
    from edgekd import atomic

    doc = path.read_text() if path.exists() else "# Benchmark results\n\n"
    begin, end = f"<!-- {section}:start -->", f"<!-- {section}:end -->"
    start, stop = doc.find(begin), doc.find(end)
    if start >= 0 and stop > start:
        doc = doc[:start] + text + doc[stop + len(end) + 1:]
    else:
        doc = doc.rstrip("\n") + "\n\n" + text
    atomic.write_text(path, doc)


def _method(results: dict) -> str:
    """How the latency loop ran (runs before 2026-11-30 timed one wall-clock call per turn)."""
    method = next((results[t]["student"].get("latency_method") for t in TASKS if t in results), None)
    if not method:
        return " (one call per turn, wall clock)"
    clock = "the thread's CPU clock" if method["clock"] == "thread_cpu" else "the wall clock"
    return f" (turns of {method['burst']} back-to-back calls, the first untimed; {clock})"
