"""``BackfillHandle``: a backfill recorded with ``block=False``, followed (and optionally executed) from here.

``CodeRepository.backfill(block=False)`` and ``rerun_backfill(block=False)``
record the backfill as ``Requested`` and return a handle at once. Who
executes it:

* by default the automation daemon (``rivers daemon``, ``rivers dev``, an
  ``AutomationDaemon`` in any process on the same storage): its leader picks
  ``Requested`` backfills up;
* or this process, when asked: :meth:`BackfillHandle.start` runs it on a
  background thread, its runs submitted to the repository's run launcher
  (so ``max_concurrency`` and the ``run_queue`` apply).

Either way it is claimed through storage first
(:func:`~rivers.backfills.state.claim_backfill`), so it is executed once
even when a daemon and ``start()`` (or two daemons, two processes) reach for
it together. The handle reads the backfill's stored record, so it follows
the backfill wherever it runs.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import Future
from typing import TYPE_CHECKING, Callable, Generic, TypeVar, overload

from rivers.backfills.results import BackfillResult
from rivers.backfills.runner import cancel_backfill
from rivers.backfills.state import TERMINAL_STATUSES, BackfillRecord, claim_backfill, load_backfill
from rivers.exceptions import BackfillTimeoutError, BackfillUnattendedError

if TYPE_CHECKING:
    from rivers.backfills.results import BackfillStatus
    from rivers.partitions.keys import PartitionKey
    from rivers.storage import Storage

__all__ = ["BackfillHandle", "Execute"]

#: Runs a claimed backfill record to its end in this thread and returns the final record.
Execute = Callable[[BackfillRecord], BackfillRecord]

Value = TypeVar("Value")

#: How long ``wait()`` sleeps between two looks at the stored record, at first and at most.
_FIRST_POLL_S = 0.02
_MAX_POLL_S = 0.25


class _Live(Generic[Value]):
    """A read-only attribute of :class:`BackfillHandle`: ``field`` of its :meth:`~BackfillHandle.snapshot` now."""

    def __init__(self, field: str, doc: str) -> None:
        self.field = field
        self.__doc__ = doc

    @overload
    def __get__(self, handle: None, owner: type) -> _Live[Value]: ...
    @overload
    def __get__(self, handle: BackfillHandle, owner: type) -> Value: ...

    def __get__(self, handle: BackfillHandle | None, owner: type) -> Value | _Live[Value]:
        if handle is None:
            return self
        value: Value = getattr(handle.snapshot(), self.field)
        return value


class BackfillHandle:
    """A submitted backfill: ``backfill_id``, its live ``status`` and counts, ``wait()``, ``cancel()``, ``start()``.

    Returned by ``CodeRepository.backfill(block=False)`` and
    ``rerun_backfill(block=False)``. It answers every field of
    :class:`~rivers.BackfillResult` (``backfill_id``, ``num_partitions``,
    ``num_runs``, ``status``, ``completed``, ``failed``, ``canceled``,
    ``run_ids``, ``is_dry_run``, ``partition_keys``, ``partition_statuses``,
    ``skipped_partitions``, ``success``), read from the stored record on each
    access, so they follow the backfill: right after the call ``status`` is
    ``"Requested"``, ``run_ids`` is ``[]`` and ``num_runs`` is the planned
    number of runs, as the published package returns; :attr:`requested`
    keeps that first snapshot and :meth:`snapshot` takes a consistent one
    now. Once the backfill has finished the handle stops reading storage.

    ``future`` is a :class:`concurrent.futures.Future` of the final
    :class:`~rivers.BackfillResult` (for ``concurrent.futures.wait`` over
    several handles).
    """

    def __init__(self, storage: Storage, requested: BackfillResult, execute: Execute | None = None) -> None:
        self._storage = storage
        self.requested = requested
        self._execute = execute
        self._lock = threading.Lock()
        self._tried_start = False
        self._run_future: Future[BackfillResult] | None = None  # set when start() claimed it
        self._watch_future: Future[BackfillResult] | None = None
        self._final: BackfillResult | None = None

    # ------------------------------------------------------------ fixed fields
    @property
    def backfill_id(self) -> str:
        """The backfill's id (already stored when the handle is returned)."""
        return self.requested.backfill_id

    @property
    def num_partitions(self) -> int:
        """How many partitions the backfill covers."""
        return self.requested.num_partitions

    @property
    def partition_keys(self) -> list[PartitionKey]:
        """Every partition key of the backfill, in plan order."""
        return self.requested.partition_keys

    @property
    def is_dry_run(self) -> bool:
        """Always ``False`` (a dry run returns a plain :class:`~rivers.BackfillResult`)."""
        return False

    @property
    def skipped_partitions(self) -> list[str]:
        """Keys ``rerun_backfill`` left out because they are no longer valid."""
        return self.requested.skipped_partitions

    # ------------------------------------------------------------- live fields
    status = _Live[str]("status", 'The stored status: ``"Requested"``, ``"InProgress"``, ``"CompletedSuccess"``, '
                   '``"CompletedFailed"``, ``"Canceled"``.')
    num_runs = _Live[int]("num_runs", "Runs created so far once some exist, else the planned number of runs.")
    completed = _Live[int]("completed", "Partitions completed so far.")
    failed = _Live[int]("failed", "Partitions failed so far.")
    canceled = _Live[int]("canceled", "Partitions canceled so far.")
    run_ids = _Live[list[str]]("run_ids", "Ids of the runs created so far, in plan order.")
    partition_statuses = _Live["dict[PartitionKey, str]"](
        "partition_statuses",
        'Every key\'s status now: ``"pending"``, ``"completed"``, ``"failed"`` or ``"canceled"``.')
    success = _Live[bool]("success", "Whether the backfill finished with every partition completed.")

    @property
    def progress(self) -> BackfillStatus:
        """The stored :class:`~rivers.BackfillStatus` now (counts, ``remaining_partitions``, ``error``, tags)."""
        record = self._record()
        return record.to_status()

    def snapshot(self) -> BackfillResult:
        """The backfill as a :class:`~rivers.BackfillResult` now (one storage read; none once it finished)."""
        if self._final is not None:
            return self._final
        result = self._result_of(self._record())
        if result.status in TERMINAL_STATUSES:
            self._final = result
        return result

    # ---------------------------------------------------------------- control
    def done(self) -> bool:
        """Whether the backfill has finished (``CompletedSuccess``, ``CompletedFailed`` or ``Canceled``)."""
        return self.snapshot().status in TERMINAL_STATUSES

    def start(self) -> bool:
        """Execute the backfill in the background of this process instead of leaving it to a daemon.

        The backfill is claimed through storage first: ``False`` when a
        daemon or another process (or an earlier ``start()``) got it, or it is
        no longer ``Requested`` (then :meth:`wait` follows whoever runs it).
        ``True``: a thread of this process runs it; its runs go through the
        repository's run launcher, at most ``max_concurrency`` at a time and
        each admitted by the ``run_queue``. The thread is not a daemon
        thread: the interpreter waits for the backfill at exit (``cancel()``
        it to stop sooner).
        """
        with self._lock:
            if self._tried_start or self._execute is None:
                return self._run_future is not None
            self._tried_start = True
            record = claim_backfill(self._storage, self.backfill_id)
            if record is None:
                return False
            future: Future[BackfillResult] = Future()
            future.set_running_or_notify_cancel()
            self._run_future = future
        thread = threading.Thread(target=self._run, args=(self._execute, record, future),
                                  name=f"rivers-backfill-{self.backfill_id[:8]}")
        thread.start()
        return True

    def _run(self, execute: Execute, record: BackfillRecord, future: Future[BackfillResult]) -> None:
        try:
            final = execute(record)
        except BaseException as error:  # noqa: BLE001 - handed to whoever waits; the record says Canceled
            future.set_exception(error)
            return
        result = self._result_of(final)
        self._final = result
        future.set_result(result)

    def cancel(self) -> bool:
        """Cancel the backfill: no further run starts (a ``Requested`` one never starts).

        Runs already going finish. Returns ``False`` when it had finished already.
        """
        if self.done():
            return False
        cancel_backfill(self._storage, self.backfill_id)
        return True

    def wait(self, timeout: float | None = None, *, unattended: float | None = 10.0) -> BackfillResult:
        """Wait until the backfill has finished and return its final :class:`~rivers.BackfillResult`.

        A failed backfill is returned (``status == "CompletedFailed"``), not raised.

        :raises BackfillTimeoutError: still not finished after ``timeout``
            seconds (also a :class:`TimeoutError`); the backfill goes on.
        :raises BackfillUnattendedError: (a :class:`BackfillTimeoutError`)
            the backfill stayed ``Requested`` for ``unattended`` seconds while
            no daemon held the storage's leader lease and this process does
            not run it, so nothing would ever execute it: start ``rivers
            daemon`` (or ``rivers dev``) on this storage, or call
            :meth:`start`. ``unattended=None`` waits regardless.
        """
        from concurrent.futures import TimeoutError as FutureTimeout

        started = time.monotonic()
        if self._run_future is not None:
            try:
                return self._run_future.result(timeout)
            except FutureTimeout:
                raise self._timeout(timeout) from None
        pause = _FIRST_POLL_S
        while True:
            result = self.snapshot()
            if result.status in TERMINAL_STATUSES:
                return result
            waited = time.monotonic() - started
            if unattended is not None and result.status == "Requested" and waited >= unattended \
                    and not self._daemon_leads():
                raise self._unattended(waited)
            if timeout is not None and waited >= timeout:
                raise self._timeout(timeout)
            remaining = None if timeout is None else timeout - waited
            time.sleep(pause if remaining is None else max(0.0, min(pause, remaining)))
            pause = min(pause * 2, _MAX_POLL_S)

    @property
    def future(self) -> Future[BackfillResult]:
        """A :class:`concurrent.futures.Future` of the final :class:`~rivers.BackfillResult`.

        When this process runs it (:meth:`start`), the future is that of its
        thread; otherwise a watcher thread (a daemon thread) follows the
        stored record from the first access.
        """
        with self._lock:
            if self._run_future is not None:
                return self._run_future
            if self._watch_future is None:
                self._watch_future = Future()
                self._watch_future.set_running_or_notify_cancel()
                threading.Thread(target=self._watch, args=(self._watch_future,), daemon=True,
                                 name=f"rivers-backfill-watch-{self.backfill_id[:8]}").start()
            return self._watch_future

    def _watch(self, future: Future[BackfillResult]) -> None:
        try:
            result = self.wait(unattended=None)
        except BaseException as error:  # noqa: BLE001 - e.g. the storage was closed: the future says why
            future.set_exception(error)
        else:
            future.set_result(result)

    # ---------------------------------------------------------------- helpers
    def _record(self) -> BackfillRecord:
        record = load_backfill(self._storage, self.backfill_id)
        if record is None:
            from rivers.exceptions import ExecutionError

            raise ExecutionError(f"backfill '{self.backfill_id}' is no longer in storage")
        return record

    def _result_of(self, record: BackfillRecord) -> BackfillResult:
        keys = self.requested.partition_keys
        return BackfillResult(
            backfill_id=record.backfill_id,
            num_partitions=len(keys),
            num_runs=len(record.run_ids) if record.run_ids else self.requested.num_runs,
            status=record.status,
            completed=record.count("completed"),
            failed=record.count("failed"),
            canceled=record.count("canceled"),
            run_ids=list(record.run_ids),
            partition_keys=list(keys),
            partition_statuses=dict(zip(keys, record.statuses)),
            skipped_partitions=list(self.requested.skipped_partitions),
        )

    def _daemon_leads(self) -> bool:
        from rivers.automation.leadership import daemon_leads

        return bool(daemon_leads(self._storage))

    def _timeout(self, timeout: float | None) -> BackfillTimeoutError:
        progress = self.snapshot()
        return BackfillTimeoutError(
            f"backfill '{self.backfill_id}' still {progress.status} after {timeout}s "
            f"({progress.completed} completed, {progress.failed} failed, {progress.canceled} canceled of "
            f"{self.num_partitions} partitions); it goes on: wait() again, or cancel() it"
        )

    def _unattended(self, waited: float) -> BackfillUnattendedError:
        return BackfillUnattendedError(
            f"backfill '{self.backfill_id}' is still Requested after {waited:.1f}s and nothing executes it: no "
            "automation daemon leads this storage and this process does not run it. Start `rivers daemon` (or "
            "`rivers dev`) on this storage, or call handle.start() to run it in this process; "
            "wait(unattended=None) waits regardless"
        )

    def __repr__(self) -> str:
        try:
            now = self.snapshot()
        except Exception:  # noqa: BLE001 - a repr never raises (e.g. the storage is closed)
            return f"BackfillHandle(id={self.backfill_id!r})"
        return (f"BackfillHandle(id={self.backfill_id!r}, status={now.status!r}, completed={now.completed}, "
                f"failed={now.failed}, canceled={now.canceled})")
