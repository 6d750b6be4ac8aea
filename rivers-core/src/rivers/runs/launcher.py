"""``RunLauncher``: the one path every run takes: requested, (queued,) launched, monitored, finished.

Every entry point starts runs here: ``CodeRepository.materialize()``,
``Job.execute()``, resuming (``rivers resume``), backfills, the CLI, and the
automation daemon and web UI after them. For each run the launcher

1. builds the :class:`~rivers.execution.coordinator.RunCoordinator` (a
   resumed run keeps who launched it and its earlier attempts);
2. for :meth:`RunLauncher.submit`: admits it under the repository's
   :class:`~rivers.runs.RunQueueConfig` (max concurrent runs, tag limits),
   recording it as ``Queued`` while it has to wait;
3. runs the plan with the executor, watched by the process's heartbeat
   (owner and heartbeat in storage, see :mod:`rivers.runs.heartbeat`) and,
   in the main thread, by the SIGINT/SIGTERM handlers of
   :mod:`rivers.runs.stopping`;
4. finishes it: the coordinator records every step that did not end as not
   run and the run's status; the launcher records why a stopped run ended
   (``RunMonitor.end_reason``).
"""

from __future__ import annotations

import logging
import threading
import time
from typing import TYPE_CHECKING, Any

from rivers._record import Record, factory
from rivers.definitions.compute import warn_inert_compute
from rivers.exceptions import ConfigurationError, ExecutionError, RunStartTimeoutError
from rivers.execution.coordinator import RunCoordinator, check_stop_reason
from rivers.execution.executors import Executor
from rivers.runs.heartbeat import heartbeat
from rivers.runs.stopping import INTERRUPTED, TERMINATED, handling_signals, stop_exception
from rivers.storage.contract import Capability

if TYPE_CHECKING:
    from concurrent.futures import Future, ThreadPoolExecutor

    from rivers.definitions.retry import RetryPolicy
    from rivers.execution.plan import ExecutionPlan
    from rivers.execution.result import RunResult
    from rivers.partitions.keys import PartitionKey
    from rivers.runs.handle import RunHandle
    from rivers.runs.queue import RunQueueConfig
    from rivers.storage import Storage
    from rivers.storage.records import LaunchedBy

__all__ = ["RunLauncher", "RunRequest"]

#: Threads running submitted runs at most (admitted runs beyond it wait for a thread).
_MIN_THREADS = 32


class RunRequest(Record):
    """What to run: a plan and how (executor, partition key, tags, config, retry default, origin).

    ``run_id`` reuses an id (with ``resume=True``: continue that run, skipping
    the steps it completed); ``launched_by`` is a
    :class:`~rivers.storage.LaunchedBy` (default: manual; a resumed run keeps
    its original one). ``retry_default`` is a resolved retry policy.
    ``raise_on_error``: :meth:`RunLauncher.run` (and ``RunHandle.wait``)
    raise the first step failure instead of returning a failed result.
    """

    plan: ExecutionPlan
    executor: Executor | None = None
    partition_key: PartitionKey | None = None
    tags: list[tuple[str, str]] = factory(list)
    config: dict[str, Any] | None = None  # user config by asset
    run_id: str | None = None
    resume: bool = False
    retry_default: RetryPolicy | None = None
    job_name: str | None = None
    partition_checked: bool = False
    launched_by: LaunchedBy | None = None
    raise_on_error: bool = True

    @property
    def priority(self) -> int:
        """The ``rivers/priority`` tag as an int (0 without one)."""
        for key, value in self.tags:
            if key == "rivers/priority":
                try:
                    return int(value)
                except ValueError:
                    return 0
        return 0


_log = logging.getLogger("rivers.runs")


class _Queued:
    __slots__ = ("request", "run_id", "future", "recorded", "admitted")

    def __init__(self, request: RunRequest, run_id: str, future: Future[RunResult]) -> None:
        self.request = request
        self.run_id = run_id  # the request's (submit() gives every request one)
        self.future = future
        self.recorded = False  # stored as Queued: claimed from storage when admitted
        self.admitted = 0.0  # time.monotonic() when the queue admitted it


class RunLauncher:
    """Launches, monitors and finishes the runs of one storage (see the module docs).

    ``queue`` (a :class:`RunQueueConfig`, usually ``CodeRepository(run_queue=...)``)
    limits the runs started with :meth:`submit`; :meth:`run` starts at once.
    Thread-safe.
    """

    def __init__(self, storage: Storage, queue: RunQueueConfig | None = None) -> None:
        if queue is not None:
            from rivers.runs.queue import RunQueueConfig

            if not isinstance(queue, RunQueueConfig):
                raise ConfigurationError(f"run_queue must be a RunQueueConfig, got {type(queue).__name__}")
        self.storage = storage
        self.queue = queue
        #: seconds an admitted run may take to start (``RunQueueConfig.start_timeout``), None without a queue
        self._start_timeout = queue.start_timeout_s if queue is not None else None
        # the Condition is for waiting; plain critical sections take its (re-entrant, C-level) mutex directly
        self._mutex = threading.RLock()
        self._lock = threading.Condition(self._mutex)
        self._active: dict[str, RunCoordinator] = {}
        self._main_run: RunCoordinator | None = None
        self._queued: list[_Queued] = []
        self._submitted: dict[str, list[tuple[str, str]]] = {}  # run id -> tags, of admitted submitted runs
        self._errors: dict[str, BaseException] = {}
        self._threads: ThreadPoolExecutor | None = None
        self._dispatcher: threading.Thread | None = None
        self._signals = handling_signals(self.stop_all, self._main_interruptible)  # reusable, re-entrant

    # ------------------------------------------------------------- blocking
    def run(self, request: RunRequest) -> RunResult:
        """Run ``request`` in this thread and return its :class:`~rivers.RunResult`.

        In the main thread SIGINT/SIGTERM stop the run (recorded as canceled,
        reason "interrupted"/"terminated") and then raise
        :class:`~rivers.runs.RunInterrupted` / :class:`~rivers.runs.RunTerminated`.
        """
        result, coordinator, stopped_by = self._run(request)
        if stopped_by is not None:
            raise stopped_by
        if request.raise_on_error and not result.success:
            error = coordinator.first_error()
            if error is not None:
                raise error
        return result

    def _run(self, request: RunRequest, start_deadline: float | None = None
             ) -> tuple[RunResult, RunCoordinator, BaseException | None]:
        """Run ``request`` here; a run started (recorded) after ``start_deadline`` (monotonic) fails unexecuted."""
        launched_by, attempts = self._resumed_from(request) if request.resume else (request.launched_by, [])
        coordinator = RunCoordinator(
            request.plan, self.storage, run_id=request.run_id, job_name=request.job_name, tags=request.tags,
            config=request.config, retry_default=request.retry_default, partition=request.partition_key,
            partition_checked=request.partition_checked, launched_by=launched_by, resume=request.resume,
        )
        executor = request.executor or Executor.in_process()
        warn_inert_compute(executor, request.plan)
        run_id = coordinator.run_id
        raised: BaseException | None = None
        watcher = heartbeat()
        with self._signals as main:  # (main: whether this is the main thread)
            # registered first: a signal from here on asks this run to stop instead of raising mid-way
            self._register(coordinator, main)
            try:
                coordinator.start()
            except BaseException:
                self._unregister(coordinator)
                raise
            try:
                try:
                    watcher.watch(coordinator, self.storage, coordinator.attempt_start, attempts)
                    if start_deadline is not None and time.monotonic() > start_deadline:
                        coordinator.fail_launch(self._start_timeout_error(run_id, start_deadline))
                    else:
                        executor.execute(coordinator)
                except KeyboardInterrupt as error:  # SIGINT in a step, or a step raising it
                    coordinator.request_stop(INTERRUPTED)
                    raised = error
                except SystemExit as error:  # SIGTERM in a step, or sys.exit() in a step
                    coordinator.request_stop(TERMINATED)
                    raised = error
            finally:
                watcher.forget(run_id)
                try:
                    result = coordinator.finish()
                finally:
                    self._unregister(coordinator)
                if coordinator.stop_reason is not None:
                    self._record_end(coordinator, attempts)
        if raised is None and main and coordinator.stop_reason in (INTERRUPTED, TERMINATED):
            raised = stop_exception(coordinator.stop_reason)  # the signal arrived between steps
        return result, coordinator, raised

    def _start_timeout_error(self, run_id: str, deadline: float) -> RunStartTimeoutError:
        late = time.monotonic() - deadline + (self._start_timeout or 0.0)
        start_timeout = self.queue.start_timeout if self.queue is not None else None
        return RunStartTimeoutError(
            f"Run '{run_id}' did not start within RunQueueConfig(start_timeout={start_timeout!r}) of being admitted "
            f"by the run queue (it started {late:.2f} s after admission), so it was failed without running; "
            "raise start_timeout, or find what held up the start (storage locked by another process, "
            "an executor slow to start)"
        )

    def _register(self, coordinator: RunCoordinator, main: bool) -> None:
        with self._mutex:
            self._active[coordinator.run_id] = coordinator
            if main:
                self._main_run = coordinator

    def _unregister(self, coordinator: RunCoordinator) -> None:
        with self._mutex:
            self._active.pop(coordinator.run_id, None)
            if self._main_run is coordinator:
                self._main_run = None

    def _resumed_from(self, request: RunRequest) -> tuple[LaunchedBy | None, list[tuple[int, int]]]:
        """``(launched_by, earlier attempts)`` of the run: a resumed run keeps its launcher and attempts."""
        if not request.resume or request.run_id is None:
            return request.launched_by, []
        previous = self.storage.get_run(request.run_id)
        if previous is not None and previous.status == "Started" and self.storage.reconcile_runs(
                run_ids=[request.run_id]):
            previous = self.storage.get_run(request.run_id)  # its process died: now failed, "process died"
        if previous is None:  # (also when it was deleted while being reconciled)
            return request.launched_by, []
        if previous.status in ("Started", "Queued"):
            monitor = self.storage.get_run_monitor(request.run_id)
            owner = f" by pid {monitor.pid} on {monitor.host}" if monitor is not None and monitor.pid else ""
            raise ExecutionError(
                f"Run '{request.run_id}' is still {previous.status.lower()}{owner}; resume it once it has ended "
                "(a run whose process died is marked failed by `rivers runs --reconcile`)"
            )
        monitor = self.storage.get_run_monitor(request.run_id)
        attempts = list(monitor.attempts) if monitor is not None else []
        attempt_start = (monitor.attempt_start if monitor is not None else None) or previous.start_time
        attempts.append((attempt_start, previous.end_time or time.time_ns()))
        return request.launched_by or previous.launched_by, attempts

    def _record_end(self, coordinator: RunCoordinator, attempts: list[tuple[int, int]]) -> None:
        """Store why a stopped run ended (with its owner and attempts) in its monitor record."""
        if not self.storage.supports(Capability.RUN_MONITORING):
            return
        from rivers.storage.monitor import RunMonitor, current_owner

        host, pid, started = current_owner()
        previous = self.storage.get_run_monitor(coordinator.run_id)
        attempt_start = previous.attempt_start if previous is not None else None
        self.storage.put_run_monitor(RunMonitor(
            run_id=coordinator.run_id, host=host, pid=pid, process_start=started, heartbeat=time.time_ns(),
            attempt_start=attempt_start, end_reason=coordinator.stop_reason, attempts=attempts,
        ))

    # ------------------------------------------------------------ submitted
    def submit(self, request: RunRequest) -> RunHandle:
        """Start ``request`` in a launcher thread and return its :class:`RunHandle` at once.

        Under a :class:`RunQueueConfig` the run waits, recorded as ``Queued``,
        until fewer than ``max_concurrent_runs`` submitted runs go and its tag
        limits have room (highest ``rivers/priority`` first).
        """
        from concurrent.futures import Future

        from rivers._ids import random_uuid4
        from rivers.runs.handle import RunHandle

        run_id = request.run_id
        if run_id is None:
            run_id = random_uuid4()
            request = request.evolve(run_id=run_id)
        future: Future[RunResult] = Future()
        item = _Queued(request, run_id, future)
        with self._mutex:
            self._queued.append(item)
            started = self._admit()
        if item not in started:
            self._record_queued(request, run_id)
            self._ensure_dispatcher()
        return RunHandle(self, run_id, future, request.raise_on_error)

    def _record_queued(self, request: RunRequest, run_id: str) -> None:
        """A run that has to wait: recorded as Queued (unless it is being resumed), owned by this process."""
        if request.resume:
            return
        from rivers.storage.records import LaunchedBy, RunRecord

        now = time.time_ns()
        record = RunRecord(
            run_id=run_id, job_name=request.job_name, status="Queued", start_time=now, tags=request.tags,
            node_names=list(request.plan.node_names), priority=request.priority, partition_key=request.partition_key,
            launched_by=request.launched_by or LaunchedBy.manual(),
        )
        with self._mutex:
            item = next((queued for queued in self._queued if queued.run_id == run_id), None)
            if item is None:
                return  # admitted meanwhile
            self.storage.create_run(record)
            item.recorded = True
        if self.storage.supports(Capability.RUN_MONITORING):
            from rivers.storage.monitor import RunMonitor, current_owner

            host, pid, started = current_owner()
            self.storage.put_run_monitor(RunMonitor(run_id, host, pid, started, heartbeat=now))

    def _admit(self) -> list[_Queued]:
        """Start the queued runs the queue config admits now (lock held); the ones started."""
        if not self._queued:
            return []
        from rivers.runs.queue import admissible

        chosen = admissible(self.queue, self._submitted.values(),
                            [(item.request.priority, item.request.tags) for item in self._queued])
        started = [self._queued[index] for index in chosen]
        for item in started:
            self._queued.remove(item)
            self._submitted[item.run_id] = item.request.tags
            item.admitted = time.monotonic()
            if self._threads is None:
                from concurrent.futures import ThreadPoolExecutor

                width = max(_MIN_THREADS, self.queue.max_concurrent_runs if self.queue is not None else 0)
                self._threads = ThreadPoolExecutor(max_workers=width, thread_name_prefix="rivers-run")
            self._threads.submit(self._run_submitted, item)
        return started

    def _ensure_dispatcher(self) -> None:
        with self._mutex:
            if self._dispatcher is None and self._queued:
                self._dispatcher = threading.Thread(target=self._dispatch, name="rivers-run-queue", daemon=True)
                self._dispatcher.start()

    def _dispatch(self) -> None:
        """Admit queued runs as room frees up; ends when the queue is empty."""
        interval = self.queue.dequeue_interval_s if self.queue is not None else 0.25
        with self._mutex:
            while self._queued:
                self._admit()
                if self._queued:
                    self._lock.wait(interval)
            self._dispatcher = None

    def _run_submitted(self, item: _Queued) -> None:
        request = item.request
        try:
            if item.recorded and not self._claim(item):
                return
            deadline = None if self._start_timeout is None else item.admitted + self._start_timeout
            result, coordinator, _ = self._run(request.evolve(raise_on_error=False), deadline)
            error = coordinator.first_error()
            if error is not None:
                with self._mutex:
                    self._errors[item.run_id] = error
        except BaseException as error:  # noqa: BLE001 - handed to the handle
            item.future.set_exception(error)
        else:
            item.future.set_result(result)
        finally:
            with self._mutex:
                self._submitted.pop(item.run_id, None)
                self._lock.notify_all()

    def _claim(self, item: _Queued) -> bool:
        """Claim a run stored as Queued before starting it; whether this process got it.

        Another process may have claimed it (``Storage.claim_queued_runs``),
        or canceled it, meanwhile: then it is not started here and its
        handle completes unsuccessfully.
        """
        if not self.storage.supports(Capability.RUN_MONITORING):
            return True
        run_id = item.run_id
        if self.storage.claim_queued_runs(1, run_ids=[run_id]):
            return True
        from rivers.execution.result import RunResult

        record = self.storage.get_run(run_id)
        _log.info("queued run %s was not started here: it is %s", run_id,
                  "gone" if record is None else f"{record.status} (claimed or canceled by another process)")
        item.future.set_result(RunResult(False, run_id, list(item.request.plan.node_names), []))
        return False

    def first_error(self, run_id: str) -> BaseException | None:
        """The first step failure of a submitted run that finished."""
        with self._mutex:
            return self._errors.get(run_id)

    # -------------------------------------------------------------- stopping
    def cancel(self, run_id: str) -> bool:
        """Cancel ``run_id``: dropped if queued here, stopped if running here, else a stored cancel request.

        Returns ``False`` when the run is unknown or has ended.
        """
        with self._mutex:
            for item in self._queued:
                if item.run_id == run_id:
                    self._queued.remove(item)
                    break
            else:
                item = None
            coordinator = self._active.get(run_id)
        if item is not None:
            self._cancel_queued([item])
            return True
        if coordinator is not None:
            coordinator.request_stop("canceled")
            return True
        record = self.storage.get_run(run_id)
        if record is None or record.status not in ("Started", "Queued"):
            return False
        self.storage.request_cancellation(run_id)
        return True

    def stop_all(self, reason: str) -> None:
        """Ask every run of this launcher to stop (``reason``: "canceled", "interrupted", "terminated").

        Queued runs are canceled. Safe in a signal handler: running runs only
        get a flag, the queued ones are recorded by a helper thread.

        :raises ExecutionError: for another ``reason`` (nothing is stopped).
        """
        check_stop_reason(reason)
        with self._mutex:
            coordinators = list(self._active.values())
            queued, self._queued = self._queued, []
        for coordinator in coordinators:
            coordinator.request_stop(reason)
        if queued:
            threading.Thread(target=self._cancel_queued, args=(queued,), name="rivers-run-cancel").start()

    def _cancel_queued(self, items: list[_Queued]) -> None:
        """Record queued runs that will never start as canceled and complete their handles."""
        from rivers.execution.result import RunResult

        for item in items:
            run_id = item.run_id
            if self.storage.get_run(run_id) is not None:
                self.storage.update_run(run_id, status="Canceled", end_time=time.time_ns())
            item.future.set_result(RunResult(False, run_id, list(item.request.plan.node_names), []))

    def active_run_ids(self) -> list[str]:
        """The ids of the runs going in this launcher."""
        with self._mutex:
            return list(self._active)

    def handling_signals(self) -> handling_signals:
        """Inside, SIGINT/SIGTERM stop this launcher's runs (main thread only; see :mod:`rivers.runs.stopping`)."""
        return self._signals

    def _main_interruptible(self) -> bool:
        main = self._main_run
        return main is None or main.inline_step is not None
