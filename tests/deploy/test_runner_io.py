"""run.py's own WAV reading and clip fitting give the samples the data room trained on (no edgekd on a device)."""

from __future__ import annotations

import importlib.util
import sys

import numpy as np
import pytest
from scipy.io import wavfile

from edgekd.data.audio_io import fix_length, read_wav
from edgekd.deploy.stage import _template


@pytest.fixture(scope="module")
def runner(tmp_path_factory):
    """The bundle's run.py, loaded as a module from a folder of its own."""
    path = tmp_path_factory.mktemp("bundle") / "run.py"
    path.write_text(_template("run.py"))
    spec = importlib.util.spec_from_file_location("edgekd_bundle_run", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    yield module
    sys.modules.pop("edgekd_bundle_run", None)


def sine(n=1000):
    return (0.6 * np.sin(np.linspace(0, 40, n))).astype(np.float32)


@pytest.mark.parametrize("dtype", ["uint8", "int16", "int32", "float32"])
def test_wav_samples_match_the_data_room(runner, tmp_path, dtype):
    x = sine()
    data = {"uint8": np.round(x * 127 + 128).astype(np.uint8), "int16": (x * 32767).astype(np.int16),
            "int32": (x * 2**31 * 0.99).astype(np.int32), "float32": x}[dtype]
    path = tmp_path / f"{dtype}.wav"
    wavfile.write(path, 8000, data)
    pre = {"sample_rate": 8000, "mix_to_mono": False}
    np.testing.assert_array_equal(runner.read_wav(path, pre), read_wav(path, 8000, resample=False, mix_to_mono=False))


def test_24_bit_and_resampled_stereo_match(runner, tmp_path):
    x = sine(1600)
    raw = (x * (2**23 - 1)).astype("<i4")
    packed = np.stack([raw & 0xFF, (raw >> 8) & 0xFF, (raw >> 16) & 0xFF], axis=1).astype(np.uint8).tobytes()
    import wave

    with wave.open(str(tmp_path / "24.wav"), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(3)
        out.setframerate(8000)
        out.writeframes(packed)
    pre = {"sample_rate": 8000, "mix_to_mono": False}
    np.testing.assert_allclose(runner.read_wav(tmp_path / "24.wav", pre),
                               read_wav(tmp_path / "24.wav", 8000, resample=False, mix_to_mono=False), atol=1e-7)
    wavfile.write(tmp_path / "st.wav", 16000, (np.stack([x, -x / 2], axis=1) * 32767).astype(np.int16))
    pre = {"sample_rate": 8000, "mix_to_mono": True}
    np.testing.assert_allclose(runner.read_wav(tmp_path / "st.wav", pre),
                               read_wav(tmp_path / "st.wav", 8000, resample=True, mix_to_mono=True), atol=1e-6)


@pytest.mark.parametrize("align", ["centre", "start"])
@pytest.mark.parametrize("n", [700, 1000, 1333])
def test_clip_fitting_matches(runner, align, n):
    x = np.arange(n, dtype=np.float32)
    got = runner.fixed_clip(x, {"clip_samples": 1000, "clip_align": align})
    np.testing.assert_array_equal(got, fix_length(x, 1000, align))


def test_file_the_bundle_cannot_read_exits_2(runner, tmp_path, capsys, monkeypatch):
    (tmp_path / "model.json").write_text('{"preprocessing": {"kind": "tensor", "input_shape": [3], "source": "npz"},'
                                         ' "model": {"format": "coreml", "file": "m"}, "inputs": [{}], "labels": []}')
    monkeypatch.setattr(runner, "HERE", tmp_path)
    assert runner.main([str(tmp_path / "x.png")]) == 2
    assert "error:" in capsys.readouterr().err
