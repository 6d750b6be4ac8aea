"""Driving one run: run record, skip propagation, events, observers, result."""

from __future__ import annotations

import functools
import time
from typing import TYPE_CHECKING, Any, Final

from rivers._ids import random_uuid4
from rivers._registry import registry
from rivers.exceptions import ExecutionError
from rivers.execution.event_writer import EventWriter
from rivers.execution.log_capture import StepLogCapture, hold_streams, release_streams
from rivers.execution.outcome import FAILURE, SKIPPED, StepOutcome, describe_error
from rivers.execution.plan import ExecutionPlan, PlannedStep
from rivers.execution.result import RunResult
from rivers.execution.step_runner import RunState
from rivers.storage.records import LaunchedBy, RunRecord

if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Protocol

    from rivers.definitions.retry import RetryPolicy
    from rivers.execution.partition_progress import RunPartitionProgress
    from rivers.execution.pools import RunPoolClaims
    from rivers.partitions.keys import PartitionKey
    from rivers.storage.base import Storage
    from rivers.storage.records import StoredEvent, StoredLog

    class Wakeable(Protocol):
        """What a run wakes when a stop is requested (the scheduler driving it)."""

        def wake(self) -> None:
            """Return from any wait at once and look at the run's state."""


_CANCEL_CHECK_INTERVAL_S = 1.0


class StopReason:
    """Why a run was asked to stop before its end: the strings :meth:`RunCoordinator.request_stop` takes.

    (Plain strings, not an ``Enum``: building an enum class costs every first run about 0.15 ms.)
    """

    CANCELED: Final = "canceled"  # steps in flight finish
    INTERRUPTED: Final = "interrupted"  # SIGINT: steps in flight are terminated
    TERMINATED: Final = "terminated"  # SIGTERM: steps in flight are terminated


_STOP_REASONS: Final = (StopReason.CANCELED, StopReason.INTERRUPTED, StopReason.TERMINATED)


def check_stop_reason(reason: str) -> None:
    """Raise :class:`~rivers.exceptions.ExecutionError` unless ``reason`` is a :class:`StopReason`."""
    if reason not in _STOP_REASONS:
        raise ExecutionError(
            f"Unknown stop reason {reason!r}: a run stops as one of {', '.join(map(repr, _STOP_REASONS))}"
        )


class RunCoordinator:
    """Owns one run while the scheduler executes its plan: run record, events, observers, result.

    The scheduler (:func:`rivers.execution.scheduler.execute_run`) calls
    :meth:`record` with each step's outcome and :meth:`upstream_failure` to
    learn whether a step must be skipped; the run's caller may call
    :meth:`request_stop` from any thread or a signal handler.
    """

    #: why the run could not be launched (see :meth:`fail_launch`), None when it was
    launch_error: BaseException | None = None
    #: when this attempt of the run started (ns since the epoch; set by :meth:`start`): the run record's start
    #: time, except for a resumed run, which keeps its original start
    attempt_start: int = 0
    #: records the partition statuses of a partitioned run (set by :meth:`start`; None: nothing to record)
    _progress: RunPartitionProgress | None = None

    def __init__(
        self,
        plan: ExecutionPlan,
        storage: Storage,
        *,
        run_id: str | None = None,
        job_name: str | None = None,
        tags: list[tuple[str, str]] | None = None,
        config: dict[str, Any] | None = None,
        retry_default: RetryPolicy | None = None,
        partition: PartitionKey | None = None,
        partition_checked: bool = False,
        launched_by: LaunchedBy | None = None,
        resume: bool = False,
    ) -> None:
        self.plan = plan
        self.storage = storage
        self.run_id = run_id or random_uuid4()
        self.job_name = job_name
        self.tags = list(tags or [])
        self.launched_by = launched_by or LaunchedBy.manual()
        self.state = RunState(self.run_id, storage, config, retry_default, partition)
        self.state.partition_checked = partition_checked
        self.state.log_capture = StepLogCapture.install()
        self.failed_nodes: dict[str, BaseException] = {}
        self.failures: list[tuple[str, BaseException]] = []
        self.failed_partitions: list[tuple[str, PartitionKey, str]] = []
        self._first_error: BaseException | None = None
        self.completed: set[str] = storage.completed_steps(self.run_id) if resume else set()
        #: steps a crashed earlier attempt of this run started but did not complete (resume only)
        self.started_before: set[str] = set()
        #: keys of the steps the scheduler added while the run went on (instances of mapped tasks)
        self.expanded_steps: list[str] = []
        if resume:
            self.state.event_seq, self.started_before = _resume_facts(storage, self.run_id, self.completed)
        self._last_cancel_check = time.monotonic()
        self._cancelled = False
        #: why the run was asked to stop (see :meth:`request_stop`), None while it may go on
        self.stop_reason: str | None = None
        #: the step executing in the main thread right now (a signal handler may interrupt it), else None
        self.inline_step: str | None = None
        self._ended: set[str] = set()  # steps with an outcome in this attempt
        self._scheduler: Wakeable | None = None
        self._resume = resume
        self._started = 0.0
        self._writer = EventWriter(storage)
        self._claims: RunPoolClaims | None = None
        self._holds_streams = False
        self.observers = registry().get_observers()

    # ------------------------------------------------------------- lifecycle
    def start(self) -> None:
        """Create (or re-open) the run record and tell observers."""
        self._started = time.perf_counter()
        hold_streams()  # steps' output is teed from here to finish(); steps then pay nothing for it
        self._holds_streams = True
        priority = 0
        for key, value in self.tags:
            if key == "rivers/priority":
                try:
                    priority = int(value)
                except ValueError:
                    pass
        start_time = self.attempt_start = time.time_ns()
        if self._resume:
            previous = self.storage.get_run(self.run_id)
            if previous is not None:
                start_time = previous.start_time  # a resumed run keeps its original start
            if self.plan.has_pools:
                self.storage.free_concurrency_slots_for_run(self.run_id)  # claims of the crashed attempt
        self.storage.start_run(RunRecord(
            run_id=self.run_id,
            job_name=self.job_name,
            status="Started",
            start_time=start_time,
            tags=self.tags,
            node_names=list(self.plan.node_names),
            priority=priority,
            partition_key=self.state.partition,
            launched_by=self.launched_by,
        ))
        if self.state.partition is not None:
            self._progress = _run_progress()(self.storage, self.run_id, self.state.partition)
        if self.observers.active:
            from rivers.plugins.events import RunStarted

            self.observers.run_started(RunStarted(self.run_id, self.job_name, list(self.plan.node_names), self.tags))

    def finish(self) -> RunResult:
        """Close the run record, tell observers, and build the result.

        After a stop request, every planned step that neither succeeded nor
        failed gets a ``StepNotRun`` event (``rivers/reason``: the stop
        reason) and the run is ``Canceled`` (unless the stop came once every
        step had succeeded: then it stopped nothing).
        """
        if self._holds_streams:
            self._holds_streams = False
            release_streams()
        if self._claims is not None:
            self._claims.close()
        self.state.close()
        not_run = self._not_run_events() if self._cancelled else []
        # a stop that came once every step had succeeded stopped nothing: the run succeeded
        stopped = bool(not_run) or (self._cancelled and bool(self.failures))
        status = "Canceled" if stopped else ("Failure" if self.failures or self.launch_error else "Success")
        if not_run:
            self._writer.add(not_run, [])
        if not stopped:
            self._cancelled = False
            self.stop_reason = None
        with self.storage.batch():  # the last events and the final status: one commit
            if self._progress is not None and self._progress.held:  # steps that never ended: they hold nothing now
                self._writer.add([], [], self._progress.abandoned())
            self._writer.close()
            self.storage.update_run(self.run_id, status=status, end_time=time.time_ns())
        failed = [(name, describe_error(error)) for name, error in self.failures]
        if self.observers.active:
            from rivers.plugins.events import RunFinished

            self.observers.run_finished(RunFinished(self.run_id, status.lower(), time.perf_counter() - self._started,
                                                    [name for name, _ in failed]))
        succeeded = not self.failures and not self._cancelled and self.launch_error is None
        return RunResult(succeeded, self.run_id, list(self.plan.node_names), failed, self.failed_partitions)

    def _not_run_events(self) -> list[StoredEvent]:
        """One ``StepNotRun`` event per planned (or expanded) step that neither succeeded nor failed in this run."""
        reason = [("rivers/reason", self.stop_reason or "canceled")]
        keys = [planned.key for planned in self.plan.steps]
        keys.extend(self.expanded_steps)
        return [self.state.event("StepNotRun", key, metadata=list(reason)) for key in keys
                if key not in self._ended and key not in self.completed]

    def fail_launch(self, error: BaseException) -> None:
        """The run will not execute (it started too late, say): a ``RunLaunchFailed`` event, then a failed run.

        Call it instead of executing the plan; the event's ``rivers/reason``
        is ``str(error)``, :meth:`finish` records the run as ``Failure`` and
        :meth:`first_error` returns ``error``.
        """
        self.launch_error = error
        if self._first_error is None:
            self._first_error = error
        self._writer.add([self.state.event("RunLaunchFailed", None, metadata=[("rivers/reason", str(error))])], [])

    def first_error(self) -> BaseException | None:
        """The first real failure of the run (skips are consequences, not causes)."""
        return self._first_error

    # ------------------------------------------------------------------ steps
    def upstream_failure(self, planned: PlannedStep) -> str | None:
        """The first upstream node of the step that failed or was skipped, if any."""
        failed = self.failed_nodes
        if not failed:
            return None
        for name in planned.runtime.upstream_nodes:
            if name in failed:
                return name
        return None

    def step_started(self, key: str) -> None:
        """Tell observers that ``key`` starts (its first attempt is about to be launched).

        In a partitioned run, the step's partitions show in progress from the
        run's next flush while it runs (see :mod:`rivers.execution.partition_progress`).
        """
        if self._progress is not None:
            planned = self.plan.by_key.get(key)
            if planned is not None:
                self._progress.started(planned.runtime)
        if self.observers.active:
            from rivers.plugins.events import StepStarted

            self.observers.step_started(StepStarted(self.run_id, key))

    def record(self, outcome: StepOutcome) -> None:
        """Hand a step's events and logs to the writer and remember its failures.

        Events are committed in batches on a background thread: a crash loses
        at most the last fraction of a second of events, whose steps a resumed
        run simply executes again.
        """
        progress = self._progress
        if progress is None:
            self._writer.add(outcome.events, outcome.logs)
        self._ended.add(outcome.key)
        if self.state.partition is not None:
            marked = len(self.failed_partitions)
            for event in outcome.events:
                if event.event_type == "PartitionFailure":
                    self.failed_partitions.append((event.asset_key, event.partition_key, dict(event.metadata)["error"]))
            if progress is not None:  # the step's partition statuses change in the same write as its events
                changes = progress.ended(outcome, len(self.failed_partitions) > marked)
                self._writer.add(outcome.events, outcome.logs, changes)
        if outcome.status == FAILURE and self._first_error is None:
            self._first_error = outcome.error
        if outcome.failed_nodes:
            for name, error in outcome.failed_nodes.items():
                self.failed_nodes[name] = error
                self.failures.append((name, error))
        if self.observers.active:
            from rivers.plugins.events import StepFinished

            error_text = describe_error(outcome.error) if outcome.error is not None else None
            self.observers.step_finished(StepFinished(self.run_id, outcome.key, outcome.status, outcome.duration_s,
                                                      error_text))

    def flush(self) -> None:
        """Block until every event recorded so far is in storage (and the steps going show in progress)."""
        if self._progress is not None:
            self._progress.write_pending()
        self._writer.flush()

    def record_attempt(self, events: list[StoredEvent], logs: list[StoredLog]) -> None:
        """Store the events and logs of a failed attempt that will be retried (the step is not done)."""
        self._writer.add(events, logs)

    # ------------------------------------------------------------------- stop
    def request_stop(self, reason: str) -> None:
        """Ask the run to stop: no step starts any more; ``reason`` is "canceled", "interrupted" or "terminated".

        Safe to call from any thread and from a signal handler (it sets
        attributes and wakes the scheduler). The scheduler launches nothing
        more; on "interrupted" and "terminated" it also terminates the steps
        in flight through their launchers (a "canceled" run lets them
        finish). :meth:`finish` then records the steps that did not end as not
        run and the run as canceled.
        """
        check_stop_reason(reason)
        if self.stop_reason is None:
            self.stop_reason = reason
        self._cancelled = True
        scheduler = self._scheduler
        if scheduler is not None:
            scheduler.wake()

    def attach_scheduler(self, scheduler: Wakeable | None) -> None:
        """The scheduler driving this run (None once it returned), woken by :meth:`request_stop`."""
        self._scheduler = scheduler

    def pool_claims(self) -> RunPoolClaims:
        """The run's pool claims (created on first use)."""
        if self._claims is None:
            from rivers.execution.pools import RunPoolClaims

            self._claims = RunPoolClaims(self.storage, self.run_id, self._writer)
        return self._claims

    def cancel_requested(self) -> bool:
        """Whether cancellation was requested in storage (checked about once a second)."""
        if self._cancelled:
            return True
        now = time.monotonic()
        if now - self._last_cancel_check >= _CANCEL_CHECK_INTERVAL_S:
            self._last_cancel_check = now
            if self.storage.is_cancelled(self.run_id):
                self.request_stop("canceled")
        return self._cancelled


def _resume_facts(storage: Storage, run_id: str, completed: set[str]) -> tuple[int, set[str]]:
    """For a resumed run: the highest ``<run_id>:<n>`` event number already stored (so new ids never
    collide) and the steps started but not completed."""
    prefix = f"{run_id}:"
    highest = 0
    started = set()
    for event in storage.get_events_for_run(run_id):
        tail = event.id[len(prefix):] if event.id.startswith(prefix) else ""
        if tail.isdigit():
            highest = max(highest, int(tail))
        if event.event_type == "StepStart" and event.asset_key not in completed:
            started.add(event.asset_key)
    return highest, started


@functools.cache
def _run_progress() -> Callable[[Storage, str, PartitionKey], RunPartitionProgress | None]:
    """:func:`rivers.execution.partition_progress.run_progress`, imported by the first partitioned run and kept
    (an import statement would cost about 0.5 us on every run)."""
    from rivers.execution.partition_progress import run_progress

    return run_progress


__all__ = ["RunCoordinator", "StopReason", "FAILURE", "SKIPPED", "check_stop_reason"]
