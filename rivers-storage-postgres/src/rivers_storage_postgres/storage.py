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
import json
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, ClassVar, NamedTuple, TypeVar

import psycopg

from rivers.exceptions import StorageError
from rivers.storage import Storage, StorageType
from rivers.storage.contract import CONTRACT_VERSION, Capability
from rivers.storage.control_records import Lease, StoredBackfill, StoredTick
from rivers.storage.monitor import RunMonitor
from rivers.storage.partition_status import PartitionStatusRanges
from rivers.storage.pools import ConcurrencyClaimStatus, PoolInfo, PoolLimit, SlotHolder, parse_duration
from rivers.storage.queries import CatalogueRow, RunPage, RunQuery, decode_run_cursor
from rivers.storage.records import RUN_STATUSES, AssetRecord, RunRecord, StoredEvent, StoredLog
from rivers_storage_postgres import control, monitoring
from rivers_storage_postgres import pools as pool_sql
from rivers_storage_postgres.connections import Connector
from rivers_storage_postgres.events import insert_events, insert_logs
from rivers_storage_postgres.leadership import AdvisoryLeadership
from rivers_storage_postgres.rows import (
    ASSET_COLUMNS,
    ASSET_SELECT,
    EVENT_COLUMNS,
    LOG_COLUMNS,
    RUN_COLUMNS,
    RUN_SELECT,
    asset_from_row,
    asset_to_row,
    encode_json,
    event_from_row,
    log_from_row,
    run_from_row,
    run_to_row,
)
from rivers_storage_postgres.schema import LOCK_CLASS, ensure_schema, migrate, schema_version
from rivers_storage_postgres.settings import PostgresSettings

__all__ = ["PostgresStorage", "PruneReport"]

_T = TypeVar("_T")
_Conn = psycopg.Connection

_MATERIALIZATION = "Materialization"
_STEP_SUCCESS = "StepSuccess"
#: A latest-materialisation row (alias ``l``) read as an event row (rows.EVENT_COLUMNS order).
_LATEST_COLUMNS = (
    f"l.id, '{_MATERIALIZATION}', asset_key, l.run_id, l.timestamp, NULLIF(l.partition, ''), l.data_version, "
    "l.code_version, l.body"
)


class PruneReport(NamedTuple):
    """What :meth:`PostgresStorage.prune_events` deleted: of how many runs, how many events and logs."""

    cutoff: int
    runs: int = 0
    events: int = 0
    logs: int = 0


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
        self._connector.open_pool()  # its first connection is made in the background, while the caller goes on

    @staticmethod
    def migrate(url: str, **config: Any) -> list[str]:
        """Apply every pending migration, the breaking ones too (``rivers storage migrate``); what was done."""
        settings = PostgresSettings(url, config)
        connector = Connector(settings)
        conn = connector.first_connection()
        try:
            before = schema_version(conn, settings.schema)
            applied = migrate(conn, settings.schema, settings.where())
        except psycopg.Error as error:
            raise connector.translate(error) from None
        finally:
            conn.close()
            connector.close()
        if not applied:
            return [f"schema '{settings.schema}': schema version {before}, up to date"]
        return [f"schema '{settings.schema}': migrated from schema version {before} to {applied[-1]}"]

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
        insert_events(conn, self._s, LOCK_CLASS, self.events_channel, events)

    def _insert_logs(self, conn: _Conn, logs: Sequence[StoredLog]) -> None:
        insert_logs(conn, self._s, logs)

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
        # one JSON document for every row: the server splits it (much faster than binding arrays of text)
        rows = encode_json([asset_to_row(record) for record in records])
        self._write(lambda conn: conn.execute(
            f"INSERT INTO {self._s}.asset_records ({ASSET_COLUMNS}) SELECT r->>0, (r->1)::jsonb, (r->2)::jsonb, "
            "r->>3, r->>4, r->>5, r->>6, (r->>7)::bigint, r->>8, r->>9, (r->10)::jsonb, (r->11)::jsonb "
            "FROM json_array_elements(%s::json) WITH ORDINALITY AS u(r, n) ORDER BY n "
            "ON CONFLICT (asset_key) DO UPDATE SET tags = excluded.tags, kinds = excluded.kinds, "
            "asset_group = excluded.asset_group, code_version = excluded.code_version, pool = excluded.pool",
            (rows,),
        ))

    def _register_topology(self, upstream: Mapping[str, Sequence[str]]) -> None:
        if not upstream:
            return
        rows = encode_json([[node, list(parents)] for node, parents in upstream.items()])
        self._write(lambda conn: conn.execute(
            f"INSERT INTO {self._s}.topology (node, upstream) SELECT r->>0, (r->1)::jsonb FROM json_array_elements(%s::json) "
            "AS u(r) ON CONFLICT (node) DO UPDATE SET upstream = excluded.upstream",
            (rows,),
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
        sql = f"SELECT {RUN_SELECT}, seq FROM {{s}}.runs AS r"
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
        rows = self._read(f"SELECT {RUN_SELECT} FROM {{s}}.runs AS r WHERE run_id = %s", (run_id,), flush=False)
        return run_from_row(rows[0]) if rows else None

    def request_cancellation(self, run_id: str) -> None:
        self._write(lambda conn: conn.execute(
            f"INSERT INTO {self._s}.cancellations (run_id) VALUES (%s) ON CONFLICT DO NOTHING", (run_id,)
        ))

    # -- run monitoring (rivers_storage_postgres.monitoring) ------------------------------

    def _put_run_monitor(self, record: RunMonitor) -> None:
        self._beside_queue(monitoring.put_monitor, record)

    def _run_monitors(self, run_ids: Sequence[str]) -> dict[str, RunMonitor]:
        return self._control(monitoring.monitors, list(run_ids), write=False) if run_ids else {}

    def _heartbeat_runs(self, run_ids: Sequence[str], timestamp: int) -> None:
        if run_ids:
            self._beside_queue(monitoring.heartbeat, list(run_ids), timestamp)

    def _claim_queued_runs(self, limit: int, owner: RunMonitor, run_ids: Sequence[str] | None) -> list[RunRecord]:
        return self._control(monitoring.claim_queued_runs, limit, owner, run_ids)

    def _fail_dead_run(self, run_id: str, judged: RunMonitor | None, end_time: int) -> bool:
        return self._control(monitoring.fail_dead_run, run_id, judged, end_time)

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

    def wait_for_events(self, cursor: int, timeout: float = 10.0) -> bool:
        """Wait up to ``timeout`` seconds until events after ``cursor`` exist; whether they do.

        With a pool, a dedicated connection ``LISTEN``s on
        :attr:`events_channel`: a reader (the daemon, the UI, ``rivers runs
        --follow``) wakes as soon as a writer commits, instead of polling.
        Without a pool (pgBouncer in transaction mode, where ``LISTEN`` does
        not work) it polls, as the base class does.
        """
        if (self.settings.pool_size == 0 or isinstance(timeout, bool) or not isinstance(timeout, (int, float))
                or timeout < 0):
            return super().wait_for_events(cursor, timeout)  # (also the argument errors)
        deadline = time.monotonic() + timeout
        with self._listen_lock:
            listener = self._connector.listen(self.events_channel)  # listening before the check: no lost wake-up
            if super().wait_for_events(cursor, 0):  # checks the arguments, and whether events are there already
                return True
            try:
                while (remaining := deadline - time.monotonic()) > 0:
                    for notification in listener.notifies(timeout=remaining, stop_after=1):
                        if int(notification.payload or 0) > cursor:
                            return True
            except psycopg.Error:
                self._connector.drop_listener()  # the next call listens on a new connection
            return super().wait_for_events(cursor, 0)

    def _catalogue_rows(self, asset_keys: Sequence[str] | None) -> list[CatalogueRow]:
        sql = (
            f"SELECT {ASSET_SELECT}, a.materialized_partitions, {_LATEST_COLUMNS.replace('asset_key', 'a.asset_key')} "
            "FROM {s}.asset_records AS a LEFT JOIN LATERAL (SELECT * FROM {s}.latest_materializations AS m "
            "WHERE m.asset_key = a.asset_key ORDER BY m.updated_seq DESC LIMIT 1) AS l ON true"
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
                None if row[width + 1] is None else event_from_row(row[width + 1:]),
                row[width],
            )
            for row in rows
        ]

    def _latest_materialization(self, asset_key: str, partition: str | None) -> StoredEvent | None:
        if partition is None:
            rows = self._read(
                f"SELECT {_LATEST_COLUMNS} FROM {{s}}.latest_materializations AS l WHERE asset_key = %s "
                "ORDER BY updated_seq DESC LIMIT 1",
                (asset_key,),
            )
        else:
            rows = self._read(
                f"SELECT {_LATEST_COLUMNS} FROM {{s}}.latest_materializations AS l "
                "WHERE asset_key = %s AND partition = %s",
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
        rows = self._read(f"SELECT {ASSET_SELECT} FROM {{s}}.asset_records AS a WHERE asset_key = %s", (asset_key,))
        return asset_from_row(rows[0]) if rows else None

    def get_asset_records(self) -> list[AssetRecord]:
        rows = self._read(f"SELECT {ASSET_SELECT} FROM {{s}}.asset_records AS a ORDER BY seq")
        return [asset_from_row(row) for row in rows]

    def get_assets_by_group(self, group: str) -> list[AssetRecord]:
        rows = self._read(f"SELECT {ASSET_SELECT} FROM {{s}}.asset_records AS a WHERE asset_group = %s ORDER BY seq",
                          (group,))
        return [asset_from_row(row) for row in rows]

    def _topology(self) -> dict[str, list[str]]:
        # one JSON document for the whole graph: a single decode instead of one per node
        rows = self._read("SELECT COALESCE(json_object_agg(node, upstream), '{{}}')::text FROM {s}.topology",
                          flush=False)
        topology: dict[str, list[str]] = json.loads(rows[0][0])
        return topology

    # -- kv and dynamic partitions ----------------------------------------------------------------

    def kv_get(self, key: str) -> bytes | None:
        rows = self._read("SELECT value FROM {s}.kv WHERE key = %s", (key,), flush=False)
        return bytes(rows[0][0]) if rows else None

    def _kv_put(self, key: str, value: bytes) -> None:
        self._kv_put_many([(key, value)])

    def _kv_put_many(self, items: Sequence[tuple[str, bytes]]) -> None:
        """Every pair in one transaction (one statement per pair, one commit)."""
        sql = f"INSERT INTO {self._s}.kv (key, value) VALUES (%s, %s) ON CONFLICT (key) DO UPDATE SET value = excluded.value"
        self._write(lambda conn: conn.cursor().executemany(sql, list(items)))

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

    # -- retention ---------------------------------------------------------------------------------

    def prune_events(self, older_than: str | float, *, batch_runs: int = 500) -> PruneReport:
        """Delete the events and logs of runs that ended more than ``older_than`` ago (``"90d"``, seconds).

        Only finished runs (Success, Failure, Canceled) are pruned, a batch of
        ``batch_runs`` runs per transaction, so writers are never held up
        long. Run records stay, and so does everything derived from the
        events (asset records, the latest materialisation of each asset and
        partition, partition status): the catalogue, staleness and
        ``get_latest_materialization`` read the same afterwards.
        ``rivers storage prune --older-than 90d`` calls this.
        """
        seconds = parse_duration(older_than, "older_than")
        cutoff = time.time_ns() - int(seconds * 1e9)
        s = self._s
        report = PruneReport(cutoff=cutoff)

        def prune_batch(conn: _Conn, after: int) -> tuple[int, int, int, int]:
            rows = conn.execute(
                f"SELECT seq, run_id FROM {s}.runs WHERE seq > %s AND end_time < %s "
                "AND status IN ('Success', 'Failure', 'Canceled') ORDER BY seq LIMIT %s",
                (after, cutoff, batch_runs),
            ).fetchall()
            if not rows:
                return (0, 0, 0, after)
            run_ids = [run_id for _, run_id in rows]
            events = conn.execute(f"DELETE FROM {s}.events WHERE run_id = ANY(%s)", (run_ids,)).rowcount
            logs = conn.execute(f"DELETE FROM {s}.logs WHERE run_id = ANY(%s)", (run_ids,)).rowcount
            return (len(rows), events, logs, rows[-1][0])

        after = 0
        while True:
            result = self._write(lambda conn: prune_batch(conn, after))
            assert result is not None
            runs, events, logs, after = result
            if not runs:
                return report
            report = report._replace(runs=report.runs + runs, events=report.events + events, logs=report.logs + logs)

    # -- partition status, backfills, automation, leases (rivers_storage_postgres.control) ---------

    def _beside_queue(self, operation: Callable[..., _T], *arguments: Any) -> _T:
        """Run a write of its own, leaving the queued events and logs in the queue.

        The heartbeat thread's owner and heartbeat writes go through here: a
        failure there (the server restarting) must never take and discard a
        running run's queued events, which its own next write stores.
        """
        return self._connector.run(lambda conn: operation(conn, self._s, *arguments))

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

    def _prune_ticks(self, automation_name: str, keep: int) -> int:
        return self._control(control.prune_ticks, automation_name, keep)

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
