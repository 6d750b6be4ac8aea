"""Executing a planned backfill: its runs, up to ``max_concurrency`` at a time, with progress kept in storage."""

from __future__ import annotations

import bisect
import threading
import time
from collections.abc import Iterator
from concurrent.futures import Future
from typing import TYPE_CHECKING, Any, Callable, Final, cast

from rivers.backfills.dispatch import completions
from rivers.backfills.planning import BackfillPlan, PlannedRun
from rivers.backfills.state import BackfillRecord, cancel_requested, load_backfill, request_cancel, save_backfill
from rivers.exceptions import ExecutionError

if TYPE_CHECKING:
    from typing import TypeAlias

    from rivers.execution.executors import Executor
    from rivers.execution.plan import ExecutionPlan
    from rivers.execution.result import RunResult
    from rivers.partitions.keys import PartitionKey
    from rivers.repository_state import ResolvedRepository
    from rivers.runs.handle import RunHandle
    from rivers.runs.launcher import RunLauncher, RunRequest
    from rivers.storage import Storage

    #: what a backfill keeps of one run: ``(run id or None, succeeded, stored text of the failed keys, first error)``
    RunOutcome: TypeAlias = "tuple[str | None, bool, set[str], str | None]"
    #: one run to launch: ``(its index in the plan, the planned run, its run id)``
    Launch: TypeAlias = "tuple[int, PlannedRun, str]"

__all__ = ["FAILURE_POLICIES", "run_backfill", "signal_cancel", "cancel_backfill", "check_failure_policy"]

#: Accepted ``failure_policy`` values (upstream silently treats anything else as "continue").
FAILURE_POLICIES: Final = ("continue", "stop_on_failure")

#: How often progress is written to storage while runs complete.
_SAVE_INTERVAL_S: Final = 0.5

class _Live:
    """A backfill running in this process: its cancel flag and the runs it submitted that have not finished."""

    def __init__(self) -> None:
        self.flag = threading.Event()
        self.handles: dict[str, RunHandle] = {}  # run id -> RunHandle

    def cancel(self) -> None:
        """Launch no more runs; the submitted runs still waiting in the run queue never start."""
        self.flag.set()
        for handle in list(self.handles.values()):
            if handle.status == "Queued":
                handle.cancel()


#: Backfills running in this process.
_LIVE: dict[str, _Live] = {}


def check_failure_policy(policy: str) -> str:
    """``policy`` when valid, else an :class:`ExecutionError` listing the valid ones."""
    if policy not in FAILURE_POLICIES:
        raise ExecutionError(
            f"Unknown failure_policy {policy!r}; valid values: {', '.join(repr(p) for p in FAILURE_POLICIES)}"
        )
    return policy


def signal_cancel(backfill_id: str) -> bool:
    """Cancel a backfill running in this process; ``False`` when it does not run here."""
    live = _LIVE.get(backfill_id)
    if live is None:
        return False
    live.cancel()
    return True


def cancel_backfill(storage: Storage, backfill_id: str) -> bool:
    """Signal a backfill running here (``True``), else store a cancel request for its process (``False``)."""
    record = load_backfill(storage, backfill_id)
    if record is None:
        raise ExecutionError(f"Failed to cancel backfill: backfill not found ('{backfill_id}')")
    if signal_cancel(backfill_id):
        return True
    request_cancel(storage, backfill_id)
    _cancel_unfinished_runs(storage, backfill_id)
    if record.status == "Requested":  # nobody runs it: cancel its partitions now
        record.status = "Canceled"
        record.statuses = ["canceled" if s == "pending" else s for s in record.statuses]
        save_backfill(storage, record)
    return False


def _cancel_unfinished_runs(storage: Storage, backfill_id: str) -> None:
    """Cascade a storage-level cancel to the backfill's runs that have not finished yet."""
    for status in ("Queued", "NotStarted", "Started"):
        for run in storage.get_runs(limit=1000, status=status):
            if run.launched_by.backfill_id == backfill_id:
                storage.request_cancellation(run.run_id)


def run_backfill(state: ResolvedRepository, plan: BackfillPlan, record: BackfillRecord, *,
                 executor: Executor | str | None, tags: list[tuple[str, str]],
                 config: dict[str, Any] | None, progress: Callable[[BackfillRecord], None] | None = None,
                 queued: bool = False) -> BackfillRecord:
    """Run every planned run of ``record``, up to ``record.max_concurrency`` at a time; return the final record.

    The record is also stored: at the start (unless this process already
    stored it ``InProgress``, e.g. when it claimed it), at most every
    ``_SAVE_INTERVAL_S`` while runs finish, and at the end. Runs beyond the
    first go to threads (the executor of each run does the work: in this
    process, in worker processes or in pods), so concurrency pays where
    steps wait on I/O or on other processes. ``queued``: every run, also
    with ``max_concurrency`` 1, is submitted to the run launcher and so
    waits its turn under the repository's ``run_queue`` (a backfill run in
    the background); otherwise a lone run starts at once in this thread, as
    a blocking ``materialize`` does.
    """
    from rivers._ids import random_uuid4
    from rivers.storage.monitor import current_owner
    from rivers.storage.records import LaunchedBy

    storage = state.storage
    position = {key: index for index, key in enumerate(record.partition_keys)}
    execution_plan = cast("ExecutionPlan", plan.execution)  # plan_backfill always sets it
    launched_by = LaunchedBy.backfill(record.backfill_id)
    stop_on_failure = record.failure_policy == "stop_on_failure"
    live = _LIVE[record.backfill_id] = _Live()
    cancel = live.flag
    owner = list(current_owner())  # a reader finds the backfill canceled once this process is gone
    if record.status != "InProgress" or record.owner != owner:
        record.status = "InProgress"
        record.owner = owner
        save_backfill(storage, record)
    last_save = time.monotonic()
    failed_any = False

    def keep_launching() -> bool:
        nonlocal last_save
        # a cancel from another process is looked for before every launch (one kv read);
        # progress is written at most every _SAVE_INTERVAL_S
        if cancel_requested(storage, record.backfill_id):
            cancel.set()
        now = time.monotonic()
        if now - last_save >= _SAVE_INTERVAL_S:
            save_backfill(storage, record)
            last_save = now
        return not (cancel.is_set() or (stop_on_failure and failed_any))

    def request(run_key: PartitionKey | None, run_id: str, stage: ExecutionPlan | None = None) -> RunRequest:
        return state.run_request(stage or execution_plan, executor=executor, partition_key=run_key, tags=tags,
                                 config=config, run_id=run_id, raise_on_error=False, resume=False, retry=None,
                                 partition_checked=True, launched_by=launched_by)

    def launch(item: Launch) -> RunOutcome:
        _, planned, run_id = item
        return _run_one(state.launcher, request(planned.key, run_id))

    def submit(item: Launch) -> Future[RunOutcome]:
        _, planned, run_id = item
        handle = state.launcher.submit(request(planned.key, run_id))
        handles[run_id] = handle
        outcome: Future[RunOutcome] = Future()
        handle.future.add_done_callback(lambda done: outcome.set_result(_outcome_of(done)))
        return outcome

    def run_stage(stage: ExecutionPlan) -> bool:
        """Run a once-only stage (no key); whether it succeeded."""
        stage_request = request(None, random_uuid4(), stage)
        if queued:
            run_id, succeeded, _, error = _outcome_of(state.launcher.submit(stage_request).future)
        else:
            run_id, succeeded, _, error = _run_one(state.launcher, stage_request)
        if run_id is not None:
            record.run_ids.append(run_id)
        if error is not None and record.error is None:
            record.error = error
        if progress is not None:
            progress(record)
        return succeeded

    def abort(running: list[Launch]) -> None:
        for _, _, run_id in running:  # stop them before their next step
            handles[run_id].cancel()

    def record_run(index: int, planned: PlannedRun, outcome: RunOutcome) -> bool:
        """Record a partition run's id (in plan order) and its keys' statuses; whether a key failed."""
        run_id = outcome[0]
        if run_id is not None:
            at = bisect.bisect(run_order, index)
            run_order.insert(at, index)
            record.run_ids.insert(first_partition_run + at, run_id)
        return _record_outcome(storage, record, position, planned, outcome)

    def settle(returned: list[tuple[Launch, RunOutcome]]) -> None:
        # runs still going at an interrupt: canceled if the cancel reached them, else what they did
        for (index, planned, _), outcome in returned:
            record_run(index, planned, outcome)

    launches: Iterator[Launch] = ((index, planned, random_uuid4()) for index, planned in enumerate(plan.runs))
    run_order: list[int] = []  # plan index of each partition run in record.run_ids: they stay in plan order
    handles = live.handles  # run id -> RunHandle of the submitted runs
    signals = state.launcher.handling_signals()  # Ctrl-C / SIGTERM: the runs going stop, the backfill is canceled
    signals.__enter__()
    try:
        if plan.before is not None and keep_launching() and not run_stage(plan.before):
            # the partition runs would fail on the missing upstream values: they fail without running
            record.statuses = ["failed"] * len(record.statuses)
            failed_any = True
            launches = iter(())
        first_partition_run = len(record.run_ids)
        for (index, planned, run_id), outcome in completions(
            launches, record.max_concurrency, keep_launching, None if queued else launch, submit, abort, settle
        ):
            handles.pop(run_id, None)
            failed_any = record_run(index, planned, outcome) or failed_any
            if progress is not None:
                progress(record)
        record.statuses = ["canceled" if s == "pending" else s for s in record.statuses]
        stage_failed = False
        # the assets reading the partitions (e.g. a roll-up of every partition) run once all of them succeeded;
        # their failure fails no partition, only the backfill
        if plan.after is not None and not failed_any and record.count("canceled") == 0 and keep_launching():
            stage_failed = not run_stage(plan.after)
        if cancel.is_set():
            record.status = "Canceled"
        else:
            # a run canceled on its own (not the backfill) leaves canceled keys: not a success either
            incomplete = failed_any or stage_failed or record.count("canceled") > 0
            record.status = "CompletedFailed" if incomplete else "CompletedSuccess"
    except BaseException as error:  # e.g. a raising progress callback or Ctrl-C: never leave "InProgress" behind
        record.statuses = ["canceled" if s == "pending" else s for s in record.statuses]
        record.status = "Canceled"
        reason = f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
        record.error = record.error or f"backfill interrupted: {reason}"
        raise
    finally:
        signals.__exit__(None, None, None)
        _LIVE.pop(record.backfill_id, None)
        record.owner = None
        save_backfill(storage, record)
    return record


def _record_outcome(storage: Storage, record: BackfillRecord, position: dict[str, int], planned: PlannedRun,
                    outcome: RunOutcome) -> bool:
    """Set the statuses of ``planned``'s keys (and the first error) from its run; whether a key failed."""
    run_id, succeeded, failed_keys, error = outcome
    # a run canceled while it ran (a cancel cascaded from the backfill) cancels its keys
    canceled_run = not succeeded and run_id is not None and _was_canceled(storage, run_id)
    failed = False
    for member in planned.members:
        text = member.stored_text()
        if canceled_run:
            record.statuses[position[text]] = "canceled"
            continue
        ok = succeeded and text not in failed_keys
        record.statuses[position[text]] = "completed" if ok else "failed"
        failed = failed or not ok
    if error is not None and record.error is None and not canceled_run:
        record.error = error
    return failed


def _was_canceled(storage: Storage, run_id: str) -> bool:
    run = storage.get_run(run_id)
    return run is not None and run.status == "Canceled"


def _run_one(launcher: RunLauncher, request: RunRequest) -> RunOutcome:
    """``(run_id, success, keys marked failed, first error)`` of one run, started in this thread."""
    try:
        result = launcher.run(request)
    except Exception as error:  # noqa: BLE001 - an executor failure fails this run's keys, not the backfill
        return None, False, set(), f"{type(error).__name__}: {error}"
    return _outcome(result)


def _outcome_of(future: Future[RunResult]) -> RunOutcome:
    """The outcome of a submitted run from its handle's future."""
    error = future.exception()
    if error is not None:
        return None, False, set(), f"{type(error).__name__}: {error}"
    return _outcome(future.result())


def _outcome(result: RunResult) -> RunOutcome:
    failed_keys = {key.stored_text() for _, key, _ in result.failed_partitions}
    first_error = None
    if result.failed_assets:
        first_error = "{}: {}".format(*result.failed_assets[0])
    elif result.failed_partitions:
        node, key, message = result.failed_partitions[0]
        first_error = f"{node} [{key}]: {message}"
    return result.run_id, result.success, failed_keys, first_error
