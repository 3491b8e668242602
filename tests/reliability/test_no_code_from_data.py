"""No code runs from data files, and a build never touches the network."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from edgekd.errors import ModelFileError

PACKAGE = Path(__file__).resolve().parents[2] / "edgekd"


def _calls(name: str):
    """(file, call node) for every call of ``<x>.name(...)`` in the package source."""
    for path in sorted(PACKAGE.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == name:
                yield path, node


def _function_of(path: Path, node: ast.AST) -> str:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for fn in ast.walk(tree):
        if isinstance(fn, ast.FunctionDef) and fn.lineno <= node.lineno <= (fn.end_lineno or fn.lineno):
            return fn.name
    return ""


def test_torch_load_is_weights_only_except_the_opt_in_pickle_path():
    calls = [(p, n) for p, n in _calls("load") if isinstance(n.func.value, ast.Name) and n.func.value.id == "torch"]
    assert calls, "expected torch.load calls in the package"
    for path, node in calls:
        kw = {k.arg: k.value for k in node.keywords}
        assert "weights_only" in kw, f"{path}:{node.lineno} torch.load without weights_only"
        value = kw["weights_only"]
        if isinstance(value, ast.Constant) and value.value is True:
            continue
        # The single exception: the loader behind `teacher.allow_pickle: true`.
        assert path.name == "torch_file.py" and _function_of(path, node) == "_load_pickle", \
            f"{path}:{node.lineno} torch.load(weights_only=False) outside the allow_pickle path"


def test_yaml_is_only_safe_loaded():
    for path in sorted(PACKAGE.rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        for bad in ("yaml.load(", "yaml.unsafe_load(", "yaml.full_load(", "Loader=yaml.Loader", "pickle.load("):
            assert bad not in text, f"{path}: {bad}"


class _Payload:
    """Unpickling this runs code that writes a file (what a malicious checkpoint would do)."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (exec, (f"open({str(self.marker)!r}, 'w').write('pwned')",))


def test_malicious_pickle_is_refused_without_allow_pickle(tmp_path):
    from edgekd.teachers.torch_file import read_state_dict

    marker = tmp_path / "pwned.txt"
    weights = tmp_path / "evil.pt"
    torch.save({"state_dict": _Payload(marker)}, weights)
    with pytest.raises(ModelFileError) as exc:
        read_state_dict(weights, allow_pickle=False)
    assert "allow_pickle" in exc.value.one_line() and "pickle" in exc.value.one_line()
    assert not marker.exists(), "the pickle's code ran"
    # The payload is real: with the explicit opt-in it does run (then fails: it is not a state_dict).
    with pytest.raises(ModelFileError):
        read_state_dict(weights, allow_pickle=True)
    assert marker.read_text() == "pwned"


def test_malicious_pickle_refused_by_the_cli(tmp_path, capsys, teacher_files, images):
    import yaml

    from edgekd import cli

    marker = tmp_path / "pwned.txt"
    weights = tmp_path / "evil.pt"
    torch.save(_Payload(marker), weights)
    cfg = tmp_path / "c.yaml"
    cfg.write_text(yaml.safe_dump({"data": {"kind": "image_folder", "root": str(images)}, "teacher": {
        "kind": "torch", "factory": f"{teacher_files['factory']}:make_model", "weights": str(weights)}}))
    with pytest.raises(SystemExit) as exc:
        cli.main(["build", str(cfg), "--out", str(tmp_path / "o")])
    assert exc.value.code == 2 and "allow_pickle" in capsys.readouterr().err
    assert not marker.exists() and not (tmp_path / "o").exists()


SITECUSTOMIZE = '''
import os, socket

_LOG = os.environ["EDGEKD_NET_LOG"]


def _refuse(what):
    def blocked(*args, **kwargs):
        with open(_LOG, "a") as log:
            log.write(f"{what} {args[1:] if what.startswith('socket.') else args!r}\\n")
        raise OSError(101, f"network blocked by the test ({what})")
    return blocked


socket.socket.connect = _refuse("socket.connect")
socket.socket.connect_ex = _refuse("socket.connect_ex")
socket.socket.sendto = _refuse("socket.sendto")
socket.getaddrinfo = _refuse("getaddrinfo")
socket.gethostbyname = _refuse("gethostbyname")
socket.create_connection = _refuse("create_connection")
with open(os.environ["EDGEKD_NET_LOG"] + ".loaded", "a") as f:
    f.write("loaded\\n")
'''


def test_build_runs_with_the_network_blocked(tmp_path):
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(SITECUSTOMIZE, encoding="utf-8")
    log = tmp_path / "net.log"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")]),
           "EDGEKD_NET_LOG": str(log), "OMP_NUM_THREADS": "1"}
    out = tmp_path / "out"
    proc = subprocess.run(
        [sys.executable, "-m", "edgekd.cli", "build", "--target", "raspberry-pi-4", "--out", str(out),
         "--set", "teacher.epochs=1", "--set", "distill.epochs=1", "--set", "bench.latency_mode=off",
         "--set", "teacher.width=8", "--set", "data.resolution=8", "--set", "export.formats=[onnx]"],
        capture_output=True, text=True, timeout=600, env=env)
    assert Path(f"{log}.loaded").exists(), "the socket guard was not installed"
    assert proc.returncode in (0, 3), proc.stderr[-2000:]
    assert (out / "manifest.json").is_file()
    assert not log.exists(), f"network access attempted:\n{log.read_text()}"
