"""User code (a teacher factory) cannot end the build: sys.exit() and a raised KeyboardInterrupt are bad input.

A real Ctrl-C (SIGINT) while the user's code runs still interrupts, and the CLI reports an
interruption with exit 130 and the --resume hint.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap

import pytest

from edgekd.errors import ModelFileError
from edgekd.teachers.user_code import user_code

FACTORIES = {
    "exit0": "import sys\ndef make_model():\n    sys.exit(0)\n",
    "exit_at_import": "import sys\nsys.exit(3)\ndef make_model():\n    pass\n",
    "interrupt": "def make_model():\n    raise KeyboardInterrupt\n",
}


@pytest.mark.parametrize("body, expect", [
    ("raise SystemExit(0)", "called sys.exit(0) instead of returning"),
    ("raise KeyboardInterrupt", "raised KeyboardInterrupt by itself"),
    ("raise ValueError('bad\\nline')", "raised ValueError: bad line"),
])
def test_exceptions_of_user_code_become_model_file_errors(body, expect):
    with pytest.raises(ModelFileError) as info:
        with user_code("teacher factory f.py:make", fix="fix it"):
            exec(body)
    assert expect in str(info.value) and info.value.fix
    assert (info.value.fix == "fix it") == (expect != "called sys.exit(0) instead of returning")


def test_a_real_sigint_still_interrupts_and_the_handler_is_restored():
    before = signal.getsignal(signal.SIGINT)
    with pytest.raises(KeyboardInterrupt):
        with user_code("teacher factory f.py:make", fix="fix it"):
            os.kill(os.getpid(), signal.SIGINT)
            signal.sigtimedwait([], 0.01) if hasattr(signal, "sigtimedwait") else None
            for _ in range(10**6):  # the handler runs between bytecodes
                pass
    assert signal.getsignal(signal.SIGINT) is before


@pytest.mark.parametrize("name, expect", [
    ("exit0", "called sys.exit(0) instead of returning"),
    ("exit_at_import", "called sys.exit(3) instead of returning"),
    ("interrupt", "raised KeyboardInterrupt by itself"),
])
def test_factory_that_exits_or_interrupts_fails_the_build_with_exit_2(name, expect, tmp_path, capsys):
    from edgekd.cli import main

    factory = tmp_path / f"{name}.py"
    factory.write_text(FACTORIES[name])
    config = tmp_path / "config.yaml"
    config.write_text(textwrap.dedent(f"""
        teacher: {{kind: torch, factory: "{factory}:make_model"}}
    """))
    out = tmp_path / "out"
    with pytest.raises(SystemExit) as exited:  # the real entry point, in this process
        main(["build", str(config), "--target", "host", "--out", str(out)])
    err = capsys.readouterr().err
    assert exited.value.code == 2, err[-1500:]
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and expect in errors[0], err
    assert "Traceback" not in err
    assert not (out / "report.json").exists() and not (out / "manifest.json").exists()


def test_ctrl_c_while_the_factory_runs_interrupts_with_exit_130(tmp_path):
    import time

    started = tmp_path / "started"
    factory = tmp_path / "slow.py"
    factory.write_text(f"import time\ndef make_model():\n    open({str(started)!r}, 'w').close()\n"
                       "    time.sleep(120)\n")
    config = tmp_path / "config.yaml"
    config.write_text(f'teacher: {{kind: torch, factory: "{factory}:make_model"}}\n')
    proc = subprocess.Popen([sys.executable, "-m", "edgekd.cli", "build", str(config), "--target", "host",
                             "--out", str(tmp_path / "out")], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 240
    while not started.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.2)
    assert started.exists(), proc.communicate()[1][-1500:]
    proc.send_signal(signal.SIGINT)
    _out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err[-1500:]
    assert "interrupted" in err and "--resume" in err and "Traceback" not in err
