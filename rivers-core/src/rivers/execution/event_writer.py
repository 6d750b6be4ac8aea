"""Writing a run's events to storage on a background thread.

Steps hand their events to an :class:`EventWriter`; a writer thread commits
them in batches, so the storage's own work (SQLite releases the GIL while it
writes) overlaps with the next steps instead of delaying them. ``flush()``
waits until everything handed over is stored; runs flush before they update
their status, so a run never reads as finished before its events exist.

The thread starts with the second batch of records: the first batch is
written in the caller when it arrives, so a one-step run (for example one
partition per ``materialize()`` call) pays for no thread start and join,
and a first step's events are stored even while the next step runs long.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from rivers.storage.writer_threads import BACKGROUND_BATCH, mark_background_writer

if TYPE_CHECKING:
    from collections.abc import Sequence

    from rivers.storage.base import Storage
    from rivers.storage.records import ProgressChange, StoredEvent, StoredLog

#: Batches are written at most this often...
_INTERVAL_S = 0.05
#: ...or as soon as this many records are waiting (the storage writes them as they come: see
#: :mod:`rivers.storage.writer_threads`).
_MAX_PENDING = BACKGROUND_BATCH
#: An unthreaded writer (``threaded = False``) writes in the caller once this many wait.
_MAX_PENDING_UNTHREADED = 2000


class EventWriter:
    """Batches events and logs for one storage and writes them on a thread."""

    #: write on a background thread (False: write in the caller, in batches)
    threaded = True

    def __init__(self, storage: Storage) -> None:
        self._storage = storage
        # critical sections take the (C-level) mutex; the Condition over it exists once the thread does
        # (a one-step run never starts the thread: it pays for neither)
        self._mutex = threading.RLock()
        self._condition: threading.Condition | None = None
        self._events: list[StoredEvent] = []
        self._logs: list[StoredLog] = []
        self._progress: list[ProgressChange] = []  # partition progress changes (rivers.storage.partition_progress)
        self._in_flight = False
        self._closed = False
        self._error: BaseException | None = None
        self._thread: threading.Thread | None = None
        self._batches = 0

    def add(self, events: Sequence[StoredEvent], logs: Sequence[StoredLog],
            progress: Sequence[ProgressChange] | None = None) -> None:
        """Queue records (and partition progress changes, stored with them); wakes the writer when enough wait."""
        with self._mutex:
            if self._error is not None:
                self._raise_pending_error()
            self._events.extend(events)
            if logs:
                self._logs.extend(logs)
            if progress:
                self._progress.extend(progress)
            if not self.threaded:
                if len(self._events) >= _MAX_PENDING_UNTHREADED:
                    self._write_now()
                return
            if self._thread is None:
                self._batches += 1
                if self._batches < 2:
                    # maybe a one-step run: written in the caller, now rather than at flush(), so a finished
                    # step is stored (the storage's group commit makes it durable within its commit_delay)
                    # even when the next step runs long; an embedded storage only queues it here
                    try:
                        self._write_now()
                    except BaseException as error:  # noqa: BLE001 - surfaced by flush()/add(), as the thread's
                        self._error = error
                    return
                self._condition = threading.Condition(self._mutex)
                self._thread = threading.Thread(target=self._loop, args=(self._condition,), name="rivers-event-writer",
                                                daemon=True)
                self._thread.start()
            elif len(self._events) >= _MAX_PENDING:
                self._condition.notify_all()  # type: ignore[union-attr]  # the thread exists

    def flush(self) -> None:
        """Block until every queued record is stored (raises what the storage raised)."""
        with self._mutex:
            condition = self._condition
            if condition is None:
                if self._error is not None:
                    self._raise_pending_error()
                if self._events or self._logs or self._progress:
                    self._write_now()
                return
            while self._events or self._logs or self._progress or self._in_flight:
                # (again on every pass: a wake-up sent while the thread was storing a batch finds nobody waiting,
                # and the thread would otherwise sleep its whole interval before taking what is left)
                condition.notify_all()
                condition.wait()
            self._raise_pending_error()

    def close(self) -> None:
        """Flush and stop the writer thread."""
        try:
            self.flush()
        finally:
            with self._mutex:
                self._closed = True
                if self._condition is not None:
                    self._condition.notify_all()
            if self._thread is not None:
                self._thread.join()

    # ---------------------------------------------------------------- thread
    def _loop(self, condition: threading.Condition) -> None:
        mark_background_writer()
        with condition:
            while True:
                if not (self._events or self._logs or self._progress):
                    if self._closed:
                        return
                    condition.wait(_INTERVAL_S)
                    continue
                events, self._events = self._events, []
                logs, self._logs = self._logs, []
                progress, self._progress = self._progress, []
                self._in_flight = True
                condition.release()
                try:
                    self._store(events, logs, progress)
                except BaseException as error:  # noqa: BLE001 - surfaced by flush()/add()
                    self._error = error
                finally:
                    condition.acquire()
                    self._in_flight = False
                    condition.notify_all()
                if not self._closed:
                    condition.wait(_INTERVAL_S)

    def _write_now(self) -> None:
        events, self._events = self._events, []
        logs, self._logs = self._logs, []
        progress, self._progress = self._progress, []
        self._store(events, logs, progress)

    def _store(self, events: list[StoredEvent], logs: list[StoredLog], progress: list[ProgressChange] | None) -> None:
        storage = self._storage
        if progress:  # one write for the events and the partition statuses they settle
            storage.record_partition_progress(progress, events)
        elif events:
            storage.append_events(events)
        if logs:
            storage.append_logs(logs)

    def _raise_pending_error(self) -> None:
        if self._error is not None:
            error, self._error = self._error, None
            raise error
