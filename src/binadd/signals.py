"""Stop a run cleanly on Ctrl-C (SIGINT) or SIGTERM.

While a :class:`StopSignals` block is active, either signal raises
:class:`Interrupted` in the main thread at once, abandoning the epoch in
progress: the checkpoint of the last complete epoch stays on disk, and resuming
from it replays the abandoned epoch exactly. Inside :meth:`StopSignals.held`
(saving a checkpoint and the metrics that go with it) a signal is deferred to
the end of the block, so that the files on disk always agree with each other.

The exit code follows the shell's convention, 128 plus the signal number: 130
for SIGINT, 143 for SIGTERM.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType, TracebackType
from typing import Any

from binadd.errors import BinaddError

SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Interrupted(BinaddError):
    """A run was stopped by a signal; its exit code is 128 + the signal number."""

    def __init__(self, signum: int, message: str | None = None) -> None:
        self.signum = signum
        self.exit_code = 128 + signum
        super().__init__(message or f"interrupted by {signal_name(signum)}")


def signal_name(signum: int) -> str:
    """``SIGINT`` for 2, and so on."""
    try:
        return signal.Signals(signum).name
    except ValueError:
        return f"signal {signum}"


class StopSignals:
    """Turn SIGINT and SIGTERM into :class:`Interrupted` for the block's duration.

    Handlers can only be installed from the main thread; elsewhere the block
    changes nothing and signals keep their usual effect. An ignored signal
    stays ignored.
    """

    def __init__(self) -> None:
        self._previous: dict[int, Any] = {}
        self._holding = False
        self._pending: int | None = None

    def __enter__(self) -> StopSignals:
        if threading.current_thread() is threading.main_thread():
            for signum in SIGNALS:
                # A signal the parent chose to ignore (a background job's
                # SIGINT, say) stays ignored, as Python itself would leave it.
                if signal.getsignal(signum) is not signal.SIG_IGN:
                    self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        self._previous.clear()

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self._holding:
            self._pending = signum
            return
        raise Interrupted(signum)

    @contextmanager
    def held(self) -> Iterator[None]:
        """Defer signals until the block ends, then raise the first one caught."""
        self._holding = True
        try:
            yield
        finally:
            self._holding = False
        if self._pending is not None:
            signum, self._pending = self._pending, None
            raise Interrupted(signum)
