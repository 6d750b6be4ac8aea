"""Stopping runs on SIGINT (Ctrl-C) and SIGTERM: the run is recorded as canceled, then the signal's exception.

While a :class:`~rivers.runs.RunLauncher` runs something in the main thread
(a run, a backfill), :func:`handling_signals` replaces Python's default
handlers of SIGINT and SIGTERM (handlers the program installed itself are
left alone). A signal then asks every run of the launcher to stop
(``RunCoordinator.request_stop("interrupted" | "terminated")``): no step
starts any more, steps in worker processes are terminated, the steps that did
not end are recorded as not run and the run as canceled, resumable with
``rivers resume``. A step running in the main thread is interrupted at once
(the handler raises there); elsewhere the scheduler notices within its tick.
Once the run is recorded, :class:`RunInterrupted` (a ``KeyboardInterrupt``)
or :class:`RunTerminated` (a ``SystemExit`` with code 143) is raised to the
caller, as the signal would have done. A second signal raises at once.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Callable, Iterator
from types import FrameType
from typing import Final

__all__ = ["INTERRUPTED", "TERMINATED", "RunInterrupted", "RunTerminated", "handling_signals", "stop_exception"]

#: Stop reasons of runs stopped by SIGINT and SIGTERM.
INTERRUPTED: Final = "interrupted"
TERMINATED: Final = "terminated"


class RunInterrupted(KeyboardInterrupt):
    """SIGINT (Ctrl-C) stopped a run; raised once the run is recorded as canceled (reason "interrupted")."""


class RunTerminated(SystemExit):
    """SIGTERM stopped a run; raised once the run is recorded as canceled (reason "terminated"). Exit code 143."""

    def __init__(self) -> None:
        super().__init__(128 + signal.SIGTERM)


def stop_exception(reason: str) -> BaseException:
    """The exception a stop by signal ends with (``RunInterrupted`` or ``RunTerminated``)."""
    return RunTerminated() if reason == TERMINATED else RunInterrupted()


_REASONS: Final = {signal.SIGINT: INTERRUPTED, signal.SIGTERM: TERMINATED}
_state = threading.local()
_installed: dict[int, object] = {}  # signal -> the handler it had before (while installed)
_depth = [0]
_received: list[str] = []


@contextlib.contextmanager
def handling_signals(stop_all: Callable[[str], None], interruptible: Callable[[], bool]) -> Iterator[None]:
    """Turn SIGINT/SIGTERM into ``stop_all(reason)`` while inside (main thread only; nestable).

    ``interruptible()`` says whether the main thread may be interrupted right
    now (it runs a step, or waits for runs): the handler then raises the
    signal's exception there.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    handlers = getattr(_state, "handlers", None)
    if handlers is None:
        handlers = _state.handlers = []
    handlers.append((stop_all, interruptible))
    if _depth[0] == 0:
        _received.clear()
        for signum in _REASONS:
            previous = signal.getsignal(signum)
            if previous in (signal.default_int_handler, signal.SIG_DFL):
                _installed[signum] = previous
                signal.signal(signum, _handle)
    _depth[0] += 1
    try:
        yield
    finally:
        _depth[0] -= 1
        handlers.pop()
        if _depth[0] == 0:
            for signum, previous in list(_installed.items()):
                signal.signal(signum, previous)  # type: ignore[arg-type]
            _installed.clear()


def _handle(signum: int, frame: FrameType | None) -> None:
    reason = _REASONS[signal.Signals(signum)]
    first = not _received
    _received.append(reason)
    handlers = getattr(_state, "handlers", [])
    for stop_all, _ in handlers:
        stop_all(reason)
    if not first or not handlers or handlers[-1][1]():
        raise stop_exception(reason)
