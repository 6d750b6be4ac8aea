"""``rivers queue``: which runs wait in the run queue, and why one of them waits.

The queue itself belongs to the run launcher (:mod:`rivers.runs.queue`):
a submitted run that may not start yet is recorded ``Queued`` and admitted
by the process that submitted it, highest ``rivers/priority`` first, while
fewer than ``max_concurrent_runs`` runs go and every tag limit has room.
This module reads that state back from storage for the CLI.
"""

from __future__ import annotations

from typing import Any

__all__ = ["queued_runs", "why_queued"]

_GOING = ("NotStarted", "Started")


def _all(storage: Any, status: tuple[str, ...]) -> list[Any]:
    runs, cursor = [], None
    while True:
        page = storage.query_runs(status=status, cursor=cursor, limit=500)
        runs.extend(page.runs)
        cursor = page.next_cursor
        if cursor is None:
            return runs


def queued_runs(storage: Any) -> list[Any]:
    """The ``Queued`` runs in the order they would be admitted (priority, then arrival)."""
    return sorted(_all(storage, ("Queued",)), key=lambda run: (-run.priority, run.start_time))


def why_queued(storage: Any, config: Any, run_id: str) -> list[str]:
    """Lines saying why ``run_id`` waits: its place in the queue and every limit that is full."""
    record = storage.get_run(run_id)
    if record is None:
        return [f"run {run_id} not found"]
    if record.status != "Queued":
        return [f"run {run_id} is not queued (status {record.status})"]
    queue = queued_runs(storage)
    ahead = next(index for index, run in enumerate(queue) if run.run_id == run_id)
    lines = [f"run {run_id} is queued: position {ahead + 1} of {len(queue)} (priority {record.priority})"]
    if config is None:
        lines.append("the repository has no run_queue (RunQueueConfig): it starts as soon as its launcher admits it")
        return lines
    going = _all(storage, _GOING)
    blocked = False
    if len(going) >= config.max_concurrent_runs:
        blocked = True
        lines.append(f"max_concurrent_runs: {len(going)} of {config.max_concurrent_runs} runs are going")
    for limit in config.tag_concurrency_limits:
        bucket = limit.counts(record.tags)
        if bucket is None:
            continue
        using = sum(1 for run in going if limit.counts(run.tags) == bucket)
        if using >= limit.limit:
            blocked = True
            shown = f"{limit.key}={bucket}" if limit.per_unique_value else limit.key
            lines.append(f"tag limit {shown}: {using} of {limit.limit} runs carrying it are going ({limit!r})")
    if not blocked:
        lines.append("no limit is full: it starts at the launcher's next dequeue"
                     + (f" (after {ahead} run(s) ahead of it)" if ahead else ""))
    return lines
