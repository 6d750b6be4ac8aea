"""The storage read API for tools (CLI, daemon, UI), written once above every backend.

``query_runs`` (filters and cursor pagination), ``get_events_after`` (what a
UI or ``rivers runs --follow`` polls), ``get_asset_catalogue`` (record,
latest materialization, partition-status counts and staleness per asset) and
``get_topology``. Arguments are validated here; backends answer with the
primitives of :mod:`rivers.storage.contract`, each in O(result).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Final

from rivers.exceptions import StorageError
from rivers.storage.records import RUN_STATUSES, LaunchedBy

if TYPE_CHECKING:
    from rivers.storage.partition_status import PartitionStatusRanges
    from rivers.storage.queries import AssetCatalogueEntry, EventPage, RunPage

__all__ = ["ReadApi"]

_LAUNCH_KINDS: Final = ("manual", "schedule", "sensor", "backfill", "condition")
#: Largest page the read API returns at once.
MAX_PAGE: Final = 10_000


class ReadApi:
    """Mixin of :class:`rivers.Storage`: the validated read API for tools."""

    def query_runs(
        self,
        *,
        status: str | Iterable[str] | None = None,
        job_name: str | None = None,
        tags: Mapping[str, str] | Iterable[tuple[str, str]] | None = None,
        launched_by: str | LaunchedBy | None = None,
        started_after: int | None = None,
        started_before: int | None = None,
        cursor: str | None = None,
        limit: int = 50,
    ) -> RunPage:
        """One page of runs, newest first, matching every given filter.

        ``status`` is a run status or several; ``tags`` pairs must all be on
        the run; ``launched_by`` is a launcher kind (``"schedule"``) or a
        :class:`~rivers.LaunchedBy` (kind and name / backfill id);
        ``started_after`` (inclusive) and ``started_before`` (exclusive) bound
        the start time in ns. Pass the page's ``next_cursor`` as ``cursor`` to
        get the next page (``None`` on the last one). Listing a page costs
        time proportional to the page, not to the number of stored runs.
        """
        from rivers.storage.queries import RunPage, RunQuery

        statuses = _check_statuses(status)
        limit = _check_page(limit, "query_runs")
        if job_name is not None and not isinstance(job_name, str):
            raise StorageError(f"query_runs() job_name must be a str, got {type(job_name).__name__}")
        kind, reference = _check_launcher(launched_by)
        for label, bound in (("started_after", started_after), ("started_before", started_before)):
            if bound is not None and (isinstance(bound, bool) or not isinstance(bound, int)):
                raise StorageError(f"query_runs() {label} must be an int of nanoseconds since the epoch, got {bound!r}")
        if cursor is not None and not isinstance(cursor, str):
            raise StorageError(f"query_runs() cursor must be the str next_cursor of a previous page, got {cursor!r}")
        if limit == 0:
            return RunPage([], None)
        query = RunQuery(
            statuses=statuses,
            job_name=job_name,
            tags=_check_tags(tags),
            launched_by=kind,
            launched_by_ref=reference,
            started_after=started_after,
            started_before=started_before,
            cursor=cursor,
            limit=limit,
        )
        page: RunPage = self._query_runs(query)  # type: ignore[attr-defined]
        reconciled = self._reconciled(page.runs)  # type: ignore[attr-defined]  # a dead owner's run reads as failed
        if reconciled is not page.runs:
            if statuses is not None:
                reconciled = [record for record in reconciled if record.status in statuses]
            page = page.evolve(runs=reconciled)
        return page

    def get_events_after(
        self,
        cursor: int = 0,
        *,
        limit: int = 1000,
        run_id: str | None = None,
        event_types: Iterable[str] | None = None,
    ) -> EventPage:
        """Events stored after ``cursor``, oldest first, and the cursor to continue from.

        Start with ``cursor=0`` (the beginning) and pass each page's
        ``cursor`` to the next call to receive only newer events; ``run_id``
        and ``event_types`` narrow the result. Costs time proportional to the
        page, whatever the size of the log.
        """
        from rivers.storage.queries import EventPage

        if isinstance(cursor, bool) or not isinstance(cursor, int) or cursor < 0:
            raise StorageError(
                f"get_events_after() cursor must be a non-negative int (0, or the cursor of an EventPage), "
                f"got {cursor!r}"
            )
        limit = _check_page(limit, "get_events_after")
        if run_id is not None and not isinstance(run_id, str):
            raise StorageError(f"get_events_after() run_id must be a str, got {type(run_id).__name__}")
        types: tuple[str, ...] | None = None
        if event_types is not None:
            if isinstance(event_types, str):
                raise StorageError(
                    f"get_events_after() event_types must be a list of event types, not a str; use [{event_types!r}]"
                )
            types = tuple(event_types)
            if not all(isinstance(item, str) for item in types):
                raise StorageError(f"get_events_after() event_types must be strings, got {types!r}")
        if limit == 0:
            return EventPage([], cursor)
        rows = self._events_after(cursor, limit, run_id, types)  # type: ignore[attr-defined]
        return EventPage([event for _, event in rows], rows[-1][0] if rows else cursor)

    def wait_for_events(self, cursor: int, timeout: float = 10.0) -> bool:
        """Block until an event is stored after ``cursor`` or ``timeout`` seconds pass; whether one was.

        Then read them with :meth:`get_events_after`. This default polls
        (every 20 ms, then less often, at most every 0.25 s); a backend with
        notifications may answer at once.
        """
        if isinstance(cursor, bool) or not isinstance(cursor, int) or cursor < 0:
            raise StorageError(f"wait_for_events() cursor must be a non-negative int, got {cursor!r}")
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout < 0:
            raise StorageError(f"wait_for_events() timeout must be a number of seconds >= 0, got {timeout!r}")
        deadline = time.monotonic() + timeout
        pause = 0.02
        while True:
            if self._events_after(cursor, 1, None, None):  # type: ignore[attr-defined]
                return True
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            time.sleep(min(pause, remaining))
            pause = min(pause * 1.5, 0.25)

    def get_topology(self) -> dict[str, list[str]]:
        """The registered graph: ``{node: [its upstream nodes]}`` of every resolved repository."""
        topology: dict[str, list[str]] = self._topology()  # type: ignore[attr-defined]
        return topology

    def get_asset_catalogue(self, asset_keys: Sequence[str] | None = None) -> list[AssetCatalogueEntry]:
        """Per asset (all, or ``asset_keys``): record, latest materialization, partition counts and staleness.

        ``partition_counts`` has the number of materialized partitions from
        the materialization index, and — when the backend has the
        ``partition_status`` capability — the failed and in-progress ones
        recorded with :meth:`set_partition_status`. Staleness is
        :meth:`compute_staleness`'s.
        """
        from rivers.storage.contract import Capability
        from rivers.storage.queries import AssetCatalogueEntry

        keys: list[str] | None = None
        if asset_keys is not None:
            if isinstance(asset_keys, str):
                raise StorageError(f"get_asset_catalogue() asset_keys must be a list, not a str; use [{asset_keys!r}]")
            keys = list(asset_keys)
            if not all(isinstance(key, str) for key in keys):
                raise StorageError(f"get_asset_catalogue() asset_keys must be strings, got {keys!r}")
        rows = self._catalogue_rows(keys)  # type: ignore[attr-defined]
        statuses: dict[str, PartitionStatusRanges] = {}
        if Capability.PARTITION_STATUS in type(self).capabilities:  # type: ignore[attr-defined]
            statuses = self._partition_status([row.record.asset_key for row in rows])  # type: ignore[attr-defined]
        if keys is None:
            records = {row.record.asset_key: row.record for row in rows}
        else:  # upstreams of the chosen assets count too
            records = {record.asset_key: record for record in self.get_asset_records()}  # type: ignore[attr-defined]
        latest = {row.record.asset_key for row in rows if row.last_materialization is not None}
        if keys is None:  # every asset's latest materialization is in the rows
            staleness = self._staleness_over(records, latest.__contains__)  # type: ignore[attr-defined]
        else:
            staleness = self._staleness_over(records)  # type: ignore[attr-defined]
        entries = []
        for row in rows:
            asset_key = row.record.asset_key
            counts = {"materialized": row.materialized_partitions, "failed": 0, "in_progress": 0}
            ranges = statuses.get(asset_key)
            if ranges is not None:
                recorded = ranges.counts()
                counts["failed"] = recorded["failed"]
                counts["in_progress"] = recorded["in_progress"]
            status, causes = staleness.get(asset_key, ("Missing", []))
            entries.append(AssetCatalogueEntry(asset_key, row.record, row.last_materialization, counts, status, causes))
        return entries


def _check_page(limit: int, method: str) -> int:
    if isinstance(limit, bool) or not isinstance(limit, int) or not 0 <= limit <= MAX_PAGE:
        raise StorageError(f"{method}() limit must be an int from 0 to {MAX_PAGE}, got {limit!r}")
    return limit


def _check_statuses(status: str | Iterable[str] | None) -> tuple[str, ...] | None:
    if status is None:
        return None
    statuses = (status,) if isinstance(status, str) else tuple(status)
    for item in statuses:
        if item not in RUN_STATUSES:
            raise StorageError(f"Unknown run status: {item}; expected one of {', '.join(RUN_STATUSES)}")
    return statuses


def _check_tags(tags: Mapping[str, str] | Iterable[tuple[str, str]] | None) -> tuple[tuple[str, str], ...]:
    if tags is None:
        return ()
    pairs = tuple(tags.items()) if isinstance(tags, Mapping) else tuple(tuple(pair) for pair in tags)  # type: ignore[misc]
    for pair in pairs:
        if len(pair) != 2 or not all(isinstance(item, str) for item in pair):
            raise StorageError(f"query_runs() tags must be (key, value) string pairs, got {pair!r}")
    return pairs  # type: ignore[return-value]


def _check_launcher(launched_by: str | LaunchedBy | None) -> tuple[str | None, str | None]:
    if launched_by is None:
        return None, None
    if isinstance(launched_by, LaunchedBy):
        return launched_by.to_stored()
    if launched_by not in _LAUNCH_KINDS:
        raise StorageError(
            f"query_runs() launched_by must be a LaunchedBy or one of {', '.join(_LAUNCH_KINDS)}, got {launched_by!r}"
        )
    return launched_by, None
