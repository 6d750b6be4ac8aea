"""The heartbeat thread: records who runs the runs of this process and that it is still alive.

One thread per process, running while the process has runs. A run going
for longer than :attr:`Heartbeat.owner_delay` gets its monitor record
(host, pid, process start time, heartbeat; see :mod:`rivers.storage.monitor`)
and its finished steps' events are flushed to storage; every
:attr:`Heartbeat.interval` the heartbeat of the runs still going is renewed.
Shorter runs cost nothing here: readers treat a young run without a monitor
record as alive.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from typing import TYPE_CHECKING, ClassVar

from rivers.storage.contract import Capability

if TYPE_CHECKING:
    from rivers.execution.coordinator import RunCoordinator
    from rivers.storage import Storage
    from rivers.storage.monitor import RunMonitor

__all__ = ["Heartbeat", "heartbeat"]

_log = logging.getLogger("rivers.runs")


class _Watched:
    __slots__ = ("coordinator", "storage", "attempt_start", "attempts", "since", "owned")

    def __init__(self, coordinator: RunCoordinator, storage: Storage, attempt_start: int,
                 attempts: list[tuple[int, int]], owned: bool) -> None:
        self.coordinator = coordinator
        self.storage = storage
        self.attempt_start = attempt_start
        self.attempts = attempts
        self.since = time.monotonic()
        self.owned = owned  # its monitor record is written


class Heartbeat:
    """Keeps the monitor records of this process's running runs (see the module docs)."""

    #: a run still going after this many seconds gets its monitor record
    owner_delay: ClassVar[float] = 0.1
    #: seconds between two heartbeats of a run
    interval: ClassVar[float] = 5.0
    #: how often the thread looks at the runs (seconds)
    tick: ClassVar[float] = 0.1
    #: the thread ends after this many seconds without runs
    idle_exit: ClassVar[float] = 2.0

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._runs: dict[str, _Watched] = {}
        self._thread: threading.Thread | None = None
        self._last_beat = 0.0

    def watch(self, coordinator: RunCoordinator, storage: Storage, attempt_start: int,
              attempts: list[tuple[int, int]]) -> None:
        """Start watching a run that starts now (its monitor record is written at once when it has ``attempts``)."""
        watched = _Watched(coordinator, storage, attempt_start, attempts, owned=False)
        if attempts and storage.supports(Capability.RUN_MONITORING):
            self._own(coordinator.run_id, watched)  # a resumed run: its earlier attempts are kept at once
        # one dict operation, atomic under the GIL: the thread copies the dict in one step too (see _loop)
        self._runs[coordinator.run_id] = watched
        if self._thread is None:
            with self._lock:
                if self._thread is None:
                    self._thread = threading.Thread(target=self._loop, name="rivers-run-heartbeat", daemon=True)
                    self._thread.rivers_fork_safe = True  # type: ignore[attr-defined]  # see _work_lock
                    self._thread.start()

    def forget(self, run_id: str) -> bool:
        """Stop watching ``run_id``; whether its monitor record was written."""
        watched = self._runs.pop(run_id, None)
        return watched is not None and watched.owned

    def _record(self, run_id: str, watched: _Watched) -> RunMonitor:
        from rivers.storage.monitor import RunMonitor, current_owner

        host, pid, started = current_owner()
        return RunMonitor(run_id=run_id, host=host, pid=pid, process_start=started, heartbeat=time.time_ns(),
                          attempt_start=watched.attempt_start, attempts=list(watched.attempts))

    def _own(self, run_id: str, watched: _Watched) -> None:
        watched.storage.put_run_monitor(self._record(run_id, watched))
        watched.owned = True

    def _loop(self) -> None:
        """Tick while there are runs; end after :attr:`idle_exit` seconds without any (``watch`` restarts it).

        Runs never wake the thread: it looks at them on its own ticks, so a
        run costs no thread switch.
        """
        idle_since = time.monotonic()
        while True:
            time.sleep(self.tick)
            runs = list(self._runs.items())  # a copy made in one step (C code, under the GIL)
            if not runs:
                if time.monotonic() - idle_since >= self.idle_exit:
                    with self._lock:
                        # no thread first: a run watched from here on starts one; then look again
                        current, self._thread = self._thread, None
                        if not self._runs:
                            return
                        self._thread = current
                continue
            idle_since = time.monotonic()
            with _work_lock:  # a fork waits until this tick is done: the child inherits none of its locks
                self._beat(runs)

    def _beat(self, runs: list[tuple[str, _Watched]]) -> None:
        """Record the owners of runs going long enough, flush their events, renew heartbeats when due."""
        now = time.monotonic()
        beat = now - self._last_beat >= self.interval
        if beat:
            self._last_beat = now
        by_storage: dict[int, tuple[Storage, list[str]]] = {}
        for run_id, watched in runs:
            if now - watched.since < self.owner_delay:
                continue
            try:
                watched.coordinator.flush()  # what finished so far is durable, whatever the run's shape
                if not watched.owned:
                    if watched.storage.supports(Capability.RUN_MONITORING):
                        self._own(run_id, watched)
                elif beat:
                    by_storage.setdefault(id(watched.storage), (watched.storage, []))[1].append(run_id)
            except Exception:  # noqa: BLE001 - the run itself reports storage errors
                _log.debug("heartbeat of run %s failed", run_id, exc_info=True)
        for storage, run_ids in by_storage.values():
            try:
                storage.heartbeat_runs(run_ids, time.time_ns())
            except Exception:  # noqa: BLE001
                _log.debug("heartbeat of runs %s failed", run_ids, exc_info=True)


_instance: list[Heartbeat] = []
#: held while the heartbeat thread works; taken around every fork of this process
_work_lock = threading.Lock()


def _reset_after_fork_in_child() -> None:
    global _work_lock
    _work_lock = threading.Lock()
    _instance.clear()  # the thread does not exist in the child


if hasattr(os, "register_at_fork"):
    os.register_at_fork(before=lambda: _work_lock.acquire(), after_in_parent=lambda: _work_lock.release(),
                        after_in_child=_reset_after_fork_in_child)


def heartbeat() -> Heartbeat:
    """The process's heartbeat (created on first use)."""
    if not _instance:
        _instance.append(Heartbeat())
    return _instance[0]
