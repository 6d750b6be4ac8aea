"""Driving one run: run record, skip propagation, events, observers, result."""

from __future__ import annotations

import sys
import threading
import time
from typing import Any

from rivers._ids import random_uuid4
from rivers.execution.event_writer import EventWriter
from rivers.execution.log_capture import StepLogCapture, hold_streams, release_streams
from rivers.execution.outcome import FAILURE, SKIPPED, StepOutcome, describe_error
from rivers.execution.plan import ExecutionPlan, PlannedStep
from rivers.execution.result import RunResult
from rivers.execution.step_runner import RunState, run_step, skip_step
from rivers.storage.records import LaunchedBy, RunRecord

_CANCEL_CHECK_INTERVAL_S = 1.0
_NO_POOLS: dict[str, Any] = {}


class RunCoordinator:
    """Owns one run while an executor executes its plan.

    Executors call :meth:`run_here` for steps they run in this process (or
    :meth:`record` with an outcome produced elsewhere) and
    :meth:`upstream_failure` to learn whether a step must be skipped.
    """

    def __init__(
        self,
        plan: ExecutionPlan,
        storage: Any,
        *,
        run_id: str | None = None,
        job_name: str | None = None,
        tags: list[tuple[str, str]] | None = None,
        config: dict[str, Any] | None = None,
        retry_default: Any = None,
        partition: Any = None,
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
        self.state.retry_wait = self.retry_wait
        self.failed_nodes: dict[str, BaseException] = {}
        self.failures: list[tuple[str, BaseException]] = []
        self.failed_partitions: list[tuple[str, Any, str]] = []
        self._first_error: BaseException | None = None
        self.completed: set[str] = storage._completed_steps(self.run_id) if resume else set()
        if resume:
            self.state._event_seq = _last_event_number(storage, self.run_id)
        self._last_cancel_check = time.monotonic()
        self._cancelled = False
        #: why the run was asked to stop (see :meth:`request_stop`), None while it may go on
        self.stop_reason: str | None = None
        #: the step executing in the main thread right now (a signal handler may interrupt it), else None
        self.inline_step: str | None = None
        self._main_ident = threading.main_thread().ident
        self._ended: set[str] = set()  # steps with an outcome in this attempt
        self._resume = resume
        self._started = 0.0
        self._writer = EventWriter(storage)
        #: pools of the plan's pool-using steps ({} for most plans: executors then skip pool handling);
        #: only a repository declaring pools imports rivers.execution.pools (at resolve)
        pools_module = sys.modules.get("rivers.execution.pools")
        self.step_pools = pools_module.plan_pools(plan) if pools_module is not None else _NO_POOLS
        self._claims: Any = None
        self._holds_streams = False
        from rivers.plugins import get_observers

        self.observers = get_observers()

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
        start_time = time.time_ns()
        if self._resume:
            previous = self.storage.get_run(self.run_id)
            if previous is not None:
                start_time = previous.start_time  # a resumed run keeps its original start
            if self.step_pools:
                self.storage._free_concurrency_slots_for_run(self.run_id)  # claims of the crashed attempt
        self.storage._start_run(RunRecord(
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
        if self.observers.active:
            from rivers.plugins.events import RunStarted

            self.observers.run_started(RunStarted(self.run_id, self.job_name, list(self.plan.node_names), self.tags))

    def finish(self) -> RunResult:
        """Close the run record, tell observers, and build the result."""
        if self._holds_streams:
            self._holds_streams = False
            release_streams()
        if self._claims is not None:
            self._claims.close()
        self.state.close()
        not_run = self._not_run_events() if self._cancelled else []
        # a stop that came once every step had succeeded stopped nothing: the run succeeded
        stopped = bool(not_run) or (self._cancelled and bool(self.failures))
        status = "Canceled" if stopped else ("Failure" if self.failures else "Success")
        if not_run:
            self._writer.add(not_run, [])
        if not stopped:
            self._cancelled = False
            self.stop_reason = None
        with self.storage._batch():  # the last events and the final status: one commit
            self._writer.close()
            self.storage._update_run(self.run_id, status=status, end_time=time.time_ns())
        failed = [(name, describe_error(error)) for name, error in self.failures]
        if self.observers.active:
            from rivers.plugins.events import RunFinished

            self.observers.run_finished(RunFinished(self.run_id, status.lower(), time.perf_counter() - self._started,
                                                    [name for name, _ in failed]))
        return RunResult(not self.failures and not self._cancelled, self.run_id, list(self.plan.node_names), failed,
                         self.failed_partitions)

    def _not_run_events(self) -> list[Any]:
        """One ``StepNotRun`` event per planned step that neither succeeded nor failed in this run."""
        reason = [("rivers/reason", self.stop_reason or "canceled")]
        return [self.state.event("StepNotRun", planned.key, metadata=list(reason)) for planned in self.plan.steps
                if planned.key not in self._ended and planned.key not in self.completed]

    def request_stop(self, reason: str) -> None:
        """Ask the run to stop: no step starts any more; ``reason`` is "canceled", "interrupted" or "terminated".

        Safe to call from any thread and from a signal handler (it only sets
        attributes). The executor sees it through :meth:`cancel_requested`;
        :meth:`finish` then records the steps that did not end as not run and
        the run as canceled.
        """
        if self.stop_reason is None:
            self.stop_reason = reason
        self._cancelled = True

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

    def run_here(self, planned: PlannedStep) -> StepOutcome | None:
        """Run (or skip) a step in this process and record its outcome."""
        runtime = planned.runtime
        if runtime.key in self.completed:
            return None
        cause = self.upstream_failure(planned)
        if cause is not None:
            outcome = skip_step(runtime, self.state, cause)
        else:
            if self.observers.active:
                from rivers.plugins.events import StepStarted

                self.observers.step_started(StepStarted(self.run_id, runtime.key))
            if threading.get_ident() == self._main_ident:
                self.inline_step = runtime.key
                try:
                    outcome = run_step(runtime, self.state, planned.selected)
                finally:
                    self.inline_step = None
            else:
                outcome = run_step(runtime, self.state, planned.selected)
        self.record(outcome)
        return outcome

    def record(self, outcome: StepOutcome) -> None:
        """Hand a step's events and logs to the writer and remember its failures.

        Events are committed in batches on a background thread: a crash loses
        at most the last fraction of a second of events, whose steps a resumed
        run simply executes again.
        """
        self._writer.add(outcome.events, outcome.logs)
        self._ended.add(outcome.key)
        if self.state.partition is not None:
            for event in outcome.events:
                if event.event_type == "PartitionFailure":
                    self.failed_partitions.append((event.asset_key, event.partition_key, dict(event.metadata)["error"]))
        if outcome.status == FAILURE and self._first_error is None:
            self._first_error = outcome.error
        if outcome.failed_nodes:
            for name, error in outcome.failed_nodes.items():
                self.failed_nodes[name] = error
                self.failures.append((name, error))
        if self.observers.active:
            from rivers.plugins.events import StepFinished

            error = describe_error(outcome.error) if outcome.error is not None else None
            self.observers.step_finished(StepFinished(self.run_id, outcome.key, outcome.status, outcome.duration_s,
                                                      error))

    def flush(self) -> None:
        """Block until every event recorded so far is in storage."""
        self._writer.flush()

    def retry_wait(self, runtime: Any, delay: float) -> bool:
        """Between two attempts of a step: wait ``delay`` seconds unless the run is cancelled meanwhile.

        Returns False (no further attempt) when cancellation was requested.
        May be called from several threads at once.
        """
        claims = self._claims
        pools = claims.holds(runtime.key) and self.step_pools.get(runtime.key) if claims is not None else None
        if pools:
            claims.release(runtime.key)  # nobody waits on our slots while we back off
        deadline = time.monotonic() + delay
        while True:
            if self.cancel_requested():
                return False
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            time.sleep(min(remaining, _CANCEL_CHECK_INTERVAL_S))
        if pools:
            return claims.claim_blocking(runtime.key, pools) is None
        return True

    def pool_claims(self) -> Any:
        """The run's :class:`~rivers.execution.pools.RunPoolClaims` (created on first use)."""
        if self._claims is None:
            from rivers.execution.pools import RunPoolClaims

            self._claims = RunPoolClaims(self)
        return self._claims

    def cancel_requested(self) -> bool:
        """Whether cancellation was requested (checked against storage about once a second)."""
        if self._cancelled:
            return True
        now = time.monotonic()
        if now - self._last_cancel_check >= _CANCEL_CHECK_INTERVAL_S:
            self._last_cancel_check = now
            if self.storage.is_cancelled(self.run_id):
                self.request_stop("canceled")
        return self._cancelled


def _last_event_number(storage: Any, run_id: str) -> int:
    """The highest ``<run_id>:<n>`` event number already stored for a resumed run (so new ids never collide)."""
    prefix = f"{run_id}:"
    highest = 0
    for event in storage.get_events_for_run(run_id):
        tail = event.id[len(prefix):] if event.id.startswith(prefix) else ""
        if tail.isdigit():
            highest = max(highest, int(tail))
    return highest


__all__ = ["RunCoordinator", "FAILURE", "SKIPPED"]
