"""Embedded storage in one SQLite file (WAL mode): what ``Storage.embedded(path)`` returns.

Design notes:

* One connection per process and storage object, shared by threads under a
  lock (``check_same_thread=False``); the write-behind queue has its own
  lock, taken only briefly, so threads keep queueing records while a commit
  is being written (``_conn_lock`` is always taken before the queue's). A
  forked child never uses or closes its parent's connection: it opens its
  own on first use.
* Several processes may open the same file; writers wait for each other up
  to ``busy_timeout`` (30 s). Every write is one ``BEGIN IMMEDIATE``
  transaction, so a reader never sees half of an ``_append_events`` call.
* The schema (:mod:`rivers.storage._sqlite_schema`) is created idempotently
  on open and stamped with ``PRAGMA user_version``; a file of an older
  version is migrated (:mod:`rivers.storage._sqlite_migrations`).
* Writes of events, logs and starting runs go through a write-behind
  queue with group commit, :class:`rivers.storage.write_behind.WriteBehind`
  (see there for when records are committed): short runs in quick
  succession share one commit, every finished step's events are committed
  within :attr:`SqliteStorage.commit_delay` of the step's end, and a process
  killed outright loses at most that delay of records, never part of a
  run's commit. ``commit_delay=0`` commits every write when it is made.
"""

from __future__ import annotations

import contextlib
import functools
import os
import random
import sqlite3
import threading
import time
import weakref
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar, Final, TypeVar

from rivers._record import Record
from rivers.exceptions import ConfigurationError, StorageError
from rivers.storage._sqlite_schema import (
    ASSET_COLUMNS,
    EVENT_COLUMNS,
    LOG_COLUMNS,
    RUN_COLUMNS,
    asset_from_row,
    asset_to_row,
    decode_json,
    encode_json,
    event_from_row,
    event_to_row,
    log_from_row,
    log_to_row,
    run_from_row,
    run_to_row,
)
from rivers.storage._sqlite_migrations import ensure_schema
from rivers.storage.base import Storage
from rivers.storage.contract import CONTRACT_VERSION, Capability
from rivers.storage.write_behind import WriteBehind, anything_held, publish_others
from rivers.storage.records import (
    MATERIALIZATION,
    STEP_SUCCESS,
    AssetRecord,
    RunRecord,
    StorageType,
    StoredEvent,
    StoredLog,
)

if TYPE_CHECKING:
    from rivers.storage.queries import CatalogueRow, RunPage, RunQuery
    from types import ModuleType

    from rivers.storage.control_records import Lease, StoredBackfill, StoredTick
    from rivers.storage.monitor import RunMonitor
    from rivers.storage.partition_progress import HoldsLedger, ProgressChange
    from rivers.storage.partition_status import PartitionStatusRanges

__all__ = ["DEFAULT_FILENAME", "MigrationReport", "SqliteStorage", "migrate_file"]

#: Database file used when ``Storage.embedded`` is given an existing directory.
DEFAULT_FILENAME: Final = "rivers.sqlite3"

_BUSY_TIMEOUT_MS: Final = 30_000
#: Rows per multi-row INSERT of a group commit (12 columns x 500 stays far below SQLite's variable limit).
_ROWS_PER_INSERT: Final = 500

_INSERT_EVENT: Final = f"INSERT INTO events ({EVENT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)"
_INSERT_LOG: Final = f"INSERT INTO logs ({LOG_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)"
_REGISTER_ASSET: Final = (
    f"INSERT INTO asset_records ({ASSET_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
    "ON CONFLICT (asset_key) DO UPDATE SET tags = excluded.tags, kinds = excluded.kinds, "
    "asset_group = excluded.asset_group, code_version = excluded.code_version, pool = excluded.pool"
)
# REPLACE deletes the old row, so a reused run id gets a new (newest) seq.
_CREATE_RUN: Final = f"INSERT OR REPLACE INTO runs ({RUN_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
_UPDATE_RUN: Final = (
    "UPDATE runs SET status = COALESCE(?, status), end_time = COALESCE(?, end_time), "
    "node_names = COALESCE(?, node_names) WHERE run_id = ?"
)
# Positions in a ``runs`` row (RUN_COLUMNS order) that ``_update_run`` changes.
_RUN_ID, _STATUS, _START_TIME, _END_TIME, _NODE_NAMES = (
    [column.strip() for column in RUN_COLUMNS.split(",")].index(name)
    for name in ("run_id", "status", "start_time", "end_time", "node_names")
)
_PUT_KV: Final = "INSERT OR REPLACE INTO kv (key, value) VALUES (?, ?)"
_LATEST_EVENT: Final = (
    f"SELECT {', '.join('e.' + column.strip() for column in EVENT_COLUMNS.split(','))} "
    "FROM latest_materializations AS l JOIN events AS e ON e.seq = l.event_seq "
    "WHERE l.asset_key = ? AND l.partition = ?"
)

_T = TypeVar("_T")

# Connections inherited through fork() must be neither used nor closed by the
# child (closing could disturb the parent's locks): they are parked here.
_abandoned_connections: list[sqlite3.Connection] = []
_live_storages: weakref.WeakSet[SqliteStorage] = weakref.WeakSet()


def _after_fork_in_child() -> None:
    for storage in list(_live_storages):
        storage._forget_connection_after_fork()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def _control() -> ModuleType:
    """The control-plane statements (partition status, backfills, ticks, leases), imported on first use."""
    from rivers.storage import _sqlite_control

    return _sqlite_control


@functools.lru_cache(maxsize=64)
def _multi_row(sql: str, count: int) -> str:
    """``sql`` (one ``INSERT ... VALUES (?, ...)``, maybe with an ``ON CONFLICT`` tail) extended to ``count`` rows."""
    head, _, rest = sql.partition(" VALUES ")
    placeholders, _, tail = rest.partition(")")
    return f"{head} VALUES {', '.join([placeholders + ')'] * count)}{tail}"


def _insert_rows(conn: sqlite3.Connection, sql: str, rows: Sequence[tuple[Any, ...]]) -> None:
    """``conn.executemany(sql, rows)``, as multi-row INSERTs of up to :data:`_ROWS_PER_INSERT` rows.

    Measured 20-35% less SQLite time than ``executemany`` for a group commit.
    Also, Python's sqlite3 releases the GIL around each step of a statement
    and ``executemany`` steps once per row: the publisher thread, writing
    while the main thread runs Python, would wait for the GIL once per row.
    """
    if len(rows) == 1:
        conn.execute(sql, rows[0])
        return
    for start in range(0, len(rows), _ROWS_PER_INSERT):
        chunk = rows[start:start + _ROWS_PER_INSERT]
        conn.execute(_multi_row(sql, len(chunk)), [value for row in chunk for value in row])


def _is_locked(error: sqlite3.OperationalError) -> bool:
    text = str(error).lower()
    return "locked" in text or "busy" in text


def _checked_commit_delay(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < float("inf"):
        raise ConfigurationError(
            f"Embedded storage: commit_delay must be a number of seconds >= 0 (0 commits every write at once), "
            f"not {value!r}"
        )
    return float(value)


def resolve_path(path: str | os.PathLike[str], *, create_parent: bool = True) -> str:
    """The database file of ``path`` (``<dir>/rivers.sqlite3`` for a directory), creating its parent by default."""
    text = os.fspath(path)
    if text == ":memory:":
        return text
    if os.path.isdir(text):
        return os.path.join(text, DEFAULT_FILENAME)
    if create_parent:
        os.makedirs(os.path.dirname(text) or ".", exist_ok=True)
    return text


class MigrationReport(Record):
    """What :func:`migrate_file` did: the file's schema version before and after, and each migration applied."""

    path: str
    from_version: int
    to_version: int
    applied: list[str]


def migrate_file(path: str | os.PathLike[str]) -> MigrationReport:
    """Apply every pending migration to the SQLite store at ``path``, the ones not applied on open included.

    Idempotent: a file already at the current version is left as it is.
    :raises SchemaMigrationNeededError: the file is newer than this rivers-core.
    :raises StorageError: the file does not exist or cannot be opened.
    """
    from rivers.storage._sqlite_migrations import describe, schema_version

    resolved = resolve_path(path, create_parent=False)
    if resolved != ":memory:" and not os.path.exists(resolved):
        raise StorageError(f"Embedded storage at '{resolved}' does not exist; nothing to migrate")
    try:
        conn = sqlite3.connect(resolved, isolation_level=None)
    except sqlite3.Error as error:
        raise StorageError(f"Cannot open embedded storage at '{resolved}': {error}") from error
    try:
        conn.execute(f"PRAGMA busy_timeout = {_BUSY_TIMEOUT_MS}")
        before = schema_version(conn)
        applied = ensure_schema(conn, resolved, explicit=True)
        return MigrationReport(resolved, before, schema_version(conn), describe(applied))
    except sqlite3.Error as error:
        raise StorageError(f"Embedded storage at '{resolved}': migration failed: {error}") from error
    finally:
        conn.close()


class SqliteStorage(Storage):
    """Embedded storage in the SQLite file ``path``; what ``Storage.embedded(path)`` returns.

    Other processes that open the same file see everything committed here.
    """

    _storage_type = StorageType.Embedded
    contract_version = CONTRACT_VERSION
    capabilities = frozenset(Capability)

    #: Inside ``_batch()``: write the queue once this many events and logs are queued.
    batch_max_events: ClassVar[int] = WriteBehind.batch_max_events
    #: Inside ``_batch()``: write the queue on append once its oldest record is this old (seconds).
    batch_max_delay: ClassVar[float] = WriteBehind.batch_max_delay
    #: Group commit: queued run records (and the events and final status of
    #: runs that ended meanwhile) are committed at the latest this many seconds
    #: after the oldest of those runs started; 0 commits every write at once.
    #: Set per storage with ``commit_delay=`` (``[storage] commit_delay`` in rivers.toml).
    commit_delay: float = 0.05
    #: How long SQLite itself waits for another process's write lock (``PRAGMA busy_timeout``).
    busy_timeout_ms: ClassVar[int] = _BUSY_TIMEOUT_MS
    #: After SQLite gave up with "database is locked" / "busy", keep retrying this many seconds more.
    lock_retry_seconds: ClassVar[float] = 60.0
    #: the in-progress holds of the runs recorded through this object (created by the first progress change)
    _progress_ledger: HoldsLedger | None = None

    def __init__(self, path: str | os.PathLike[str], *, commit_delay: float | None = None) -> None:
        if commit_delay is not None:
            self.commit_delay = _checked_commit_delay(commit_delay)
        self._path = resolve_path(path)
        # _conn_lock: the connection (every transaction and query), always taken before the queue's lock
        self._conn_lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None
        self._pid = os.getpid()
        self._closed = False
        self._queue = self._new_queue()
        _live_storages.add(self)
        with self._conn_lock:
            self._connect()

    @property
    def path(self) -> str:
        """The database file."""
        return self._path

    def __repr__(self) -> str:
        return f"SqliteStorage({self._path!r})"

    # -- connection, transactions, write-behind queue ---------------------------

    def _connect(self) -> sqlite3.Connection:
        """Open this process's connection and ensure the schema (``_conn_lock`` held)."""
        if self._closed:
            raise StorageError(f"Embedded storage at '{self._path}' is closed; open it again with Storage.embedded()")
        if self._pid != os.getpid():
            self._forget_connection_after_fork()
        template: ModuleType | None = None  # rivers.storage._sqlite_template, when this open creates the schema
        if self._path != ":memory:" and not os.path.exists(self._path):
            from rivers.storage import _sqlite_template

            if not _sqlite_template.copy_to(self._path):  # a missing file is a copy of the cached empty store
                template = _sqlite_template
        try:
            conn = sqlite3.connect(self._path, check_same_thread=False, isolation_level=None, cached_statements=256)
        except sqlite3.Error as error:
            raise StorageError(f"Cannot open embedded storage at '{self._path}': {error}") from error
        try:
            conn.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout_ms)}")
            self._retry_while_locked(lambda: conn.execute("PRAGMA journal_mode = WAL"))
            conn.execute("PRAGMA synchronous = NORMAL")
            self._retry_while_locked(lambda: ensure_schema(conn, self._path))
            if template is not None:
                template.save(conn)  # the next new store is a copy of this one
        except sqlite3.Error as error:
            conn.close()
            raise StorageError(f"Cannot open embedded storage at '{self._path}': {error}") from error
        except BaseException:
            conn.close()
            raise
        self._conn = conn
        return conn

    def _forget_connection_after_fork(self) -> None:
        """In a forked child: drop the parent's connection, lock and queue without touching them."""
        if self._conn is not None:
            _abandoned_connections.append(self._conn)
        self._conn = None
        self._conn_lock = threading.Lock()
        self._pid = os.getpid()
        self._queue.forget_after_fork()

    def _new_queue(self) -> WriteBehind:
        """The write-behind queue of this object (it reads ``commit_delay`` and the batch limits from here)."""
        # read at each queueing (a class-level change applies to open stores), through C: no Python frame
        queue = WriteBehind(self._flush_from_queue, functools.partial(getattr, self, "commit_delay"))
        queue.batch_max_events = self.batch_max_events
        queue.batch_max_delay = self.batch_max_delay
        return queue

    def _retry_while_locked(self, attempt: Callable[[], _T]) -> _T:
        """Call ``attempt`` again (with a short jittered sleep) while SQLite reports the database locked or busy.

        ``busy_timeout`` already makes SQLite wait for other writers; this
        covers the cases where it returns SQLITE_BUSY anyway (journal-mode
        changes and recovery of a file many processes open at once, or a
        writer holding the lock longer than the timeout), for at most
        :attr:`lock_retry_seconds`.
        """
        deadline = 0.0
        pause = 0.005
        while True:
            try:
                return attempt()
            except sqlite3.OperationalError as error:
                if not _is_locked(error):
                    raise
                now = time.monotonic()
                if not deadline:
                    deadline = now + self.lock_retry_seconds
                elif now >= deadline:
                    raise
                time.sleep(pause * (0.5 + random.random()))
                pause = min(pause * 2, 0.25)

    def _transaction(self, operation: Callable[[sqlite3.Connection], _T]) -> _T:
        """Run ``operation`` in its own ``BEGIN IMMEDIATE`` transaction (``_conn_lock`` held)."""
        conn = self._conn or self._connect()
        try:
            self._retry_while_locked(lambda: conn.execute("BEGIN IMMEDIATE"))
            try:
                result = operation(conn)
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
        except sqlite3.Error as error:
            raise StorageError(f"Embedded storage at '{self._path}': write failed: {error}") from error
        return result

    def _flush(
        self, then: Callable[[sqlite3.Connection], _T] | None = None, *, keep_young_runs: bool = False
    ) -> _T | None:
        """Write the queued records in one transaction, followed by ``then`` (``_conn_lock`` held).

        The queue is taken under its own lock and written outside it, so other
        threads keep queueing meanwhile; a reader waits on ``_conn_lock``
        until the write committed. If writing fails the taken records are
        discarded and the error says how many. ``keep_young_runs``: see
        :meth:`WriteBehind.take`.
        """
        taken = self._queue.take(keep_young_runs)
        if not taken:
            return None if then is None else self._transaction(then)
        run_rows = [run_to_row(record) for record in taken.runs]
        event_rows = [event_to_row(event) for event in taken.events]
        log_rows = [log_to_row(log) for log in taken.logs]
        progress = taken.progress

        def operation(conn: sqlite3.Connection) -> _T | None:
            if run_rows:
                _insert_rows(conn, _CREATE_RUN, run_rows)
            if event_rows:
                _insert_rows(conn, _INSERT_EVENT, event_rows)
            if log_rows:
                _insert_rows(conn, _INSERT_LOG, log_rows)
            if progress:
                self._apply_progress(conn, progress)
            return then(conn) if then is not None else None

        try:
            return self._transaction(operation)
        except StorageError as error:
            raise StorageError(f"{error} ({taken.describe()} were discarded)") from error
        finally:
            self._queue.written()

    def _flush_from_queue(self, keep_young_runs: bool) -> None:
        """The queue's flush (its publisher, the end of a batch, a read through another object)."""
        with self._conn_lock:
            if not self._closed and self._pid == os.getpid():
                self._flush(keep_young_runs=keep_young_runs)

    def _flush_now(self) -> None:
        """Commit what is queued (takes the locks)."""
        with self._conn_lock:
            self._flush()

    def _write(self, operation: Callable[[sqlite3.Connection], _T]) -> _T:
        """Run ``operation`` in a transaction, after the queued records (one commit for both)."""
        with self._conn_lock:
            self._queue.raise_error()
            return self._flush(operation)  # type: ignore[return-value]

    def _read(
        self, sql: str, parameters: Sequence[Any] = (), *, flush: bool = True, reads_queued_tables: bool = True
    ) -> list[Any]:
        """Run a query and return all rows; ``flush`` first writes queued events and logs (they may be read).

        Queued run records are always written first, and so are the records
        other storage objects of this process queue, unless
        ``reads_queued_tables`` is false: the query reads only tables the
        queue never holds rows of (kv, cancellations, dynamic partitions,
        topology, run progress), so it neither waits for nor forces a group
        commit.
        """
        if reads_queued_tables and anything_held():
            publish_others(self._queue)
        with self._conn_lock:
            self._queue.raise_error()
            queue = self._queue
            if reads_queued_tables and (queue.holds_runs() or (flush and queue.holds_records())):
                self._flush()
            conn = self._conn or self._connect()
            try:
                return self._retry_while_locked(lambda: conn.execute(sql, parameters).fetchall())
            except sqlite3.Error as error:
                raise StorageError(f"Embedded storage at '{self._path}': query failed: {error}") from error

    def _batch(self) -> contextlib.AbstractContextManager[None]:
        """Queue events and logs appended inside and write them together (see the module docs); nestable."""
        return self._queue.batch()

    def close(self) -> None:
        """Write queued records and close the connection; later calls raise :class:`StorageError`."""
        with self._conn_lock:
            if self._closed:
                return
            try:
                if self._pid == os.getpid() and self._conn is not None:
                    self._flush()
            finally:
                self._closed = True
                self._queue.close()  # the publisher thread ends
                conn, self._conn = self._conn, None
                _live_storages.discard(self)
                if conn is not None and self._pid == os.getpid():
                    conn.close()

    # -- engine-facing writes -----------------------------------------------------

    def _append_events(self, events: Sequence[StoredEvent]) -> None:
        queued, flush = self._queue.queue_records(events, ())
        if queued:
            if flush:
                self._flush_now()
            return
        rows = [event_to_row(event) for event in events]
        self._write(lambda conn: _insert_rows(conn, _INSERT_EVENT, rows))

    def _append_logs(self, logs: Sequence[StoredLog]) -> None:
        queued, flush = self._queue.queue_records((), logs)
        if queued:
            if flush:
                self._flush_now()
            return
        rows = [log_to_row(log) for log in logs]
        self._write(lambda conn: _insert_rows(conn, _INSERT_LOG, rows))

    def _record_partition_progress(self, changes: Sequence[ProgressChange], events: Sequence[StoredEvent] = ()) -> None:
        queued, flush = self._queue.queue_records(events, (), changes)
        if queued:
            if flush:
                self._flush_now()
            return
        rows = [event_to_row(event) for event in events]

        def operation(conn: sqlite3.Connection) -> None:
            if rows:
                _insert_rows(conn, _INSERT_EVENT, rows)
            self._apply_progress(conn, changes)

        self._write(operation)

    def _apply_progress(self, conn: sqlite3.Connection, changes: Sequence[ProgressChange]) -> None:
        """Apply partition progress changes inside the open transaction (see :mod:`rivers.storage._sqlite_progress`)."""
        from rivers.storage.partition_progress import cancel_pairs, cleared_assets

        status_changes, hold_changes = cancel_pairs(changes)
        ledger = self._progress_ledger
        cleared = cleared_assets(status_changes, hold_changes, ledger.current if ledger is not None else {})
        if cleared is not None and len(cleared) <= 500 and not conn.execute(
            f"SELECT 1 FROM partition_status WHERE asset_key IN ({', '.join('?' * len(cleared))}) "
            "AND ranges != '[]' LIMIT 1", list(cleared)).fetchone():
            return  # short runs that succeeded, of partitions without status: nothing to write
        from rivers.storage._sqlite_progress import apply_progress

        if ledger is None:
            from rivers.storage.partition_progress import HoldsLedger

            ledger = self._progress_ledger = HoldsLedger()
        ledger.stored(apply_progress(conn, status_changes, hold_changes, ledger))

    def _register_assets(self, records: Sequence[AssetRecord]) -> None:
        rows = [asset_to_row(record) for record in records]
        self._write(lambda conn: _insert_rows(conn, _REGISTER_ASSET, rows))

    def _register_topology(self, upstream: Mapping[str, Sequence[str]]) -> None:
        rows = [(node, encode_json(list(parents))) for node, parents in upstream.items()]
        sql = "INSERT OR REPLACE INTO topology (node, upstream) VALUES (?, ?)"
        self._write(lambda conn: _insert_rows(conn, sql, rows))

    def _create_run(self, record: RunRecord) -> None:
        row = run_to_row(record)
        self._write(lambda conn: conn.execute(_CREATE_RUN, row))

    def _start_run(self, record: RunRecord) -> None:
        if not self._queue.queue_run(record):
            self._create_run(record)  # no group commit, closed (raises) or a forked child (reconnects)

    def _update_run(
        self,
        run_id: str,
        *,
        status: str | None = None,
        end_time: int | None = None,
        node_names: Sequence[str] | None = None,
    ) -> None:
        queued = self._queue.update_queued_run(run_id, status, end_time, node_names)
        if queued is not None:  # a queued record is inserted in its final state, with no UPDATE
            if queued:
                self._flush_now()  # no batch open: commit now
            return
        names = None if node_names is None else encode_json(list(node_names))
        row = (status, end_time, names, run_id)
        if self._write(lambda conn: conn.execute(_UPDATE_RUN, row).rowcount) == 0:
            raise StorageError(f"Run '{run_id}' not found")

    def _completed_steps(self, run_id: str) -> set[str]:
        rows = self._read(
            "SELECT DISTINCT asset_key FROM events WHERE run_id = ? AND event_type = ? AND asset_key IS NOT NULL",
            (run_id, STEP_SUCCESS),
        )
        return {row[0] for row in rows}

    # -- primitives ---------------------------------------------------------------

    def _events_for_asset(self, asset_key: str, limit: int) -> list[StoredEvent]:
        rows = self._read(
            f"SELECT {EVENT_COLUMNS} FROM events WHERE asset_key = ? ORDER BY seq DESC LIMIT ?", (asset_key, limit)
        )
        return [event_from_row(row) for row in rows]

    def _latest_materialization(self, asset_key: str, partition: str | None) -> StoredEvent | None:
        if partition is None:
            rows = self._read(
                f"SELECT {EVENT_COLUMNS} FROM events WHERE asset_key = ? AND event_type = ? ORDER BY seq DESC LIMIT 1",
                (asset_key, MATERIALIZATION),
            )
        else:
            rows = self._read(_LATEST_EVENT, (asset_key, partition))
        return event_from_row(rows[0]) if rows else None

    def _materialized_partitions(self, asset_key: str) -> list[str]:
        rows = self._read(
            "SELECT partition FROM latest_materializations WHERE asset_key = ? AND partition != '' "
            "ORDER BY first_event_seq",
            (asset_key,),
        )
        return [row[0] for row in rows]

    def count_materialized_partitions(self, asset_key: str) -> int:
        rows = self._read(
            "SELECT COUNT(*) FROM latest_materializations WHERE asset_key = ? AND partition != ''", (asset_key,)
        )
        return int(rows[0][0])

    def _topology(self) -> dict[str, list[str]]:
        rows = self._read("SELECT node, upstream FROM topology", reads_queued_tables=False)
        return {node: decode_json(upstream) if upstream != "[]" else [] for node, upstream in rows}

    def _query_runs(self, query: RunQuery) -> RunPage:
        from rivers.storage.queries import RunPage, decode_run_cursor  # the read API only

        where: list[str] = []
        parameters: list[Any] = []
        if query.statuses is not None:
            where.append(f"status IN ({', '.join('?' * len(query.statuses))})")
            parameters.extend(query.statuses)
        for condition, value in (
            ("job_name = ?", query.job_name),
            ("launched_kind = ?", query.launched_by),
            ("launched_ref = ?", query.launched_by_ref),
            ("start_time >= ?", query.started_after),
            ("start_time < ?", query.started_before),
        ):
            if value is not None:
                where.append(condition)
                parameters.append(value)
        for key, value in query.tags:
            where.append("seq IN (SELECT run_seq FROM run_tags WHERE key = ? AND value = ?)")
            parameters.extend((key, value))
        if query.cursor is not None:
            where.append("(start_time, seq) < (?, ?)")
            parameters.extend(decode_run_cursor(query.cursor))
        sql = f"SELECT {RUN_COLUMNS}, seq FROM runs"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY start_time DESC, seq DESC LIMIT ?"
        parameters.append(query.limit + 1)
        rows = self._read(sql, parameters, flush=False)
        next_cursor = None
        if len(rows) > query.limit:
            rows = rows[:query.limit]
            next_cursor = f"{rows[-1][_START_TIME]}:{rows[-1][-1]}"
        return RunPage([run_from_row(row) for row in rows], next_cursor)

    def _events_after(
        self, cursor: int, limit: int, run_id: str | None, event_types: Sequence[str] | None
    ) -> list[tuple[int, StoredEvent]]:
        sql = f"SELECT seq, {EVENT_COLUMNS} FROM events WHERE seq > ?"
        parameters: list[Any] = [cursor]
        if run_id is not None:
            sql += " AND run_id = ?"
            parameters.append(run_id)
        if event_types is not None:
            sql += f" AND event_type IN ({', '.join('?' * len(event_types))})"
            parameters.extend(event_types)
        sql += " ORDER BY seq LIMIT ?"
        parameters.append(limit)
        return [(row[0], event_from_row(row[1:])) for row in self._read(sql, parameters)]

    def _catalogue_rows(self, asset_keys: Sequence[str] | None) -> list[CatalogueRow]:
        from rivers.storage.queries import CatalogueRow  # the read API only

        columns = ", ".join("a." + column.strip() for column in ASSET_COLUMNS.split(","))
        events = ", ".join("e." + column.strip() for column in EVENT_COLUMNS.split(","))
        sql = (
            f"SELECT {columns}, a.materialized_partitions, e.seq, {events} FROM asset_records AS a "
            "LEFT JOIN events AS e ON e.seq = a.last_materialization_seq"
        )
        if asset_keys is None:
            rows = self._read(sql + " ORDER BY a.seq")
        else:
            rows = []
            for start in range(0, len(asset_keys), 500):
                chunk = list(asset_keys[start:start + 500])
                rows += self._read(f"{sql} WHERE a.asset_key IN ({', '.join('?' * len(chunk))})", chunk)
            order = {key: index for index, key in enumerate(asset_keys)}
            rows.sort(key=lambda row: order[row[0]])
        width = len(ASSET_COLUMNS.split(","))
        return [
            CatalogueRow(
                asset_from_row(row[:width]),
                None if row[width + 1] is None else event_from_row(row[width + 2:]),
                row[width],
            )
            for row in rows
        ]

    def _kv_put(self, key: str, value: bytes) -> None:
        self._write(lambda conn: conn.execute(_PUT_KV, (key, value)))

    def _kv_put_many(self, items: Sequence[tuple[str, bytes]]) -> None:
        self._write(lambda conn: conn.executemany(_PUT_KV, items))

    def _kv_update(self, key: str, update: Callable[[bytes | None], bytes]) -> None:
        def operation(conn: sqlite3.Connection) -> None:  # BEGIN IMMEDIATE: no other process writes in between
            row = conn.execute("SELECT value FROM kv WHERE key = ?", (key,)).fetchone()
            value = update(None if row is None else bytes(row[0]))
            conn.execute(_PUT_KV, (key, value))

        self._write(operation)

    def _insert_dynamic_partitions(self, name: str, keys: Sequence[str]) -> None:
        rows = [(name, key) for key in keys]

        def operation(conn: sqlite3.Connection) -> None:
            conn.execute("INSERT OR IGNORE INTO dynamic_partition_namespaces (name) VALUES (?)", (name,))
            conn.executemany("INSERT OR IGNORE INTO dynamic_partitions (name, key) VALUES (?, ?)", rows)

        self._write(operation)

    def _dynamic_partitions(self, name: str) -> list[str] | None:
        sql = "SELECT key FROM dynamic_partitions WHERE name = ? ORDER BY seq"
        keys = [row[0] for row in self._read(sql, (name,), reads_queued_tables=False)]
        if keys or self._read(
            "SELECT 1 FROM dynamic_partition_namespaces WHERE name = ?", (name,), reads_queued_tables=False
        ):
            return keys
        return None

    def has_dynamic_partition(self, name: str, key: str) -> bool:
        sql = "SELECT 1 FROM dynamic_partitions WHERE name = ? AND key = ?"
        return bool(self._read(sql, (name, key), reads_queued_tables=False))

    def _store_run_outcome(
        self,
        run_id: str,
        run_status: str,
        completed_steps: int,
        total_steps: int,
        message: str | None,
        end_time: int,
    ) -> None:
        def operation(conn: sqlite3.Connection) -> None:
            conn.execute(
                "INSERT OR REPLACE INTO run_progress (run_id, completed_steps, total_steps, message) "
                "VALUES (?, ?, ?, ?)",
                (run_id, completed_steps, total_steps, message),
            )
            conn.execute(
                "UPDATE runs SET status = ?, end_time = COALESCE(end_time, ?) WHERE run_id = ?",
                (run_status, end_time, run_id),
            )

        self._write(operation)

    def _stored_progress(self, run_id: str) -> tuple[int, int] | None:
        sql = "SELECT completed_steps, total_steps FROM run_progress WHERE run_id = ?"
        rows = self._read(sql, (run_id,), reads_queued_tables=False)
        return (rows[0][0], rows[0][1]) if rows else None

    # -- partition status, backfills, automation, leases (rivers.storage._sqlite_control) --

    def _control_read(self, operation: Callable[[sqlite3.Connection], _T]) -> _T:
        """Run a read of the control tables (which the write-behind queue never holds)."""
        with self._conn_lock:
            conn = self._conn or self._connect()
            try:
                return self._retry_while_locked(lambda: operation(conn))
            except sqlite3.Error as error:
                raise StorageError(f"Embedded storage at '{self._path}': query failed: {error}") from error

    def _partition_status(self, asset_keys: Sequence[str]) -> dict[str, PartitionStatusRanges]:
        # the queues of this process may hold partition progress changes: they are read too
        if anything_held():
            publish_others(self._queue)
        if self._queue.queued_progress:
            self._flush_now()
        return self._control_read(lambda conn: _control().partition_status(conn, asset_keys))

    def _update_partition_status(
        self, asset_key: str, update: Callable[[PartitionStatusRanges], PartitionStatusRanges]
    ) -> None:
        self._write(lambda conn: _control().update_partition_status(conn, asset_key, update))

    def _put_backfill(self, backfill: StoredBackfill) -> None:
        self._write(lambda conn: _control().put_backfill(conn, backfill))

    def _get_backfill(self, backfill_id: str) -> StoredBackfill | None:
        return self._control_read(lambda conn: _control().get_backfill(conn, backfill_id))

    def _backfills(self, status: str | None, limit: int | None) -> list[StoredBackfill]:
        return self._control_read(lambda conn: _control().backfills(conn, status, limit))

    def _request_backfill_cancel(self, backfill_id: str) -> bool:
        return self._write(lambda conn: _control().request_backfill_cancel(conn, backfill_id))

    def _put_tick(self, tick: StoredTick) -> None:
        self._write(lambda conn: _control().put_tick(conn, tick))

    def _ticks(self, automation_name: str, limit: int, before: int | None) -> list[StoredTick]:
        return self._control_read(lambda conn: _control().ticks(conn, automation_name, limit, before))

    def _prune_ticks(self, automation_name: str, keep: int) -> int:
        return self._write(lambda conn: _control().prune_ticks(conn, automation_name, keep))

    def _set_automation_cursor(self, automation_name: str, cursor: str | None) -> None:
        self._write(lambda conn: _control().set_cursor(conn, automation_name, cursor))

    def _automation_cursor(self, automation_name: str) -> str | None:
        return self._control_read(lambda conn: _control().get_cursor(conn, automation_name))

    def _acquire_lease(self, name: str, owner: str, duration_s: float) -> Lease | None:
        return self._write(lambda conn: _control().acquire_lease(conn, name, owner, duration_s))

    def _release_lease(self, name: str, owner: str) -> bool:
        return self._write(lambda conn: _control().release_lease(conn, name, owner))

    def _get_lease(self, name: str) -> Lease | None:
        return self._control_read(lambda conn: _control().get_lease(conn, name))

    # -- concurrency pools (rivers.storage._sqlite_pools) ---------------------------

    def _pool_write(self, operation: Callable[[sqlite3.Connection], _T]) -> _T:
        """Run a pool operation in one ``BEGIN IMMEDIATE`` transaction, creating the pool tables once."""
        from rivers.storage import _sqlite_pools

        def with_tables(conn: sqlite3.Connection) -> _T:
            if getattr(self, "_pool_tables_conn", None) is not conn:
                _sqlite_pools.ensure_tables(conn)
                self._pool_tables_conn = conn
            return operation(conn)

        return self._write(with_tables)

    def _set_pool_limits(self, limits: Sequence[tuple[str, int, float | None]], *, only_missing: bool = False) -> None:
        from rivers.storage import _sqlite_pools

        self._pool_write(lambda conn: _sqlite_pools.set_limits(conn, limits, only_missing))

    def _pool_limits(self) -> list[Any]:
        from rivers.storage import _sqlite_pools

        return self._pool_write(_sqlite_pools.limits)

    def _pool_infos(self, pool_key: str | None) -> list[Any]:
        from rivers.storage import _sqlite_pools

        return self._pool_write(lambda conn: _sqlite_pools.infos(conn, pool_key))

    def _pool_holders(self, pool_key: str) -> list[Any]:
        from rivers.storage import _sqlite_pools

        return self._pool_write(lambda conn: _sqlite_pools.holders(conn, pool_key))

    def _claim_concurrency_slots(self, run_id: str, step_key: str, pools: Sequence[tuple[str, int]]) -> Any:
        from rivers.storage import _sqlite_pools

        return self._pool_write(lambda conn: _sqlite_pools.claim(conn, run_id, step_key, pools))

    def _free_concurrency_slots(self, run_id: str, step_key: str) -> None:
        from rivers.storage import _sqlite_pools

        self._pool_write(lambda conn: _sqlite_pools.free_step(conn, run_id, step_key))

    def _free_concurrency_slots_for_run(self, run_id: str) -> None:
        from rivers.storage import _sqlite_pools

        self._pool_write(lambda conn: _sqlite_pools.free_run(conn, run_id))

    def _renew_slot_lease(self, run_id: str, step_key: str) -> bool:
        from rivers.storage import _sqlite_pools

        return self._pool_write(lambda conn: _sqlite_pools.renew(conn, run_id, step_key))

    def _free_expired_leases(self) -> int:
        from rivers.storage import _sqlite_pools

        return self._pool_write(_sqlite_pools.expire)

    # -- public queries -------------------------------------------------------------

    def get_events_for_run(self, run_id: str) -> list[StoredEvent]:
        rows = self._read(f"SELECT {EVENT_COLUMNS} FROM events WHERE run_id = ? ORDER BY seq", (run_id,))
        return [event_from_row(row) for row in rows]

    def get_run_logs(self, run_id: str) -> list[StoredLog]:
        rows = self._read(f"SELECT {LOG_COLUMNS} FROM logs WHERE run_id = ? ORDER BY seq", (run_id,))
        return [log_from_row(row) for row in rows]

    def get_asset_record(self, asset_key: str) -> AssetRecord | None:
        rows = self._read(f"SELECT {ASSET_COLUMNS} FROM asset_records WHERE asset_key = ?", (asset_key,))
        return asset_from_row(rows[0]) if rows else None

    def get_asset_records(self) -> list[AssetRecord]:
        return [asset_from_row(row) for row in self._read(f"SELECT {ASSET_COLUMNS} FROM asset_records ORDER BY seq")]

    def get_assets_by_group(self, group: str) -> list[AssetRecord]:
        rows = self._read(f"SELECT {ASSET_COLUMNS} FROM asset_records WHERE asset_group = ? ORDER BY seq", (group,))
        return [asset_from_row(row) for row in rows]

    def get_run(self, run_id: str) -> RunRecord | None:
        rows = self._read(f"SELECT {RUN_COLUMNS} FROM runs WHERE run_id = ?", (run_id,), flush=False)
        return run_from_row(rows[0]) if rows else None

    # -- run monitoring (rivers.storage._sqlite_monitor) ------------------------------

    def _put_run_monitor(self, record: RunMonitor) -> None:
        from rivers.storage import _sqlite_monitor

        self._write(lambda conn: _sqlite_monitor.put(conn, record))

    def _run_monitors(self, run_ids: Sequence[str]) -> dict[str, RunMonitor]:
        from rivers.storage import _sqlite_monitor

        found = {}
        for sql, parameters in _sqlite_monitor.select_queries(run_ids):
            for row in self._read(sql, parameters, reads_queued_tables=False):
                found[row[0]] = _sqlite_monitor.from_row(row)
        return found

    def _heartbeat_runs(self, run_ids: Sequence[str], timestamp: int) -> None:
        from rivers.storage import _sqlite_monitor

        if run_ids:
            rows = [(timestamp, run_id) for run_id in run_ids]
            self._write(lambda conn: conn.executemany(_sqlite_monitor.HEARTBEAT, rows))

    def _claim_queued_runs(self, limit: int, owner: RunMonitor, run_ids: Sequence[str] | None) -> list[RunRecord]:
        from rivers.storage import _sqlite_monitor

        return self._write(lambda conn: _sqlite_monitor.claim_queued_runs(conn, limit, owner, run_ids))

    def _fail_dead_run(self, run_id: str, judged: RunMonitor | None, end_time: int) -> bool:
        from rivers.storage import _sqlite_monitor

        return self._write(lambda conn: _sqlite_monitor.fail_dead_run(conn, run_id, judged, end_time))

    def kv_get(self, key: str) -> bytes | None:
        rows = self._read("SELECT value FROM kv WHERE key = ?", (key,), reads_queued_tables=False)
        return bytes(rows[0][0]) if rows else None

    def delete_dynamic_partition(self, name: str, key: str) -> None:
        self._write(lambda conn: conn.execute("DELETE FROM dynamic_partitions WHERE name = ? AND key = ?", (name, key)))

    def request_cancellation(self, run_id: str) -> None:
        self._write(lambda conn: conn.execute("INSERT OR IGNORE INTO cancellations (run_id) VALUES (?)", (run_id,)))

    def is_cancelled(self, run_id: str) -> bool:
        return bool(self._read("SELECT 1 FROM cancellations WHERE run_id = ?", (run_id,), reads_queued_tables=False))

