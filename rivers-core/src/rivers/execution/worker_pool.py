"""A persistent pool of worker processes that run one step attempt at a time each.

Workers speak the wire protocol (:mod:`rivers.execution.wire`): a
``StepRequest`` in, a ``StepReport`` out, over a pipe.

Unlike :class:`concurrent.futures.ProcessPoolExecutor`, a worker that dies
(``os._exit``, SIGKILL, a segfault) breaks nothing but the step it was
running: the controller sees the process sentinel fire, fails that step with
:class:`WorkerLostError` and the pool starts a fresh worker on the next
lease. Workers live for the whole process and are shared by runs (each run
leases workers exclusively while it uses them), so user modules are imported
once per worker, not once per step.

Workers are started with ``fork`` while the controller is single-threaded
(milliseconds, and they inherit every module already imported), else with
``forkserver`` (or ``spawn`` where that is unavailable). Set
``RIVERS_WORKER_START_METHOD`` to ``fork``, ``forkserver`` or ``spawn`` to
choose. A worker exits when its controller goes away (its pipe closes).
"""

from __future__ import annotations

import atexit
import contextlib
import multiprocessing
import os
import signal
import sys
import threading
from collections.abc import Iterator
from multiprocessing.connection import Connection
from typing import TYPE_CHECKING, cast

from rivers.exceptions import ExecutionError

if TYPE_CHECKING:
    from multiprocessing.context import ForkContext, ForkServerContext, SpawnContext

_STOP = b"stop"
#: Idle workers kept for later runs beyond this many are stopped.
_MAX_IDLE = max(4, 2 * (os.cpu_count() or 1))


class WorkerLostError(ExecutionError):
    """A worker process died while running a step (killed, crashed or exited)."""


def _describe_exit(exitcode: int | None) -> str:
    if exitcode is None:
        return "stopped responding"
    if exitcode < 0:
        try:
            name = signal.Signals(-exitcode).name
        except ValueError:
            name = f"signal {-exitcode}"
        return f"was killed by {name}"
    return f"exited with status {exitcode}"


def choose_start_method() -> str:
    """``RIVERS_WORKER_START_METHOD``, else fork when safe, else forkserver or spawn."""
    available = multiprocessing.get_all_start_methods()
    wanted = os.environ.get("RIVERS_WORKER_START_METHOD", "").strip().lower()
    if wanted and wanted != "auto":
        if wanted not in available:
            raise ExecutionError(
                f"RIVERS_WORKER_START_METHOD={wanted!r} is not available here; choose one of {available}"
            )
        return wanted
    if "fork" in available and _only_fork_safe_threads():
        return "fork"
    return "forkserver" if "forkserver" in available else "spawn"


def _only_fork_safe_threads() -> bool:
    """Whether every thread but this one holds no lock a forked child could need (``rivers_fork_safe``).

    The run heartbeat thread sets the attribute: it blocks forks while it
    works (``os.register_at_fork``), so a child never inherits its locks.
    """
    current = threading.current_thread()
    return all(thread is current or getattr(thread, "rivers_fork_safe", False) for thread in threading.enumerate())


@contextlib.contextmanager
def _main_hidden() -> Iterator[None]:
    """Keep multiprocessing from running the controller's ``__main__`` again in a spawned worker.

    Workers get functions of ``__main__`` by value, so they never need it; an
    unguarded pipeline script would otherwise run (and materialise) once more
    in each worker or in the fork server.
    """
    main = sys.modules.get("__main__")
    saved = {name: main.__dict__[name] for name in ("__file__", "__spec__") if name in main.__dict__} if main else {}
    if main is not None:
        main.__dict__.pop("__file__", None)
        main.__dict__["__spec__"] = None
    try:
        yield
    finally:
        if main is not None:
            for name in ("__file__", "__spec__"):
                if name in saved:
                    main.__dict__[name] = saved[name]
                else:
                    main.__dict__.pop(name, None)


class Worker:
    """One worker process and the controller's end of its pipe."""

    __slots__ = ("process", "conn", "fd", "pid", "start_method", "known_runtimes", "run_token", "__weakref__")

    def __init__(self, start_method: str) -> None:
        # a start method of this platform (see choose_start_method), so a context with Process
        context = cast("ForkContext | ForkServerContext | SpawnContext", multiprocessing.get_context(start_method))
        parent_end, child_end = context.Pipe(duplex=True)
        close_in_child = parent_end if start_method == "fork" else None
        # the kernel's parent-death signal follows the creating *thread*: only tie workers to the main
        # thread (or to the fork server), never to a thread that may end while the process lives on
        tie_to_parent = start_method == "forkserver" or threading.current_thread() is threading.main_thread()
        process = context.Process(target=_worker_main, args=(child_end, close_in_child, tie_to_parent),
                                  daemon=True, name="rivers-worker")
        if start_method == "fork":
            process.start()
        else:
            with _main_hidden():
                process.start()
        child_end.close()
        self.process = process
        self.conn: Connection = parent_end
        self.fd = parent_end.fileno()
        self.pid: int = process.pid  # type: ignore[assignment]  # None only before start()
        self.start_method = start_method
        #: runtime tokens this worker has decoded and cached
        self.known_runtimes: set[int] = set()
        #: the run header the worker has cached (0: none)
        self.run_token = 0

    @property
    def sentinel(self) -> int:
        return self.process.sentinel

    def alive(self) -> bool:
        return self.process.is_alive()

    def send(self, data: bytes) -> None:
        self.conn.send_bytes(data)

    def exit_description(self) -> str:
        self.process.join(timeout=1.0)
        return _describe_exit(self.process.exitcode)

    def stop(self, timeout: float = 1.0) -> None:
        """Ask the worker to exit; kill it if it does not."""
        try:
            self.conn.send_bytes(_STOP)
        except OSError:
            pass
        self.process.join(timeout)
        if self.process.is_alive():
            self.process.kill()
            self.process.join(timeout)
        self.conn.close()

    def kill(self) -> None:
        if self.process.is_alive():
            self.process.kill()
        self.process.join(1.0)
        self.conn.close()

    def __repr__(self) -> str:
        return f"Worker(pid={self.pid}, {self.start_method})"


class WorkerPool:
    """Idle workers of this process, leased to runs one at a time."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._idle: list[Worker] = []
        self._closed = False

    def lease(self, count: int) -> list[Worker]:
        """``count`` workers for the exclusive use of the caller (idle ones first, then new ones)."""
        leased: list[Worker] = []
        with self._lock:
            while self._idle and len(leased) < count:
                worker = self._idle.pop()
                if worker.alive():
                    leased.append(worker)
                else:
                    worker.kill()
        if len(leased) < count:
            start_method = choose_start_method()  # once: workers of a lease start alike (and ready alike)
            while len(leased) < count:
                leased.append(Worker(start_method))
        return leased

    def give_back(self, workers: list[Worker]) -> None:
        """Return leased workers that are alive and idle (stops what the pool does not keep)."""
        surplus = []
        with self._lock:
            for worker in workers:
                if not self._closed and worker.alive() and len(self._idle) < _MAX_IDLE:
                    self._idle.append(worker)
                else:
                    surplus.append(worker)
        for worker in surplus:
            worker.stop()

    def idle_pids(self) -> list[int]:
        with self._lock:
            return [worker.pid for worker in self._idle]

    def shutdown(self) -> None:
        """Stop every idle worker (leased ones are stopped when given back)."""
        with self._lock:
            workers, self._idle = self._idle, []
        for worker in workers:
            worker.stop()

    def _forget_after_fork(self) -> None:
        """In a forked child: close the inherited pipe ends without stopping anybody's workers."""
        for worker in self._idle:
            try:
                worker.conn.close()
            except OSError:
                pass
        self._idle = []
        self._lock = threading.Lock()


_pool: WorkerPool | None = None
_pool_lock = threading.Lock()


def get_pool() -> WorkerPool:
    """The process-wide worker pool (created on first use, shut down at exit)."""
    global _pool
    if _pool is None:
        with _pool_lock:
            if _pool is None:
                _pool = WorkerPool()
                atexit.register(_shutdown_pool)
    return _pool


def _shutdown_pool() -> None:
    if _pool is not None:
        _pool.shutdown()


def _after_fork_in_child() -> None:
    global _pool
    if _pool is not None:
        _pool._forget_after_fork()
    _pool = None


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


# --------------------------------------------------------------------------
# The worker process
# --------------------------------------------------------------------------


def _die_with_parent() -> None:
    """On Linux, have the kernel kill this worker when its parent (the controller) dies.

    A step cut off from its controller can report nothing; a resumed run
    re-runs it, and an orphan finishing it meanwhile would only race with it.
    """
    if not sys.platform.startswith("linux"):
        return
    parent = os.getppid()
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return
    if os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(1)


def _exit_when_the_controller_goes(conn: Connection) -> None:
    """Exit this worker as soon as the controller's end of ``conn`` closes, even in the middle of a step.

    A worker started through the fork server is not the controller's child,
    so the kernel's parent-death signal cannot tie it to the controller; a
    thread waiting for the peer to hang up does (Linux ``POLLRDHUP``).
    """
    import select

    hangup = getattr(select, "POLLRDHUP", None)
    if hangup is None:
        return

    def watch() -> None:
        poller = select.poll()
        poller.register(conn.fileno(), hangup)
        while True:
            for _, events in poller.poll():
                if events & (hangup | select.POLLHUP | select.POLLERR | select.POLLNVAL):
                    os._exit(1)

    threading.Thread(target=watch, name="rivers-worker-lifeline", daemon=True).start()


def _worker_main(conn: Connection, close_in_child: Connection | None, tie_to_parent: bool = True) -> None:
    """Serve steps from ``conn`` until it closes or the controller says stop."""
    if close_in_child is not None:
        close_in_child.close()
    if tie_to_parent:
        _die_with_parent()
    _exit_when_the_controller_goes(conn)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    from rivers.execution.log_capture import hold_streams
    from rivers.execution.step_host import RunnerCache, encode_report, run_request

    hold_streams()  # steps' output is teed for the worker's whole life (steps then pay nothing for it)
    cache = RunnerCache(sync_environment=True)
    while True:
        try:
            data = conn.recv_bytes()
        except (EOFError, OSError):
            break
        if data == _STOP:
            break
        reply = encode_report(run_request(data, cache))
        try:
            conn.send_bytes(reply)
        except (BrokenPipeError, OSError):
            break


__all__ = ["Worker", "WorkerLostError", "WorkerPool", "choose_start_method", "get_pool"]
