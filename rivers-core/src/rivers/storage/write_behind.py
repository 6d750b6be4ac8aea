"""Write-behind queue and group commit: a reusable component for backends whose commits are expensive.

A backend (the embedded SQLite store uses it; a server backend can too)
gives :class:`WriteBehind` one callback, ``flush(keep_young_runs)``, which
takes the backend's own write lock, calls :meth:`WriteBehind.take` and
writes what it returns in one transaction, then :meth:`WriteBehind.written`.
The queue then decides *when* records are written:

* ``queue_run`` (the executor's "a run starts" write) queues the run record;
  ``update_queued_run`` changes a queued record in place, so a short run is
  inserted once, in its final state;
* ``queue_records`` queues events and logs (and the engine's partition
  progress changes, :mod:`rivers.storage.partition_progress`, which the
  backend applies in the same transaction as the events). Inside ``batch()`` they wait for
  the batch's end (or :attr:`WriteBehind.batch_max_events` records, or
  :attr:`WriteBehind.batch_max_delay` seconds). Outside a batch, the records
  of a run whose record is queued join it (committed within ``commit_delay``
  of the run's start, or by the appending thread itself once
  :attr:`WriteBehind.background_max_events` are queued if it is a run's
  background writer, see :mod:`rivers.storage.writer_threads`); others are
  written by the backend at once. So every
  finished step's events are durable within ``commit_delay`` of the step's
  end, whatever else the run is doing;
* a publisher thread commits the queue once its oldest record (run or
  event) is ``commit_delay`` old. It leaves the records of runs still going
  that were queued less than half that delay ago (with their events): such
  runs usually end in time to be inserted in their final state. The thread
  is not a daemon: a process that exits normally (and a ``multiprocessing``
  child) commits everything first; it ends when the queue is empty;
* the backend flushes sooner before any read that may see queued records
  and before every other write (a run's status is never committed before
  its events). Reads through other storage objects of the same process call
  :func:`publish_others` first, so a process always reads its own records.

Other processes see records at most ``commit_delay`` late; a process killed
outright (``SIGKILL``, power loss) loses at most the last ``commit_delay`` of
records, never part of a run's commit. ``commit_delay=0`` writes every record
when it is made (the backend's own writes; the queue holds nothing).
"""

from __future__ import annotations

import os
import sys
import threading
import time
import weakref
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from rivers.exceptions import StorageError
from rivers.storage.records import RunRecord, StoredEvent, StoredLog, run_changes
from rivers.storage.writer_threads import BACKGROUND_BATCH, is_background_writer

if TYPE_CHECKING:
    from rivers.storage.partition_progress import ProgressChange

__all__ = ["Taken", "WriteBehind", "anything_held", "publish_others"]

#: The publisher checks this often (seconds) whether the interpreter is exiting, to commit at once.
_EXIT_CHECK_INTERVAL = 0.05

#: Queues holding records, so a read through another storage object of this process writes them first.
_holding: weakref.WeakSet[WriteBehind] = weakref.WeakSet()

#: Counts forks into this process: a queue made before the last fork belongs to the parent (cheaper than getpid()).
_fork_generation = 0


#: Held while a publisher thread writes; taken around every fork of this process, so a forked child never
#: inherits a write half done (the backend's library locks included). Publisher threads are therefore fork-safe
#: (``rivers_fork_safe``): a worker pool may fork while one exists.
_work_lock = threading.Lock()


def _after_fork_in_child() -> None:
    global _fork_generation, _work_lock
    _fork_generation += 1
    for queue in list(_holding):
        queue._registered = False
    _holding.clear()
    _work_lock = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(before=lambda: _work_lock.acquire(), after_in_parent=lambda: _work_lock.release(),
                        after_in_child=_after_fork_in_child)


class Taken:
    """What one flush writes: run records, events, logs and partition progress changes (oldest first)."""

    __slots__ = ("runs", "events", "logs", "progress")

    def __init__(self, runs: list[RunRecord], events: list[StoredEvent], logs: list[StoredLog],
                 progress: list[ProgressChange] | None = None) -> None:
        self.runs = runs
        self.events = events
        self.logs = logs
        self.progress = progress or []

    def __bool__(self) -> bool:
        return bool(self.runs or self.events or self.logs or self.progress)

    def describe(self) -> str:
        """``"3 queued events, 1 run records and 0 logs"`` (for the error of a failed write)."""
        runs = f", {len(self.runs)} run records" if self.runs else ""
        return f"{len(self.events)} queued events{runs} and {len(self.logs)} logs"


class WriteBehind:
    """The queue of one storage object: run records, events and logs waiting for their group commit."""

    #: Inside ``batch()``: flush once this many events and logs are queued.
    batch_max_events: int = 2000
    #: Inside ``batch()``: flush on append once the oldest queued record is this old (seconds).
    batch_max_delay: float = 1.0
    #: A run's background writer thread (see :mod:`rivers.storage.writer_threads`) writes on append
    #: once this many are queued.
    background_max_events: int = BACKGROUND_BATCH

    def __init__(
        self,
        flush: Callable[[bool], None],
        commit_delay: float | Callable[[], float],
        *,
        name: str = "rivers-run-publisher",
    ) -> None:
        #: ``flush(keep_young_runs)``: the backend's write of :meth:`take` (it takes its own write lock)
        self._flush = flush
        self._delay = commit_delay if callable(commit_delay) else (lambda: commit_delay)
        self._name = name
        self.lock = threading.Lock()
        self._wakeup = threading.Condition(self.lock)
        self.closed = False
        self._generation = _fork_generation
        self._reset()

    def _reset(self) -> None:
        self.batch_depth = 0
        self.queued_runs: list[RunRecord] = []
        self.queued_run_times: list[float] = []  # when each queued run record was queued (monotonic)
        #: ``(status, end_time, node_names)`` updates of each queued record (``None``: unchanged), applied by take()
        #: (a tuple: one is kept per queued run, a dict would take four times the memory)
        self._queued_changes: list[tuple[str | None, int | None, list[str] | None] | None] = []
        self.queued_events: list[StoredEvent] = []
        self.queued_logs: list[StoredLog] = []
        self.queued_progress: list[ProgressChange] = []
        self.records_since = 0.0  # when the oldest queued event or log was queued (monotonic)
        self.publisher: threading.Thread | None = None
        self._error: StorageError | None = None
        self._registered = False  # in _holding (see _register_holding)

    def forget_after_fork(self) -> None:
        """In a forked child: drop the parent's queue, locks and thread without touching them."""
        self.lock = threading.Lock()
        self._wakeup = threading.Condition(self.lock)
        self._generation = _fork_generation
        self._reset()
        _holding.discard(self)  # (_reset cleared the flag)

    def _register_holding(self) -> None:
        """Be one of the queues holding records (:func:`publish_others`); callers test ``_registered`` first.

        (``WeakSet.add`` makes a weak reference on every call: the flag spares that on every run.)
        """
        self._registered = True
        _holding.add(self)

    def _unregister_holding(self) -> None:
        self._registered = False
        _holding.discard(self)

    @property
    def commit_delay(self) -> float:
        """Seconds records may wait for their group commit (0: none)."""
        return float(self._delay())

    @property
    def group_commit(self) -> bool:
        """Whether records may wait for a group commit now (delay > 0, open, in the creating process)."""
        return not self.closed and self._generation == _fork_generation and self._delay() > 0

    # -- queueing -------------------------------------------------------------------

    def queue_run(self, record: RunRecord) -> bool:
        """Queue a starting run's record for the group commit; ``False`` when the backend must write it now."""
        with self.lock:
            if not self.group_commit:
                return False
            if self._error is not None:  # (tested here: this runs on every run start)
                self._raise_error()
            if not self._registered:
                self._register_holding()
            self.queued_runs.append(record)
            self.queued_run_times.append(time.monotonic())
            self._queued_changes.append(None)
            if self.publisher is None:
                self._start_publisher()
            return True

    def update_queued_run(
        self, run_id: str, status: str | None, end_time: int | None, node_names: Sequence[str] | None
    ) -> bool | None:
        """Apply an update to the run's record if it is queued.

        ``None``: it is not queued (the backend updates its stored row);
        ``True``: updated, and the backend must flush now (no batch is open);
        ``False``: updated, the batch's end or the group commit writes it.
        """
        with self.lock:
            if self._error is not None:
                self._raise_error()
            queued = self.queued_runs
            for index in range(len(queued) - 1, -1, -1):
                if queued[index].run_id == run_id:
                    names = None if node_names is None else list(node_names)
                    earlier = self._queued_changes[index]
                    self._queued_changes[index] = (status, end_time, names) if earlier is None else (
                        earlier[0] if status is None else status,
                        earlier[1] if end_time is None else end_time,
                        earlier[2] if names is None else names,
                    )
                    return not self.batch_depth
            return None

    def queue_records(
        self, events: Sequence[StoredEvent], logs: Sequence[StoredLog], progress: Sequence[ProgressChange] = ()
    ) -> tuple[bool, bool]:
        """Queue events, logs and progress changes if a batch is open, or if their runs' records are queued.

        Returns ``(queued, flush now)``.

        Records of a run whose record waits for the group commit join it (so
        they are committed within ``commit_delay`` of the run's start, and a
        short run is one commit); others are written by the backend at once.
        """
        with self.lock:
            if not self.batch_depth:
                runs = self.queued_runs
                if not runs or not self.group_commit:
                    return False, False
                newest = runs[-1].run_id  # a run's records usually follow its own start
                records: tuple[StoredEvent | StoredLog | ProgressChange, ...] = (*events, *logs, *progress)
                for record in records:
                    if record.run_id != newest and not self._is_queued(record.run_id):
                        return False, False
            if self._error is not None:
                self._raise_error()
            if not self.queued_events and not self.queued_logs and not self.queued_progress:
                self.records_since = time.monotonic()
            if events:
                self.queued_events.extend(events)
            if logs:
                self.queued_logs.extend(logs)
            if progress:
                self.queued_progress.extend(progress)
            count = len(self.queued_events) + len(self.queued_logs)
            full = count >= self.batch_max_events or (
                count >= self.background_max_events and is_background_writer())
            if self.batch_depth and not full:
                full = time.monotonic() - self.records_since >= self.batch_max_delay
            return True, full

    def _is_queued(self, run_id: str) -> bool:
        """Whether ``run_id``'s record is queued (lock held; the newest first: usually the last one)."""
        for record in reversed(self.queued_runs):
            if record.run_id == run_id:
                return True
        return False

    def holds_runs(self) -> bool:
        """Whether run records are queued (reads of runs must flush first)."""
        return bool(self.queued_runs)

    def holds_records(self) -> bool:
        """Whether events, logs or progress changes are queued."""
        return bool(self.queued_events or self.queued_logs or self.queued_progress)

    # -- flushing ---------------------------------------------------------------------

    def take(self, keep_young_runs: bool = False) -> Taken:
        """Remove and return what a flush writes (the backend's write lock held).

        ``keep_young_runs`` (the publisher) leaves the records of runs still
        going that were queued less than half ``commit_delay`` ago, and their
        events and logs.
        """
        with self.lock:
            if not (self.queued_runs or self.queued_events or self.queued_logs or self.queued_progress):
                return Taken([], [], [])
            runs = self._current_runs()
            times = self.queued_run_times
            events, logs, progress = self.queued_events, self.queued_logs, self.queued_progress
            self.queued_events, self.queued_logs, self.queued_progress = [], [], []
            self.queued_runs, self.queued_run_times, self._queued_changes = [], [], []
            if keep_young_runs and runs:
                cutoff = time.monotonic() - self.commit_delay / 2
                young = {record.run_id for record, queued_at in zip(runs, times)
                         if queued_at > cutoff and record.status == "Started"}
                if young:
                    kept = [(record, queued_at) for record, queued_at in zip(runs, times) if record.run_id in young]
                    self.queued_runs = [record for record, _ in kept]
                    self.queued_run_times = [queued_at for _, queued_at in kept]
                    self._queued_changes = [None] * len(kept)
                    runs = [record for record in runs if record.run_id not in young]
                    self.queued_events = [event for event in events if event.run_id in young]
                    self.queued_logs = [log for log in logs if log.run_id in young]
                    self.queued_progress = [change for change in progress if change.run_id in young]
                    if self.queued_events or self.queued_logs:
                        events = [event for event in events if event.run_id not in young]
                        logs = [log for log in logs if log.run_id not in young]
                    if self.queued_progress:
                        progress = [change for change in progress if change.run_id not in young]
            return Taken(runs, events, logs, progress)

    def _current_runs(self) -> list[RunRecord]:
        """The queued run records with their updates applied (lock held)."""
        return [
            record if changes is None else record.evolve(**run_changes(*changes))
            for record, changes in zip(self.queued_runs, self._queued_changes)
        ]

    def written(self) -> None:
        """Call after a flush committed (or failed): this queue stops counting as holding records if empty.

        Only once committed: until then a read through another storage object
        of this process must find this queue and wait for its backend's lock.
        """
        with self.lock:
            if not (self.queued_runs or self.queued_events or self.queued_logs or self.queued_progress):
                self._unregister_holding()

    def batch(self) -> WriteBehind:
        """Queue the events and logs appended inside; write them when the outermost batch ends (nestable).

        When run records are queued, the end of the batch leaves the queue to
        the group commit instead (the publisher writes it within ``commit_delay``).
        The queue is its own context manager: the depth of nested batches is its state.
        """
        return self

    def __enter__(self) -> None:
        with self.lock:
            self.batch_depth += 1

    def __exit__(self, *exc_info: object) -> None:
        with self.lock:
            if self.batch_depth > 0:
                self.batch_depth -= 1
            flush = self.batch_depth == 0 and not self.closed and bool(
                self.queued_events or self.queued_logs or self.queued_runs or self.queued_progress
            )
            if flush and self.queued_runs and self.group_commit:
                if not self._registered:
                    self._register_holding()
                if self.publisher is None:
                    self._start_publisher()  # the publisher commits them within commit_delay
                flush = False
        if flush:
            self._flush(False)

    def close(self) -> None:
        """Mark the queue closed (after the backend's last flush); the publisher thread ends."""
        with self.lock:
            self.closed = True
            self._wakeup.notify_all()
        self._unregister_holding()

    # -- the publisher ------------------------------------------------------------------

    def _start_publisher(self) -> None:
        """Start the publisher thread unless it runs (lock held)."""
        if self.publisher is None:
            # not a daemon: the interpreter (and a multiprocessing child) waits for its last commit
            self.publisher = threading.Thread(target=self._publish_loop, name=self._name)
            self.publisher.rivers_fork_safe = True  # type: ignore[attr-defined]  # it writes under _work_lock
            self.publisher.start()

    def _publish_loop(self) -> None:
        """Commit the queue once its oldest record is ``commit_delay`` old; end when it is empty."""
        generation = self._generation
        main_thread = threading.main_thread()
        while True:
            with self.lock:
                while True:
                    holding = self.queued_runs or self.queued_events or self.queued_logs or self.queued_progress
                    if not holding or self.closed or self._generation != generation:
                        if self.publisher is threading.current_thread():
                            self.publisher = None
                        return
                    # queued events and logs belong to queued runs or to an open batch
                    remaining = (
                        self.queued_run_times[0] + self.commit_delay - time.monotonic()
                        if self.queued_runs else _EXIT_CHECK_INTERVAL
                    )
                    if remaining <= 0 or not main_thread.is_alive():
                        break
                    self._wakeup.wait(min(remaining, _EXIT_CHECK_INTERVAL))
            try:
                with _work_lock:  # a fork waits until this write is done
                    self._flush(main_thread.is_alive())
            except StorageError as error:  # raised by this storage's next read or write
                with self.lock:
                    self._error = error
                if not main_thread.is_alive():
                    print(f"rivers: {error}", file=sys.stderr)

    def raise_error(self) -> None:
        """Raise (once) the error of a failed background write."""
        with self.lock:
            self._raise_error()

    def _raise_error(self) -> None:
        error, self._error = self._error, None
        if error is not None:
            raise error


def publish_others(own: WriteBehind | None) -> None:
    """Write what the other queues of this process hold (a read through ``own``'s storage must see it).

    Also queues that look empty are flushed: their records may be in flight
    (the flush waits for their commit).
    """
    for other in list(_holding):
        if other is not own and not other.closed and other._generation == _fork_generation:
            other._flush(False)


def anything_held() -> bool:
    """Whether any queue of this process holds records (cheap check before :func:`publish_others`)."""
    return bool(_holding)
