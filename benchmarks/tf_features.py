"""edgekd's TensorFlow-style audio features vs ``tf.signal`` on every FSDD recording.

For each setting, every clip of ``../shared/data/fsdd/recordings`` is read and cut/padded
as TF pipelines do (first second kept, zeros at the end), then featurised twice: by the
TensorFlow tutorials' pipeline (``tf.signal.stft`` → ``abs`` → ``linear_to_mel_weight_matrix``
→ ``log(x + 1e-6)`` → ``mfccs_from_log_mel_spectrograms``) and by edgekd's front end with
``preset: tensorflow-kws`` in torch and, exported, in onnxruntime. Also: how far the features
move when one TF convention is switched back to edgekd's own default. Writes
``benchmarks/results/tf-features.json`` and the tf-features section of ``benchmarks/RESULTS.md``.
"""

from __future__ import annotations

import argparse
import json
import time
import warnings

import numpy as np
import torch
from vision_common import ROOT, atomic, machine, write_section

from edgekd.data.audio_frontend import LogMelFrontend, onnx_bytes
from edgekd.data.audio_io import fix_length, read_wav
from edgekd.data.schema import AudioFeatures

FSDD = ROOT.parent / "shared" / "data" / "fsdd" / "recordings"
OUT = ROOT / "benchmarks" / "results" / "tf-features.json"
# (name, sample rate, feature keys): FSDD as recorded, and resampled to the 16 kHz of KWS models.
SETTINGS = [
    ("8 kHz, 30/20 ms, fft 256, 40 mels 20-4000 Hz", 8000, {"n_mels": 40, "fmin": 20.0, "fmax": 4000.0}),
    ("16 kHz, 30/20 ms, fft 512, 40 mels 20-4000 Hz", 16000, {"n_mels": 40, "fmin": 20.0, "fmax": 4000.0}),
    ("16 kHz, as above + peak normalisation", 16000, {"n_mels": 40, "fmin": 20.0, "fmax": 4000.0,
                                                      "peak_normalize": True}),
    ("16 kHz, 80 mels 80-7600 Hz (tf.signal docs example)", 16000, {"n_mels": 80, "fmin": 80.0, "fmax": 7600.0}),
]
ABLATIONS = {"framing": "centred", "spectrum": "power", "mel_weights": "htk", "dct": "ortho", "log_offset": 1e-4}


def load_clips(rate: int, limit: int | None) -> np.ndarray:
    files = sorted(FSDD.glob("*.wav"))[:limit]
    return np.stack([fix_length(read_wav(f, rate, resample=True, mix_to_mono=False), rate, "start") for f in files])


def tf_reference(waves: np.ndarray, rate: int, cfg: AudioFeatures, dtype: str = "float32") -> dict[str, np.ndarray]:
    """The TF pipeline; in float64 it is the near-exact value both float32 implementations are judged against."""
    import tensorflow as tf

    x = tf.constant(waves.astype(dtype))
    if cfg.peak_normalize:
        x = x / tf.reduce_max(tf.abs(x), axis=-1, keepdims=True)
    n_fft, win, hop = cfg.frames_in_samples(rate)
    stft = tf.signal.stft(x, frame_length=win, frame_step=hop)
    weights = tf.signal.linear_to_mel_weight_matrix(cfg.n_mels, n_fft // 2 + 1, rate, cfg.fmin, cfg.fmax,
                                                    dtype=tf.as_dtype(dtype))
    log_mel = tf.math.log(tf.tensordot(tf.abs(stft), weights, 1) + cfg.log_offset)
    return {"logmel": log_mel.numpy(), "mfcc": tf.signal.mfccs_from_log_mel_spectrograms(log_mel)[..., :13].numpy()}


def edgekd_features(waves: np.ndarray, rate: int, cfg: AudioFeatures, runtime: str = "torch") -> dict:
    out = {}
    for kind in ("logmel", "mfcc"):
        frontend = LogMelFrontend(cfg.model_copy(update={"type": kind, "n_mfcc": 13}), rate).eval()
        if runtime == "torch":
            with torch.inference_mode():
                out[kind] = torch.cat([frontend(torch.from_numpy(waves[i:i + 256]))
                                       for i in range(0, len(waves), 256)])[:, 0].numpy()
        else:
            import onnxruntime as ort

            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                session = ort.InferenceSession(onnx_bytes(frontend, waves.shape[1]), providers=["CPUExecutionProvider"])
            out[kind] = np.concatenate([session.run(None, {"waveform": waves[i:i + 256]})[0]
                                        for i in range(0, len(waves), 256)])[:, 0]
    return out


def compare(got: dict, ref: dict) -> dict:
    result = {}
    for kind in ("logmel", "mfcc"):
        diff = np.abs(got[kind] - ref[kind])
        span = float(ref[kind].max() - ref[kind].min())
        result[kind] = {"max_abs_diff": float(diff.max()), "p99_99_abs_diff": float(np.quantile(diff, 0.9999)),
                        "mean_abs_diff": float(diff.mean()), "range": span,
                        "max_diff_over_range": float(diff.max()) / span}
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=None, help="first N files only (quick check)")
    parser.add_argument("--render-only", action="store_true", help="rewrite the RESULTS.md section from the JSON")
    args = parser.parse_args()
    if args.render_only:
        write_section("tf-features", render(json.loads(OUT.read_text())))
        return
    import tensorflow as tf

    started = time.perf_counter()
    settings = []
    for name, rate, keys in SETTINGS:
        waves = load_clips(rate, args.limit)
        cfg = AudioFeatures(preset="tensorflow-kws", **keys)
        ref, exact = tf_reference(waves, rate, cfg), tf_reference(waves, rate, cfg, "float64")
        ours = edgekd_features(waves, rate, cfg)
        entry = {"name": name, "sample_rate": rate, "keys": keys, "clips": len(waves),
                 "frames": int(ref["mfcc"].shape[1]), "torch": compare(ours, ref),
                 "onnxruntime": compare(edgekd_features(waves, rate, cfg, "onnxruntime"), ref),
                 "float64": {"tf_signal_float32": compare(ref, exact), "edgekd_float32": compare(ours, exact)}}
        if not keys.get("peak_normalize"):
            entry["ablations"] = {key: compare(edgekd_features(waves, rate, cfg.model_copy(update={key: value})), ref)
                                  for key, value in ABLATIONS.items()}
        settings.append(entry)
        print(name, {k: entry["torch"][k]["max_abs_diff"] for k in ("logmel", "mfcc")}, flush=True)
    results = {"machine": machine(), "tensorflow": tf.__version__, "data": str(FSDD.relative_to(ROOT.parent)),
               "settings": settings, "wall_s": time.perf_counter() - started}
    atomic.write_json(OUT, results)
    write_section("tf-features", render(results))


def render(results: dict) -> str:
    """The RESULTS.md section."""
    m = results["machine"]
    lines = ["## TensorFlow-compatible audio features vs `tf.signal` on FSDD (`make bench-tf-features`)", "",
             f"{m['date']} · torch {m['torch']} · tensorflow {results['tensorflow']} · "
             f"wall {results['wall_s']:.0f} s · {results['settings'][0]['clips']} recordings of {results['data']}", "",
             "Max \\|Δ\\| between edgekd (`preset: tensorflow-kws`, float32) and `tf.signal` (float32), and of each "
             "against `tf.signal` run in float64 (the near-exact value):", "",
             "| setting | frames | log-mel (range) | MFCC (range) | ONNX Runtime log-mel / MFCC "
             "| vs float64, log-mel: tf.signal / edgekd | vs float64, MFCC: tf.signal / edgekd |",
             "|---|---|---|---|---|---|---|"]
    for s in results["settings"]:
        t, o, f64 = s["torch"], s["onnxruntime"], s["float64"]
        lines.append(f"| {s['name']} | {s['frames']} | {t['logmel']['max_abs_diff']:.1e} ({t['logmel']['range']:.1f}) "
                     f"| {t['mfcc']['max_abs_diff']:.1e} ({t['mfcc']['range']:.1f}) "
                     f"| {o['logmel']['max_abs_diff']:.1e} / {o['mfcc']['max_abs_diff']:.1e} "
                     + "".join(f"| {f64['tf_signal_float32'][k]['max_abs_diff']:.1e} / "
                               f"{f64['edgekd_float32'][k]['max_abs_diff']:.1e} " for k in ("logmel", "mfcc")) + "|")
    first = results["settings"][0]
    lines += ["", f"One TF convention switched back to edgekd's default ({first['name']}), max |Δ| vs `tf.signal`:", "",
              "| key set back | log-mel | MFCC |", "|---|---|---|"]
    for key, value in ABLATIONS.items():
        a = first["ablations"][key]
        lines.append(f"| `{key}: {value}` | {a['logmel']['max_abs_diff']:.3g} | {a['mfcc']['max_abs_diff']:.3g} |")
    lines += ["", "Reading: every recording of the dataset, nothing tuned (the features have no free parameters). "
              "With `preset: tensorflow-kws` edgekd's front end computes `tf.signal`'s log-mel and MFCCs up to float32 "
              "rounding, in torch and in the exported ONNX graph alike. Against the float64 value (last two columns) "
              "both float32 results are off by about the same ~1e-4 where they agree closely, and where they differ "
              "more (MFCC at 16 kHz, the 80-band row) `tf.signal`'s float32 result is the one further off: the gap is "
              "float32 rounding, mostly TensorFlow's, not a convention. It is ~1e-4 where the mel bands carry signal "
              "(8 kHz rows; `tests/data/test_tf_features.py` holds FSDD clips to 1e-3) and grows in bands with almost "
              "no energy, where `log(mel + 1e-6)` magnifies rounding: FSDD was recorded at 8 kHz, so resampled to "
              "16 kHz its top bands are nearly empty (up to ~0.09 in log-mel for the 80-band 80-7600 Hz setting, on "
              "features spanning ~18). Each convention alone moves the features far more (second table; the mel "
              "weights' shape least), so a teacher trained on `tf.signal` MFCCs needs all of them."]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
