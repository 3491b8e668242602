"""No code runs from data files, and a build never touches the network."""

from __future__ import annotations

import ast
import os
import re
import shutil
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


@pytest.mark.parametrize("kind", ["torchscript", "keras"])
def test_formats_that_carry_code_need_trust_code(kind, tmp_path, capsys, teacher_files, images, request):
    """TorchScript and Keras/SavedModel files run code on load: refused (exit 2) until teacher.trust_code: true."""
    import yaml

    from edgekd import cli

    path = teacher_files["torchscript"] if kind == "torchscript" else request.getfixturevalue("keras_file")
    cfg = tmp_path / "c.yaml"
    cfg.write_text(yaml.safe_dump({"data": {"kind": "image_folder", "root": str(images)},
                                   "teacher": {"kind": kind, "path": str(path)}}))
    with pytest.raises(SystemExit) as exc:
        cli.main(["build", str(cfg), "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert exc.value.code == 2 and len(errors) == 1 and "teacher.trust_code: true" in errors[0]
    assert not (tmp_path / "o").exists()


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


NETWORK_SYSCALL = re.compile(r"socket\(AF_INET6?\b|connect\(.*sa_family=AF_INET6?\b|sendto\(.*sa_family=AF_INET6?\b")


def network_calls(strace_log: str) -> list[str]:
    """The system calls of an strace log that open or use an internet socket (local sockets are fine)."""
    return [line for line in strace_log.splitlines() if NETWORK_SYSCALL.search(line)]


def test_network_calls_are_recognised_in_an_strace_log():
    log = ("941 socket(AF_INET, SOCK_DGRAM|SOCK_CLOEXEC|SOCK_NONBLOCK, IPPROTO_IP) = 7\n"
           "942 socket(AF_UNIX, SOCK_STREAM|SOCK_CLOEXEC, 0) = 3\n"
           "942 connect(3, {sa_family=AF_UNIX, sun_path=\"/var/run/nscd/socket\"}, 110) = -1 ENOENT\n"
           "943 connect(5, {sa_family=AF_INET6, sin6_port=htons(53)}, 28) = 0\n")
    assert [line.split()[0] for line in network_calls(log)] == ["941", "943"]


def test_importing_edgekd_turns_off_onnxruntime_telemetry():
    env = {k: v for k, v in os.environ.items() if k != "ORT_DISABLE_TELEMETRY"}
    code = "import edgekd, os; print(os.environ['ORT_DISABLE_TELEMETRY'])"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60)
    assert out.stdout.strip() == "1", out.stderr


def test_build_runs_with_the_network_blocked(tmp_path):
    """No internet socket is ever opened, at the system-call level (native libraries included).

    onnxruntime's Linux telemetry stays quiet under CI=1 or ORT_DISABLE_TELEMETRY, so both are
    removed from the build's environment: edgekd itself must turn it off. Python sockets are also
    refused (sitecustomize), so an attempt fails loudly even where strace is missing.
    """
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(SITECUSTOMIZE, encoding="utf-8")
    log = tmp_path / "net.log"
    env = {k: v for k, v in os.environ.items() if k not in {"CI", "ORT_DISABLE_TELEMETRY", "ORT_RUNNING_UNIT_TESTS"}}
    env.update(PYTHONPATH=os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")]),
               EDGEKD_NET_LOG=str(log), OMP_NUM_THREADS="1")
    out, traced = tmp_path / "out", tmp_path / "strace.log"
    strace = shutil.which("strace")
    tracer = [strace, "-f", "-qq", "--seccomp-bpf", "-e", "trace=socket,connect,sendto,sendmsg", "-e", "signal=none",
              "-o", str(traced)] if strace else []
    proc = subprocess.run(
        [*tracer, sys.executable, "-m", "edgekd.cli", "build", "--target", "raspberry-pi-4", "--out", str(out),
         "--set", "teacher.epochs=1", "--set", "distill.epochs=1", "--set", "bench.latency_mode=off",
         "--set", "teacher.width=8", "--set", "data.resolution=8", "--set", "export.formats=[onnx]"],
        capture_output=True, text=True, timeout=600, env=env)
    assert Path(f"{log}.loaded").exists(), "the socket guard was not installed"
    assert proc.returncode in (0, 3), proc.stderr[-2000:]
    assert (out / "manifest.json").is_file()
    assert not log.exists(), f"network access attempted:\n{log.read_text()}"
    if strace:
        assert traced.is_file(), "strace wrote no log"
        assert network_calls(traced.read_text()) == [], "internet sockets opened:\n" + traced.read_text()[-3000:]
