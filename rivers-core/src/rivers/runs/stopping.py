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

import os
import threading
from collections.abc import Callable
from types import FrameType
from typing import Final

from rivers.execution.coordinator import StopReason

try:  # the C module under ``signal``: the same functions, without building the Signals and Handlers enums that
    # ``import signal`` costs (a third of a millisecond: the first run of every process pays it)
    import _signal as signal
except ImportError:  # pragma: no cover - an interpreter without it
    import signal  # type: ignore[no-redef]

__all__ = [
    "INTERRUPTED", "TERMINATED", "RunInterrupted", "RunTerminated", "handling_signals", "stop_exception",
]

#: Stop reasons of runs stopped by SIGINT and SIGTERM.
INTERRUPTED: Final = StopReason.INTERRUPTED
TERMINATED: Final = StopReason.TERMINATED


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
#: what the signals did before rivers' handler replaced them (only Python's defaults are replaced)
_previous: dict[int, object] = {}
#: ``(stop_all, interruptible)`` of every :func:`handling_signals` the main thread is inside, innermost last
_stack: list[tuple[Callable[[str], None], Callable[[], bool]]] = []
_received: list[str] = []
_installed: list[bool] = []  # [True] once _install() ran in this process
#: the main thread's ident (signal handlers run there); a forked child's is the forking thread's, reset there
_main_ident = threading.main_thread().ident


class handling_signals:  # noqa: N801 - used like a function: ``with handling_signals(...):``
    """Turn SIGINT/SIGTERM into ``stop_all(reason)`` while inside (main thread only; nestable).

    ``interruptible()`` says whether the main thread may be interrupted right
    now (it runs a step, or waits for runs): the handler then raises the
    signal's exception there. The handler is installed on first use and
    stays; outside every ``with`` it does what Python's default did
    (``KeyboardInterrupt`` for SIGINT, ending the process for SIGTERM), so
    entering costs a list append, not two system calls. ``with ... as main``:
    whether the calling thread is the main thread (elsewhere nothing is handled).
    """

    __slots__ = ("_entry",)

    def __init__(self, stop_all: Callable[[str], None], interruptible: Callable[[], bool]) -> None:
        self._entry = (stop_all, interruptible)

    def __enter__(self) -> bool:
        """Whether the calling thread is the main thread (only there are signals handled)."""
        if threading.get_ident() != _main_ident:
            return False
        if not _installed:
            _install()
        _stack.append(self._entry)
        return True

    def __exit__(self, *exc_info: object) -> None:
        # (one object may be entered by several threads: only the main thread's entries are on the stack)
        if _stack and _stack[-1] is self._entry and threading.get_ident() == _main_ident:
            _stack.pop()
            if not _stack:
                _received.clear()


def _install() -> None:
    """Put rivers' handler on SIGINT and SIGTERM where Python's default handlers are (main thread, once).

    A handler the program sets later wins: rivers does not put its own back.
    """
    if _installed:
        return
    _installed.append(True)
    for signum in _REASONS:
        current = signal.getsignal(signum)
        if current is _handle:
            continue
        if current in (signal.default_int_handler, signal.SIG_DFL):
            _previous[signum] = current
            signal.signal(signum, _handle)


def _handle(signum: int, frame: FrameType | None) -> None:
    if not _stack:  # no run here: what the default handler would have done
        if _previous.get(signum) is signal.default_int_handler:
            raise KeyboardInterrupt
        signal.signal(signum, signal.SIG_DFL)
        os.kill(os.getpid(), signum)
        return
    reason = _REASONS[signum]
    first = not _received
    _received.append(reason)
    for stop_all, _ in list(_stack):
        stop_all(reason)
    if not first or _stack[-1][1]():
        raise stop_exception(reason)


def _reset_in_child() -> None:
    """A forked child (a worker process) runs no run of its parent: Python's default handlers again."""
    global _main_ident
    _main_ident = threading.main_thread().ident  # threading's own after-fork hook ran first (registered first)
    _stack.clear()
    _received.clear()
    _installed.clear()
    for signum, previous in list(_previous.items()):
        if signal.getsignal(signum) is _handle:
            signal.signal(signum, previous)  # type: ignore[arg-type]
    _previous.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_in_child)
