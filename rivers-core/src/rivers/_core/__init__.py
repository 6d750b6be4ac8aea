"""``rivers._core``: the published package's implementation namespace, kept for code that imports from it.

A thin compatibility module. The published package is built around a
native extension called ``rivers._core``; user code sometimes imports from
it directly. Here every public name of :mod:`rivers` is also available as
``rivers._core.<name>`` (looked up lazily, so nothing more is imported
than ``from rivers import <name>`` would), plus:

* :func:`install_signal_handler` — turn ``SIGTERM`` (and ``SIGINT``) into the
  same graceful stop as Ctrl-C;
* :func:`wait_for_exit` — block until such a signal arrives;
* :func:`runtime_info` — the worker counts of this process;
* :mod:`rivers._core.storage` — the storage record types;
* ``AutomationDaemon`` — :class:`rivers.automation.daemon.AutomationDaemon`;
* ``MappedOutput`` — what ``InvokedNodeOutput.map()`` returns in a graph
  body (importable from here only, as in the published package).

New code should import from :mod:`rivers`.
"""

from __future__ import annotations

import signal
import threading
from typing import Any

from rivers.definitions.composition import MappedOutput

__all__ = ["AutomationDaemon", "MappedOutput", "install_signal_handler", "runtime_info", "storage", "wait_for_exit"]

_exit_requested = threading.Event()
_waiting = threading.Event()
_installed: dict[int, Any] = {}  # signal number -> the handler that was there before


def _on_signal(signum: int, frame: Any) -> None:
    _exit_requested.set()
    if not _waiting.is_set():
        raise KeyboardInterrupt(f"received {signal.Signals(signum).name}")


def install_signal_handler() -> bool:
    """Make ``SIGTERM`` and ``SIGINT`` stop this process gracefully (idempotent).

    A run or backfill in progress reacts as to Ctrl-C: running steps are
    asked to stop and the run is recorded as it ended. While
    :func:`wait_for_exit` waits, the signal just ends the wait. Only the main
    thread can install signal handlers: elsewhere this does nothing and
    returns ``False``; otherwise it returns ``True``.
    """
    if threading.current_thread() is not threading.main_thread():
        return False
    for signum in (signal.SIGTERM, signal.SIGINT):
        if signum not in _installed:
            _installed[signum] = signal.signal(signum, _on_signal)
    return True


def wait_for_exit(timeout: float | None = None) -> bool:
    """Block until ``SIGTERM`` or ``SIGINT`` arrives (or ``timeout`` seconds pass).

    Installs the handler of :func:`install_signal_handler` first when called
    from the main thread. Returns ``True`` when a signal ended the wait,
    ``False`` on timeout.
    """
    install_signal_handler()
    _waiting.set()
    try:
        # short waits: signal handlers run in the main thread between them
        remaining = timeout
        while not _exit_requested.is_set():
            if remaining is not None:
                if remaining <= 0:
                    return False
                step = min(0.1, remaining)
                remaining -= step
            else:
                step = 0.1
            _exit_requested.wait(step)
        return True
    finally:
        _waiting.clear()


def runtime_info() -> dict[str, int]:
    """``{"main_workers": N, "io_workers": M}``, the published package's keys.

    ``main_workers``: the worker processes ``Executor.parallel()`` starts by
    default (the CPUs this process may use); ``io_workers``: the background
    threads writing run records (one). There is no async runtime to start.
    """
    from rivers.execution.executors import available_cpus

    return {"main_workers": available_cpus(), "io_workers": 1}


def __getattr__(name: str) -> Any:
    if name == "storage":
        import importlib

        return importlib.import_module("rivers._core.storage")
    if name == "AutomationDaemon":
        from rivers.automation.daemon import AutomationDaemon

        return AutomationDaemon
    import rivers

    if name in rivers.__all__ and not name.startswith("_"):
        value = getattr(rivers, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'rivers._core' has no attribute '{name}'")


def __dir__() -> list[str]:
    import rivers

    return sorted({*globals(), *rivers.__all__, "storage", "AutomationDaemon"})
