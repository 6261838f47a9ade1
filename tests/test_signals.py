"""Signals become a clean stop, deferred while an epoch's files are written."""

from __future__ import annotations

import os
import signal

import pytest

from binadd.signals import Interrupted, StopSignals, signal_name


@pytest.mark.parametrize(
    ("signum", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)]
)
def test_a_signal_raises_interrupted_with_the_shell_exit_code(signum, code) -> None:
    with pytest.raises(Interrupted) as stopped, StopSignals():
        os.kill(os.getpid(), signum)
        for _ in range(1000):  # The handler runs between bytecodes.
            pass
    assert stopped.value.exit_code == code
    assert signal_name(signum) in str(stopped.value)


def test_a_signal_inside_held_waits_for_the_block_to_end() -> None:
    finished = []
    with pytest.raises(Interrupted), StopSignals() as stop:
        with stop.held():
            os.kill(os.getpid(), signal.SIGTERM)
            for _ in range(1000):
                pass
            finished.append("the files")
        finished.append("not reached")
    assert finished == ["the files"]


def test_handlers_are_restored_after_the_block() -> None:
    before = signal.getsignal(signal.SIGTERM)
    with StopSignals():
        assert signal.getsignal(signal.SIGTERM) is not before
    assert signal.getsignal(signal.SIGTERM) is before


def test_an_ignored_signal_stays_ignored() -> None:
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        with StopSignals():
            assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
    finally:
        signal.signal(signal.SIGINT, previous)


def test_ctrl_c_while_torch_is_still_importing_is_one_line(tmp_path) -> None:
    # A second after start the command is still importing torch (its imports
    # happen inside main's error handling), or already running.
    import os
    import signal
    import subprocess
    import sys
    from pathlib import Path

    src = Path(__file__).resolve().parents[1] / "src"
    env = {**os.environ, "PYTHONPATH": str(src)}
    argv = [sys.executable, "-m", "binadd", "evaluate", str(tmp_path), "--lengths", "3"]
    process = subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env
    )
    try:
        process.wait(timeout=1.0)
    except subprocess.TimeoutExpired:
        process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=60)
    lines = err.decode().strip().splitlines()
    assert "Traceback" not in err.decode()
    assert len(lines) == 1 and lines[0].startswith("binadd:")
    # -2: the signal came as the interpreter was exiting, after main returned.
    assert process.returncode in (2, 130, -signal.SIGINT)
