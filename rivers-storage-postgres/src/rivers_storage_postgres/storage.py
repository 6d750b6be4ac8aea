"""``PostgresStorage``: the rivers storage on a PostgreSQL server.

* Every write is one transaction (:mod:`rivers_storage_postgres.connections`
  retries it on connection loss). Events are inserted as one multi-row
  ``INSERT ... SELECT FROM unnest(arrays)`` per batch, and the derived
  tables (asset records' ``last_*`` fields, the latest materialisation per
  asset and partition) are updated in the same transaction, so reads never
  scan the event log.
* Inside ``_batch()`` events and logs are queued in this object and written
  together: when the outermost batch exits, before any other write (in the
  same transaction: a run's final status commits with its last events), and
  before a read of events or asset records through this object. A failed
  write of the queue raises, saying how many records were lost.
* Threads share the storage object and its connection pool.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, ClassVar, TypeVar

import psycopg

from rivers.exceptions import StorageError
from rivers.storage import Storage, StorageType
from rivers.storage.contract import CONTRACT_VERSION, Capability
from rivers.storage.control_records import Lease, StoredBackfill, StoredTick
from rivers.storage.partition_status import PartitionStatusRanges
from rivers.storage.pools import ConcurrencyClaimStatus, PoolInfo, PoolLimit, SlotHolder
from rivers.storage.queries import CatalogueRow, RunPage, RunQuery, decode_run_cursor
from rivers.storage.records import RUN_STATUSES, AssetRecord, RunRecord, StoredEvent, StoredLog
from rivers_storage_postgres import control
from rivers_storage_postgres import pools as pool_sql
from rivers_storage_postgres.connections import Connector
from rivers_storage_postgres.leadership import AdvisoryLeadership
from rivers_storage_postgres.rows import (
    ASSET_COLUMNS,
    EVENT_COLUMNS,
    LOG_COLUMNS,
    RUN_COLUMNS,
    asset_from_row,
    asset_to_row,
    encode_json,
    event_from_row,
    event_to_row,
    log_from_row,
    run_from_row,
    run_to_row,
    stored_partition,
)
from rivers_storage_postgres.schema import LOCK_CLASS, ensure_schema
from rivers_storage_postgres.settings import PostgresSettings

__all__ = ["PostgresStorage"]

_T = TypeVar("_T")
_Conn = psycopg.Connection

_MATERIALIZATION = "Materialization"
_OBSERVATION = "Observation"
_STEP_SUCCESS = "StepSuccess"
#: Advisory lock (with LOCK_CLASS) held from an event insert to its commit: event cursors grow in commit order.
_LOCK_EVENTS = 2
#: How often ``wait_for_events`` polls without a pool (no LISTEN through pgBouncer's transaction mode).
_POLL_INTERVAL = 0.2


def _check_status(status: str) -> None:
    if status not in RUN_STATUSES:
        raise StorageError(f"Unknown run status: {status}")


class PostgresStorage(Storage):
    """Runs, events, asset records, pools and the kv area in a PostgreSQL database.

    ``Storage.connect("postgresql://user@host/db", pool_size=4)``; settings
    and credentials are described in :mod:`rivers_storage_postgres.settings`.
    """

    _storage_type = StorageType.Remote
    contract_version = CONTRACT_VERSION
    capabilities = frozenset(Capability)

    #: Inside ``_batch()``: write the queue once this many events and logs are queued.
    batch_max_events: ClassVar[int] = 5000

    def __init__(self, url: str, **config: Any) -> None:
        self.settings = PostgresSettings(url, config)
        self._connector = Connector(self.settings)
        self._s = self.settings.schema
        self._lock = threading.Lock()
        self._batch_depth = 0
        self._queued_events: list[StoredEvent] = []
        self._queued_logs: list[StoredLog] = []
        self._listen_lock = threading.Lock()
        conn = self._connector.first_connection()  # wrong credentials fail here, before any pool exists
        try:
            ensure_schema(conn, self._s, self.settings.where())
        except psycopg.Error as error:
            raise self._connector.translate(error) from None
        finally:
            conn.close()

    def __repr__(self) -> str:
        return f"PostgresStorage({self.settings.display()!r})"

    @property
    def url(self) -> str:
        """The storage URL without its password."""
        return self.settings.display()

    @property
    def connector(self) -> Connector:
        """The connections of this storage (pool size, connections in use)."""
        return self._connector

    # -- transactions and the write-behind queue ---------------------------------------

    def _take_queue(self) -> tuple[list[StoredEvent], list[StoredLog]]:
        with self._lock:
            events, logs = self._queued_events, self._queued_logs
            self._queued_events, self._queued_logs = [], []
        return events, logs

    def _write(self, operation: Callable[[_Conn], _T] | None = None) -> _T | None:
        """Write the queued records and run ``operation`` in one transaction."""
        events, logs = self._take_queue()

        def transaction(conn: _Conn) -> _T | None:
            if events:
                self._insert_events(conn, events)
            if logs:
                self._insert_logs(conn, logs)
            return operation(conn) if operation is not None else None

        if operation is None and not events and not logs:
            return None
        try:
            return self._connector.run(transaction)
        except StorageError as error:
            if events or logs:
                raise StorageError(f"{error} ({len(events)} queued events and {len(logs)} logs were discarded)") from None
            raise

    def _read(self, sql: str, parameters: Sequence[Any] = (), *, flush: bool = True) -> list[Any]:
        """Rows of one query; ``flush`` first writes the queued events and logs (they may be read)."""
        if flush and (self._queued_events or self._queued_logs):
            self._write()
        query = sql.format(s=self._s)
        return self._connector.run(lambda conn: conn.execute(query, parameters).fetchall(), write=False)

    @contextlib.contextmanager
    def _batch(self) -> Iterator[None]:
        with self._lock:
            self._batch_depth += 1
        try:
            yield
        finally:
            with self._lock:
                self._batch_depth -= 1
                commit = self._batch_depth == 0
            if commit:
                self._write()

    def _enqueue(self, events: Sequence[StoredEvent], logs: Sequence[StoredLog]) -> bool:
        with self._lock:
            if not self._batch_depth:
                return False
            self._queued_events.extend(events)
            self._queued_logs.extend(logs)
            full = len(self._queued_events) + len(self._queued_logs) >= self.batch_max_events
        if full:
            self._write()
        return True

    def close(self) -> None:
        """Write queued records and close the connections; later calls raise :class:`StorageError`."""
        if self._connector.closed:
            return
        try:
            self._write()
        finally:
            self._connector.close()

    # -- events -------------------------------------------------------------------------

    def _insert_events(self, conn: _Conn, events: Sequence[StoredEvent]) -> None:
        """Insert ``events`` with one statement and update the derived tables (same transaction)."""
        s = self._s
        rows = [event_to_row(event) for event in events]
        # held until commit: sequence numbers are taken, and become visible, in commit order
        conn.execute("SELECT pg_advisory_xact_lock(%s, hashtext(%s))", (LOCK_CLASS + _LOCK_EVENTS, s))
        last = conn.execute(
            f"WITH inserted AS (INSERT INTO {s}.events ({EVENT_COLUMNS}) SELECT * FROM unnest("
            "%s::text[], %s::text[], %s::text[], %s::text[], %s::int8[], %s::text[]) RETURNING seq) "
            "SELECT max(seq) FROM inserted",
            [list(column) for column in zip(*rows)],
        ).fetchone()
        conn.execute("SELECT pg_notify(%s, %s)", (self.events_channel, str(last[0] if last else 0)))
        latest: dict[tuple[str, str], int] = {}  # (asset, partition) -> index of its last materialization
        last_event: dict[str, int] = {}  # asset -> index of its last materialization or observation
        last_materialization: dict[str, int] = {}
        for index, event in enumerate(events):
            if event.asset_key is None:
                continue
            if event.event_type == _MATERIALIZATION:
                key = (event.asset_key, stored_partition(event.partition_key) or "")
                latest[key] = index  # keeps the first occurrence's place: first-materialised order
                last_materialization[event.asset_key] = index
                last_event[event.asset_key] = index
            elif event.event_type == _OBSERVATION:
                last_event[event.asset_key] = index
        new_partitions: dict[str, int] = {}
        if latest:
            # under the events lock nobody else draws from the sequence: the batch got consecutive numbers
            first_seq = int(last[0]) - len(rows) + 1 if last and last[0] is not None else 0
            new_partitions = self._upsert_latest(
                conn, [(key, rows[index], first_seq + index) for key, index in latest.items()]
            )
        if last_event:
            self._upsert_asset_last_fields(conn, events, last_event, last_materialization, new_partitions)

    def _upsert_latest(
        self, conn: _Conn, entries: list[tuple[tuple[str, str], tuple[Any, ...], int]]
    ) -> dict[str, int]:
        """Upsert ``(key, event row, event seq)`` as latest materialisations, first-materialised first.

        ``updated_seq`` is the event's own sequence number, so the latest
        materialisation of any partition is the row with the highest one.
        Returns per asset how many partitions were materialised for the first time.
        """
        s = self._s
        inserted = conn.execute(
            f"INSERT INTO {s}.latest_materializations (asset_key, partition, updated_seq, id, run_id, timestamp, body) "
            "SELECT a, p, q, i, r, t, b FROM unnest("
            "%s::text[], %s::text[], %s::int8[], %s::text[], %s::text[], %s::int8[], %s::text[]) WITH ORDINALITY "
            "AS u(a, p, q, i, r, t, b, n) ORDER BY n "
            "ON CONFLICT (asset_key, partition) DO UPDATE SET updated_seq = excluded.updated_seq, id = excluded.id, "
            "run_id = excluded.run_id, timestamp = excluded.timestamp, body = excluded.body "
            "RETURNING asset_key, partition, xmax = 0",  # xmax = 0: a new row, not an update
            (
                [key[0] for key, _, _ in entries], [key[1] for key, _, _ in entries], [seq for _, _, seq in entries],
                [row[0] for _, row, _ in entries], [row[3] for _, row, _ in entries],
                [row[4] for _, row, _ in entries], [row[5] for _, row, _ in entries],
            ),
        ).fetchall()
        counts: dict[str, int] = {}
        for asset_key, partition, new in inserted:
            if new and partition:
                counts[asset_key] = counts.get(asset_key, 0) + 1
        return counts

    def _upsert_asset_last_fields(
        self, conn: _Conn, events: Sequence[StoredEvent], last_event: dict[str, int],
        last_materialization: dict[str, int], new_partitions: dict[str, int],
    ) -> None:
        """Set the ``last_*`` fields: from the last event of each asset, materialisation fields from its last one."""
        s = self._s
        full: list[tuple[Any, ...]] = []
        observed: list[tuple[Any, ...]] = []
        for asset_key, index in last_event.items():
            event = events[index]
            common = (asset_key, event.id, event.run_id, event.timestamp, event.data_version)
            if asset_key in last_materialization:
                materialization = events[last_materialization[asset_key]]
                full.append((*common, materialization.code_version, encode_json(materialization.input_data_versions),
                             new_partitions.get(asset_key, 0)))
            else:
                observed.append(common)
        if full:
            conn.execute(
                f"INSERT INTO {s}.asset_records AS ar (asset_key, last_event_id, last_run_id, last_timestamp, "
                "last_data_version, last_materialization_code_version, last_input_data_versions, "
                "materialized_partitions) "
                "SELECT a, i, r, t, d, c, v::jsonb, m FROM unnest(%s::text[], %s::text[], %s::text[], %s::int8[], "
                "%s::text[], %s::text[], %s::text[], %s::int4[]) WITH ORDINALITY AS u(a, i, r, t, d, c, v, m, n) "
                "ORDER BY n ON CONFLICT (asset_key) DO UPDATE SET last_event_id = excluded.last_event_id, "
                "materialized_partitions = ar.materialized_partitions + excluded.materialized_partitions, "
                "last_run_id = excluded.last_run_id, last_timestamp = excluded.last_timestamp, "
                "last_data_version = excluded.last_data_version, "
                "last_materialization_code_version = excluded.last_materialization_code_version, "
                "last_input_data_versions = excluded.last_input_data_versions",
                [list(column) for column in zip(*full)],
            )
        if observed:
            conn.execute(
                f"INSERT INTO {s}.asset_records (asset_key, last_event_id, last_run_id, last_timestamp, "
                "last_data_version) SELECT a, i, r, t, d FROM unnest(%s::text[], %s::text[], %s::text[], "
                "%s::int8[], %s::text[]) WITH ORDINALITY AS u(a, i, r, t, d, n) ORDER BY n "
                "ON CONFLICT (asset_key) DO UPDATE SET last_event_id = excluded.last_event_id, "
                "last_run_id = excluded.last_run_id, last_timestamp = excluded.last_timestamp, "
                "last_data_version = excluded.last_data_version",
                [list(column) for column in zip(*observed)],
            )

    def _insert_logs(self, conn: _Conn, logs: Sequence[StoredLog]) -> None:
        conn.execute(
            f"INSERT INTO {self._s}.logs ({LOG_COLUMNS}) SELECT * FROM unnest("
            "%s::text[], %s::text[], %s::text[], %s::int8[], %s::text[], %s::text[], %s::text[])",
            [list(column) for column in zip(*logs)],
        )

    def _append_events(self, events: Sequence[StoredEvent]) -> None:
        if not events or (self._batch_depth and self._enqueue(events, ())):
            return
        batch = list(events)
        self._write(lambda conn: self._insert_events(conn, batch))

    def _append_logs(self, logs: Sequence[StoredLog]) -> None:
        if not logs or (self._batch_depth and self._enqueue((), logs)):
            return
        batch = list(logs)
        self._write(lambda conn: self._insert_logs(conn, batch))

    def _completed_steps(self, run_id: str) -> set[str]:
        rows = self._read(
            "SELECT DISTINCT asset_key FROM {s}.events WHERE run_id = %s AND event_type = %s AND asset_key IS NOT NULL",
            (run_id, _STEP_SUCCESS),
        )
        return {row[0] for row in rows}

    # -- registration and runs -------------------------------------------------------------

    def _register_assets(self, records: Sequence[AssetRecord]) -> None:
        if not records:
            return
        rows = [asset_to_row(record) for record in records]
        columns = [list(column) for column in zip(*rows)]

        def operation(conn: _Conn) -> None:
            conn.execute(
                f"INSERT INTO {self._s}.asset_records ({ASSET_COLUMNS}) SELECT a, tg::jsonb, k::jsonb, g, c, le, lr, "
                "lt, ld, lm, li::jsonb, p::jsonb FROM unnest(%s::text[], %s::text[], %s::text[], %s::text[], "
                "%s::text[], %s::text[], %s::text[], %s::int8[], %s::text[], %s::text[], %s::text[], %s::text[]) "
                "WITH ORDINALITY AS u(a, tg, k, g, c, le, lr, lt, ld, lm, li, p, n) ORDER BY n "
                "ON CONFLICT (asset_key) DO UPDATE SET tags = excluded.tags, kinds = excluded.kinds, "
                "asset_group = excluded.asset_group, code_version = excluded.code_version, pool = excluded.pool",
                columns,
            )

        self._write(operation)

    def _register_topology(self, upstream: Mapping[str, Sequence[str]]) -> None:
        if not upstream:
            return
        nodes = list(upstream)
        parents = [encode_json(list(upstream[node])) for node in nodes]
        self._write(lambda conn: conn.execute(
            f"INSERT INTO {self._s}.topology (node, upstream) SELECT n, u::jsonb FROM unnest(%s::text[], %s::text[]) "
            "AS t(n, u) ON CONFLICT (node) DO UPDATE SET upstream = excluded.upstream",
            (nodes, parents),
        ))

    def _create_run(self, record: RunRecord) -> None:
        _check_status(record.status)
        row = run_to_row(record)
        s = self._s
        # a reused run id gets a new seq: the replaced run counts as the newest of its start time
        self._write(lambda conn: conn.execute(
            f"INSERT INTO {s}.runs ({RUN_COLUMNS}) VALUES (%s, %s, %s, %s, %s, %s::jsonb, %s::jsonb, %s, %s, %s, %s, %s) "
            f"ON CONFLICT (run_id) DO UPDATE SET seq = nextval('{s}.runs_seq_seq'), job_name = excluded.job_name, "
            "status = excluded.status, start_time = excluded.start_time, end_time = excluded.end_time, "
            "tags = excluded.tags, node_names = excluded.node_names, priority = excluded.priority, "
            "partition_key = excluded.partition_key, block_reason = excluded.block_reason, "
            "launched_kind = excluded.launched_kind, launched_ref = excluded.launched_ref",
            row,
        ))

    def _update_run(
        self,
        run_id: str,
        *,
        status: str | None = None,
        end_time: int | None = None,
        node_names: Sequence[str] | None = None,
    ) -> None:
        if status is not None:
            _check_status(status)
        names = None if node_names is None else encode_json(list(node_names))
        updated = self._write(lambda conn: conn.execute(
            f"UPDATE {self._s}.runs SET status = COALESCE(%s, status), end_time = COALESCE(%s, end_time), "
            "node_names = COALESCE(%s::jsonb, node_names) WHERE run_id = %s",
            (status, end_time, names, run_id),
        ).rowcount)
        if updated == 0:
            raise StorageError(f"Run '{run_id}' not found")

    def _store_run_outcome(
        self,
        run_id: str,
        run_status: str,
        completed_steps: int,
        total_steps: int,
        message: str | None,
        end_time: int,
    ) -> None:
        s = self._s

        def operation(conn: _Conn) -> None:
            conn.execute(
                f"INSERT INTO {s}.run_progress (run_id, completed_steps, total_steps, message) VALUES (%s, %s, %s, %s) "
                "ON CONFLICT (run_id) DO UPDATE SET completed_steps = excluded.completed_steps, "
                "total_steps = excluded.total_steps, message = excluded.message",
                (run_id, completed_steps, total_steps, message),
            )
            conn.execute(
                f"UPDATE {s}.runs SET status = %s, end_time = COALESCE(end_time, %s) WHERE run_id = %s",
                (run_status, end_time, run_id),
            )

        self._write(operation)

    def _stored_progress(self, run_id: str) -> tuple[int, int] | None:
        rows = self._read("SELECT completed_steps, total_steps FROM {s}.run_progress WHERE run_id = %s", (run_id,),
                          flush=False)
        return (rows[0][0], rows[0][1]) if rows else None

    def _query_runs(self, query: RunQuery) -> RunPage:
        where: list[str] = []
        parameters: list[Any] = []
        if query.statuses is not None:
            where.append("status = ANY(%s)")
            parameters.append(list(query.statuses))
        if query.job_name is not None:
            where.append("job_name = %s")
            parameters.append(query.job_name)
        if query.launched_by is not None:
            where.append("launched_kind = %s")
            parameters.append(query.launched_by)
            if query.launched_by_ref is not None:
                where.append("launched_ref = %s")
                parameters.append(query.launched_by_ref)
        if query.started_after is not None:
            where.append("start_time >= %s")
            parameters.append(query.started_after)
        if query.started_before is not None:
            where.append("start_time < %s")
            parameters.append(query.started_before)
        if query.tags:
            where.append("tags @> %s::jsonb")
            parameters.append(encode_json([list(pair) for pair in query.tags]))
        if query.cursor is not None:
            where.append("(start_time, seq) < (%s, %s)")
            parameters.extend(decode_run_cursor(query.cursor))
        sql = f"SELECT {RUN_COLUMNS}, seq FROM {{s}}.runs"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY start_time DESC, seq DESC LIMIT %s"
        parameters.append(query.limit + 1)
        rows = self._read(sql, parameters, flush=False)
        next_cursor = None
        if len(rows) > query.limit:
            rows = rows[:query.limit]
            next_cursor = f"{rows[-1][3]}:{rows[-1][-1]}"  # start_time:seq of the page's last run
        return RunPage([run_from_row(row) for row in rows], next_cursor)

    def get_run(self, run_id: str) -> RunRecord | None:
        rows = self._read(f"SELECT {RUN_COLUMNS} FROM {{s}}.runs WHERE run_id = %s", (run_id,), flush=False)
        return run_from_row(rows[0]) if rows else None

    def request_cancellation(self, run_id: str) -> None:
        self._write(lambda conn: conn.execute(
            f"INSERT INTO {self._s}.cancellations (run_id) VALUES (%s) ON CONFLICT DO NOTHING", (run_id,)
        ))

    def is_cancelled(self, run_id: str) -> bool:
        return bool(self._read("SELECT 1 FROM {s}.cancellations WHERE run_id = %s", (run_id,), flush=False))

    # -- reads --------------------------------------------------------------------------------

    def get_events_for_run(self, run_id: str) -> list[StoredEvent]:
        rows = self._read(f"SELECT {EVENT_COLUMNS} FROM {{s}}.events WHERE run_id = %s ORDER BY seq", (run_id,))
        return [event_from_row(row) for row in rows]

    def get_run_logs(self, run_id: str) -> list[StoredLog]:
        rows = self._read(f"SELECT {LOG_COLUMNS} FROM {{s}}.logs WHERE run_id = %s ORDER BY seq", (run_id,))
        return [log_from_row(row) for row in rows]

    def _events_for_asset(self, asset_key: str, limit: int) -> list[StoredEvent]:
        rows = self._read(
            f"SELECT {EVENT_COLUMNS} FROM {{s}}.events WHERE asset_key = %s ORDER BY seq DESC LIMIT %s",
            (asset_key, limit),
        )
        return [event_from_row(row) for row in rows]

    def _events_after(
        self, cursor: int, limit: int, run_id: str | None, event_types: Sequence[str] | None
    ) -> list[tuple[int, StoredEvent]]:
        sql = f"SELECT seq, {EVENT_COLUMNS} FROM {{s}}.events WHERE seq > %s"
        parameters: list[Any] = [cursor]
        if run_id is not None:
            sql += " AND run_id = %s"
            parameters.append(run_id)
        if event_types is not None:
            sql += " AND event_type = ANY(%s)"
            parameters.append(list(event_types))
        sql += " ORDER BY seq LIMIT %s"
        parameters.append(limit)
        return [(row[0], event_from_row(row[1:])) for row in self._read(sql, parameters)]

    @property
    def events_channel(self) -> str:
        """The ``LISTEN`` channel notified (with the newest cursor) by every commit of events."""
        return f"rivers_events_{self._s}"

    def wait_for_events(self, cursor: int, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds until events after ``cursor`` exist; whether they do.

        With a pool, a dedicated connection ``LISTEN``s on
        :attr:`events_channel`: a reader (the daemon, the UI, ``rivers runs
        --follow``) wakes as soon as a writer commits, instead of polling.
        Without a pool (pgBouncer in transaction mode, where ``LISTEN`` does
        not work) it polls every 0.2 s.
        """
        deadline = time.monotonic() + max(timeout, 0.0)
        if self.settings.pool_size == 0:
            while not self._events_after(cursor, 1, None, None):
                if time.monotonic() >= deadline:
                    return False
                time.sleep(min(_POLL_INTERVAL, max(deadline - time.monotonic(), 0.0)))
            return True
        with self._listen_lock:
            listener = self._connector.listen(self.events_channel)  # listening before the check: no lost wake-up
            if self._events_after(cursor, 1, None, None):
                return True
            try:
                while (remaining := deadline - time.monotonic()) > 0:
                    for notification in listener.notifies(timeout=remaining, stop_after=1):
                        if int(notification.payload or 0) > cursor:
                            return True
            except psycopg.Error:
                self._connector.drop_listener()  # the next call listens on a new connection
            return bool(self._events_after(cursor, 1, None, None))

    def _catalogue_rows(self, asset_keys: Sequence[str] | None) -> list[CatalogueRow]:
        columns = ", ".join("a." + column.strip() for column in ASSET_COLUMNS.split(","))
        sql = (
            f"SELECT {columns}, a.materialized_partitions, l.id, l.run_id, l.timestamp, l.body "
            "FROM {s}.asset_records AS a LEFT JOIN LATERAL (SELECT m.id, m.run_id, m.timestamp, m.body "
            "FROM {s}.latest_materializations AS m WHERE m.asset_key = a.asset_key "
            "ORDER BY m.updated_seq DESC LIMIT 1) AS l ON true"
        )
        if asset_keys is None:
            rows = self._read(sql + " ORDER BY a.seq")
        else:
            rows = self._read(sql + " WHERE a.asset_key = ANY(%s)", (list(asset_keys),))
            order = {key: index for index, key in enumerate(asset_keys)}
            rows.sort(key=lambda row: order[row[0]])
        width = len(ASSET_COLUMNS.split(","))
        return [
            CatalogueRow(
                asset_from_row(row[:width]),
                None if row[width + 1] is None else event_from_row(
                    (row[width + 1], _MATERIALIZATION, row[0], row[width + 2], row[width + 3], row[width + 4])
                ),
                row[width],
            )
            for row in rows
        ]

    def _latest_materialization(self, asset_key: str, partition: str | None) -> StoredEvent | None:
        columns = f"id, '{_MATERIALIZATION}', asset_key, run_id, timestamp, body"
        if partition is None:
            rows = self._read(
                f"SELECT {columns} FROM {{s}}.latest_materializations WHERE asset_key = %s "
                "ORDER BY updated_seq DESC LIMIT 1",
                (asset_key,),
            )
        else:
            rows = self._read(
                f"SELECT {columns} FROM {{s}}.latest_materializations WHERE asset_key = %s AND partition = %s",
                (asset_key, partition),
            )
        return event_from_row(rows[0]) if rows else None

    def _materialized_partitions(self, asset_key: str) -> list[str]:
        rows = self._read(
            "SELECT partition FROM {s}.latest_materializations WHERE asset_key = %s AND partition != '' ORDER BY seq",
            (asset_key,),
        )
        return [row[0] for row in rows]

    def count_materialized_partitions(self, asset_key: str) -> int:
        rows = self._read(
            "SELECT COUNT(*) FROM {s}.latest_materializations WHERE asset_key = %s AND partition != ''", (asset_key,)
        )
        return int(rows[0][0])

    def get_asset_record(self, asset_key: str) -> AssetRecord | None:
        rows = self._read(f"SELECT {ASSET_COLUMNS} FROM {{s}}.asset_records WHERE asset_key = %s", (asset_key,))
        return asset_from_row(rows[0]) if rows else None

    def get_asset_records(self) -> list[AssetRecord]:
        return [asset_from_row(row) for row in self._read(f"SELECT {ASSET_COLUMNS} FROM {{s}}.asset_records ORDER BY seq")]

    def get_assets_by_group(self, group: str) -> list[AssetRecord]:
        rows = self._read(f"SELECT {ASSET_COLUMNS} FROM {{s}}.asset_records WHERE asset_group = %s ORDER BY seq",
                          (group,))
        return [asset_from_row(row) for row in rows]

    def _topology(self) -> dict[str, list[str]]:
        return {node: list(upstream) for node, upstream in self._read("SELECT node, upstream FROM {s}.topology",
                                                                     flush=False)}

    # -- kv and dynamic partitions ----------------------------------------------------------------

    def kv_get(self, key: str) -> bytes | None:
        rows = self._read("SELECT value FROM {s}.kv WHERE key = %s", (key,), flush=False)
        return bytes(rows[0][0]) if rows else None

    def _kv_put(self, key: str, value: bytes) -> None:
        self._write(lambda conn: conn.execute(
            f"INSERT INTO {self._s}.kv (key, value) VALUES (%s, %s) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (key, value),
        ))

    def _kv_update(self, key: str, update: Callable[[bytes | None], bytes]) -> None:
        """Read, update and write ``key`` in one transaction holding a lock on the key (atomic across processes)."""
        s = self._s

        def operation(conn: _Conn) -> None:
            # a transaction-level advisory lock on the key: also serialises the first writers of a missing key
            conn.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", (f"{s}.kv:{key}",))
            row = conn.execute(f"SELECT value FROM {s}.kv WHERE key = %s", (key,)).fetchone()
            value = update(None if row is None else bytes(row[0]))
            if not isinstance(value, (bytes, bytearray, memoryview)):
                raise TypeError(f"kv update of {key!r} must return bytes, not {type(value).__name__}")
            conn.execute(
                f"INSERT INTO {s}.kv (key, value) VALUES (%s, %s) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (key, bytes(value)),
            )

        self._write(operation)

    def _insert_dynamic_partitions(self, name: str, keys: Sequence[str]) -> None:
        s = self._s

        def operation(conn: _Conn) -> None:
            conn.execute(f"INSERT INTO {s}.dynamic_partition_namespaces (name) VALUES (%s) ON CONFLICT DO NOTHING",
                         (name,))
            if keys:
                conn.execute(
                    f"INSERT INTO {s}.dynamic_partitions (name, key) SELECT %s, k FROM unnest(%s::text[]) "
                    "WITH ORDINALITY AS u(k, n) ORDER BY n ON CONFLICT (name, key) DO NOTHING",
                    (name, list(keys)),
                )

        self._write(operation)

    def _dynamic_partitions(self, name: str) -> list[str] | None:
        rows = self._read(
            "SELECT d.key FROM {s}.dynamic_partition_namespaces AS n LEFT JOIN {s}.dynamic_partitions AS d "
            "ON d.name = n.name WHERE n.name = %s ORDER BY d.seq",
            (name,), flush=False,
        )
        if not rows:
            return None
        return [row[0] for row in rows if row[0] is not None]

    def has_dynamic_partition(self, name: str, key: str) -> bool:
        return bool(self._read("SELECT 1 FROM {s}.dynamic_partitions WHERE name = %s AND key = %s", (name, key),
                               flush=False))

    def delete_dynamic_partition(self, name: str, key: str) -> None:
        self._write(lambda conn: conn.execute(
            f"DELETE FROM {self._s}.dynamic_partitions WHERE name = %s AND key = %s", (name, key)
        ))

    # -- concurrency pools (rivers_storage_postgres.pools) --------------------------------------------

    def _set_pool_limits(self, limits: Sequence[tuple[str, int, float | None]], *, only_missing: bool = False) -> None:
        if limits:
            self._control(pool_sql.set_limits, list(limits), only_missing)

    def _pool_limits(self) -> list[PoolLimit]:
        return self._control(pool_sql.limits)

    def _pool_infos(self, pool_key: str | None) -> list[PoolInfo]:
        return self._control(pool_sql.infos, pool_key)

    def _pool_holders(self, pool_key: str) -> list[SlotHolder]:
        return self._control(pool_sql.holders, pool_key)

    def _claim_concurrency_slots(
        self, run_id: str, step_key: str, pools: Sequence[tuple[str, int]]
    ) -> ConcurrencyClaimStatus:
        return self._control(pool_sql.claim, run_id, step_key, list(pools))

    def _free_concurrency_slots(self, run_id: str, step_key: str) -> None:
        self._control(pool_sql.free_step, run_id, step_key)

    def _free_concurrency_slots_for_run(self, run_id: str) -> None:
        self._control(pool_sql.free_run, run_id)

    def _renew_slot_lease(self, run_id: str, step_key: str) -> bool:
        return self._control(pool_sql.renew, run_id, step_key)

    def _free_expired_leases(self) -> int:
        return self._control(pool_sql.expire)

    # -- partition status, backfills, automation, leases (rivers_storage_postgres.control) ---------

    def _control(self, operation: Callable[..., _T], *arguments: Any, write: bool = True) -> _T:
        if write:
            return self._write(lambda conn: operation(conn, self._s, *arguments))  # type: ignore[return-value]
        return self._connector.run(lambda conn: operation(conn, self._s, *arguments), write=False)

    def _partition_status(self, asset_keys: Sequence[str]) -> dict[str, PartitionStatusRanges]:
        return self._control(control.partition_status, list(asset_keys), write=False)

    def _update_partition_status(
        self, asset_key: str, update: Callable[[PartitionStatusRanges], PartitionStatusRanges]
    ) -> None:
        self._control(control.update_partition_status, asset_key, update)

    def _put_backfill(self, backfill: StoredBackfill) -> None:
        self._control(control.put_backfill, backfill)

    def _get_backfill(self, backfill_id: str) -> StoredBackfill | None:
        return self._control(control.get_backfill, backfill_id, write=False)

    def _backfills(self, status: str | None, limit: int | None) -> list[StoredBackfill]:
        return self._control(control.backfills, status, limit, write=False)

    def _request_backfill_cancel(self, backfill_id: str) -> bool:
        return self._control(control.request_backfill_cancel, backfill_id)

    def _put_tick(self, tick: StoredTick) -> None:
        self._control(control.put_tick, tick)

    def _ticks(self, automation_name: str, limit: int, before: int | None) -> list[StoredTick]:
        return self._control(control.ticks, automation_name, limit, before, write=False)

    def _set_automation_cursor(self, automation_name: str, cursor: str | None) -> None:
        self._control(control.set_cursor, automation_name, cursor)

    def _automation_cursor(self, automation_name: str) -> str | None:
        return self._control(control.get_cursor, automation_name, write=False)

    def _acquire_lease(self, name: str, owner: str, duration_s: float) -> Lease | None:
        return self._control(control.acquire_lease, name, owner, duration_s)

    def advisory_leadership(self, name: str) -> AdvisoryLeadership:
        """Leadership ``name`` held by a session-level advisory lock (see :mod:`rivers_storage_postgres.leadership`)."""
        return AdvisoryLeadership(self._connector, LOCK_CLASS, self._s, name)

    def _release_lease(self, name: str, owner: str) -> bool:
        return self._control(control.release_lease, name, owner)

    def _get_lease(self, name: str) -> Lease | None:
        return self._control(control.get_lease, name, write=False)
