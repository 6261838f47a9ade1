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
