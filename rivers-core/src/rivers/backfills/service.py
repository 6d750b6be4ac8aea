"""The backfill operations behind ``CodeRepository.backfill / get_backfill / cancel_backfill / rerun_backfill``."""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any, Callable

import attrs

from rivers._record import Record
from rivers.backfills.planning import BackfillPlan, plan_backfill, strategy_from_dict, strategy_to_dict
from rivers.backfills.results import BackfillResult
from rivers.backfills.runner import cancel_backfill, check_failure_policy, run_backfill
from rivers.backfills.state import BackfillRecord, load_backfill, save_backfill
from rivers.exceptions import ExecutionError

if TYPE_CHECKING:
    from collections.abc import Sequence

    from rivers.backfills.handle import BackfillHandle
    from rivers.execution.executors import Executor
    from rivers.partitions.keys import PartitionKey, PartitionKeyLike
    from rivers.partitions.ranges import PartitionKeyRange
    from rivers.partitions.strategy import BackfillStrategy
    from rivers.repository_state import ResolvedRepository
    from rivers.selection import SelectionLike
    from rivers.storage import Storage

__all__ = ["BackfillRequest", "start_backfill", "cancel_backfill", "rerun_backfill", "run_requested_backfill"]

_PRIORITY_TAG = "rivers/priority"
_BACKFILL_PRIORITY = "-10"


class BackfillRequest(Record):
    """The arguments of one backfill, as :func:`start_backfill` takes them (see :meth:`rivers.CodeRepository.backfill`).

    ``executor`` is the one the runs use (the repository's default already
    applied). :func:`start_backfill` validates the values, not this record.
    """

    selection: SelectionLike | None = None
    partition_keys: Sequence[PartitionKeyLike] | None = None
    partition_range: PartitionKeyRange | None = None
    strategy: BackfillStrategy | None = None
    failure_policy: str = "continue"
    max_concurrency: int = 4
    tags: Sequence[tuple[str, str]] | None = None
    config: dict[str, Any] | None = None  # user config by asset
    block: bool = True
    dry_run: bool = False
    executor: Executor | str | None = None
    progress: Callable[[BackfillRecord], None] | None = None


def start_backfill(state: ResolvedRepository, request: BackfillRequest) -> BackfillResult | BackfillHandle:
    """Plan, record and (when ``request.block``) run a backfill; else a :class:`BackfillHandle` of the request.

    A blocking backfill is stored ``InProgress``, owned by this process,
    from the start: it is never ``Requested``, so no daemon picks it up too.
    """
    check_failure_policy(request.failure_policy)
    max_concurrency = request.max_concurrency
    if not isinstance(max_concurrency, int) or isinstance(max_concurrency, bool) or max_concurrency < 1:
        raise ExecutionError(f"max_concurrency must be a positive int, got {max_concurrency!r}")
    plan = plan_backfill(state, request.selection, request.partition_keys, request.partition_range, request.strategy)
    if request.dry_run:
        return BackfillResult(backfill_id="", num_partitions=len(plan.keys), num_runs=plan.run_count,
                              status="dry_run", is_dry_run=True, partition_keys=list(plan.keys),
                              partition_statuses={key: "pending" for key in plan.keys})
    run_tags: list[tuple[str, str]] = [tuple(tag) for tag in (request.tags or [])]  # type: ignore[misc]
    if not any(key == _PRIORITY_TAG for key, _ in run_tags):
        run_tags.append((_PRIORITY_TAG, _BACKFILL_PRIORITY))
    record = _new_record(plan, request.failure_policy, max_concurrency, run_tags)
    executor, config, progress = request.executor, request.config, request.progress
    if not request.block:
        save_backfill(state.storage, record, new=True)
        return _handle(state, plan, record, executor=executor, config=config, progress=progress)
    from rivers.storage.monitor import current_owner

    record.status, record.owner = "InProgress", list(current_owner())
    save_backfill(state.storage, record, new=True)
    started = getattr(progress, "started", None)
    if started is not None:
        started(record)  # a progress object may want the backfill id before the first run ends
    record = run_backfill(state, plan, record, executor=executor, tags=run_tags, config=config, progress=progress)
    return _result(record, plan)


def _handle(state: ResolvedRepository, plan: BackfillPlan, record: BackfillRecord, *,
            executor: Executor | str | None, config: dict[str, Any] | None,
            progress: Callable[[BackfillRecord], None] | None) -> BackfillHandle:
    """The handle of the ``Requested`` backfill ``record``; its ``start()`` runs ``plan`` here, queued."""
    from rivers.backfills.handle import BackfillHandle

    def execute(claimed: BackfillRecord) -> BackfillRecord:
        started = getattr(progress, "started", None)
        if started is not None:
            try:
                started(claimed)
            except BaseException as error:
                _not_started(state.storage, claimed, "Canceled", "canceled", f"backfill interrupted: {error!r}")
                raise
        return run_backfill(state, plan, claimed, executor=executor, tags=claimed.tag_pairs(), config=config,
                            progress=progress, queued=True)

    return BackfillHandle(state.storage, _result(record, plan), execute)


def _new_record(plan: BackfillPlan, failure_policy: str, max_concurrency: int,
                tags: list[tuple[str, str]]) -> BackfillRecord:
    from rivers._ids import random_uuid4

    return BackfillRecord(
        backfill_id=random_uuid4(),
        status="Requested",
        selection=None if plan.nodes is None else list(plan.nodes),
        strategy=strategy_to_dict(plan.strategy),
        failure_policy=failure_policy,
        max_concurrency=max_concurrency,
        tags=tags,
        partition_keys=[key.stored_text() for key in plan.keys],
        statuses=["pending"] * len(plan.keys),
    )


def _result(record: BackfillRecord, plan: BackfillPlan) -> BackfillResult:
    return BackfillResult(
        backfill_id=record.backfill_id,
        num_partitions=len(plan.keys),
        num_runs=len(record.run_ids) if record.run_ids else plan.run_count,
        status=record.status,
        completed=record.count("completed"),
        failed=record.count("failed"),
        canceled=record.count("canceled"),
        run_ids=list(record.run_ids),
        partition_keys=list(plan.keys),
        partition_statuses=dict(zip(plan.keys, record.statuses)),
    )


def rerun_backfill(state: ResolvedRepository, backfill_id: str, *, block: bool, dry_run: bool,
                   executor: Executor | str | None,
                   progress: Callable[[BackfillRecord], None] | None = None) -> BackfillResult | BackfillHandle:
    """A new backfill over the failed and canceled partitions of ``backfill_id`` still valid today.

    When none failed or was canceled (the backfill completed), every
    partition runs again: re-running a finished backfill means "again". The
    new backfill keeps the selection, strategy, failure policy, concurrency
    and tags, with ``("rivers/rerun_of", <backfill_id>)`` added. Keys no
    longer valid (removed from a definition, retired dynamic keys) are
    skipped with a warning and listed in ``skipped_partitions``.
    ``dry_run=True`` returns the plan without storing or running anything;
    ``block=False`` records it as ``Requested`` and returns its
    :class:`~rivers.backfills.handle.BackfillHandle`, as ``backfill`` does.
    """
    from rivers.partitions.keys import from_stored_text

    record = load_backfill(state.storage, backfill_id)
    if record is None:
        raise ExecutionError(f"backfill '{backfill_id}' not found")
    wanted = [k for k, s in zip(record.partition_keys, record.statuses) if s in ("failed", "canceled", "pending")]
    if not wanted:
        wanted = list(record.partition_keys)  # everything completed: run it all again
    keys, skipped = _still_valid(state, record, [from_stored_text(k) for k in wanted])
    if not keys:
        raise ExecutionError(
            f"Cannot rerun backfill '{backfill_id}': none of its {len(wanted)} partitions are valid for the "
            f"current definitions (skipped: {', '.join(skipped[:10])}{' ...' if len(skipped) > 10 else ''}); "
            "nothing is left to run"
        )
    tags = [tag for tag in record.tags if tag[0] != "rivers/rerun_of"] + [("rivers/rerun_of", backfill_id)]
    result = start_backfill(state, BackfillRequest(
        selection=record.selection, partition_keys=keys, strategy=strategy_from_dict(record.strategy),
        failure_policy=record.failure_policy, max_concurrency=record.max_concurrency, tags=tags, block=block,
        dry_run=dry_run, executor=executor, progress=progress,
    ))
    if not skipped:
        return result
    if isinstance(result, BackfillResult):
        return attrs.evolve(result, skipped_partitions=skipped)
    result.requested = attrs.evolve(result.requested, skipped_partitions=skipped)
    return result


def _still_valid(state: ResolvedRepository, record: BackfillRecord,
                 keys: list[PartitionKey]) -> tuple[list[PartitionKey], list[str]]:
    """``keys`` valid for every selected partitioned asset, and the texts of the others (dropped with a warning)."""
    from rivers.execution.partition_requests import distinct_definitions, dynamic_lookup, first_rejection

    graph = state.graph
    dynamic = dynamic_lookup(state.storage)
    names = record.selection if record.selection is not None else list(graph.nodes)
    definitions = distinct_definitions(graph, [n for n in names if n in graph.nodes])
    valid: list[PartitionKey] = []
    rejected: list[PartitionKey] = []
    for key in keys:
        (rejected if first_rejection(definitions, key, dynamic) else valid).append(key)
    dropped = [str(k) for k in rejected]
    if dropped and valid:
        warnings.warn(
            f"rerun_backfill('{record.backfill_id}'): skipping {len(dropped)} partition(s) that are no longer "
            f"valid: {', '.join(dropped[:10])}{' ...' if len(dropped) > 10 else ''}",
            stacklevel=4,
        )
    return valid, dropped


def run_requested_backfill(state: ResolvedRepository, backfill_id: str, *,
                           executor: Executor | str | None) -> BackfillRecord | None:
    """Claim and run a backfill recorded with ``block=False``; ``None`` when it is not ``Requested`` (or was claimed).

    The daemon calls this for every ``Requested`` backfill it finds. The
    claim (:func:`~rivers.backfills.state.claim_backfill`) makes sure one
    contender runs it, whatever the number of daemons, processes and
    handles reaching for it. Its runs go through the run launcher's queue.
    A backfill this repository cannot plan (an asset it lacks, a key no
    longer valid) is recorded ``CompletedFailed`` with the reason instead of
    staying ``Requested`` for ever.
    """
    from rivers.backfills.state import claim_backfill
    from rivers.partitions.keys import from_stored_text

    record = claim_backfill(state.storage, backfill_id)
    if record is None:
        return None
    try:
        keys = [from_stored_text(key) for key in record.partition_keys]
        plan = plan_backfill(state, record.selection, keys, None, strategy_from_dict(record.strategy))
    except Exception as error:
        _not_started(state.storage, record, "CompletedFailed", "failed",
                     f"backfill could not start: {type(error).__name__}: {error}")
        raise
    return run_backfill(state, plan, record, executor=executor, tags=record.tag_pairs(), config=None, queued=True)


def _not_started(storage: Storage, record: BackfillRecord, status: str, partition_status: str, error: str) -> None:
    """Record a claimed backfill that never got to its runs as ``status``, its partitions as ``partition_status``."""
    record.status, record.owner, record.error = status, None, error
    record.statuses = [partition_status if current == "pending" else current for current in record.statuses]
    save_backfill(storage, record)
