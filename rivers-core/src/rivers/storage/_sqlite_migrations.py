"""Versions of the embedded SQLite schema and the migrations between them.

The version is stamped into ``PRAGMA user_version``. A new file is created
at version 2 directly (version 1's DDL with version 2's columns, then
version 2's objects: no table is altered) plus any later migration, in one
transaction; a test checks that it is alike a migrated version 1 file.

Opening a file of an older version applies the pending migrations when they
are all ``automatic`` (additive changes); a pending migration that is not
(a breaking change: rewriting large tables, dropping data) raises
:class:`~rivers.exceptions.SchemaMigrationNeededError` telling the user to
run ``rivers storage migrate``, which applies it explicitly. A file of a
newer version than this rivers-core knows raises an error naming both.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Sequence
from typing import Final

from rivers._record import Record
from rivers.exceptions import SchemaMigrationNeededError
from rivers.storage._sqlite_schema import V1_DDL

__all__ = ["MIGRATIONS", "SCHEMA_VERSION", "Migration", "ensure_schema", "pending_migrations", "schema_version"]


class Migration(Record):
    """One step from schema ``version - 1`` to ``version`` (a record: a ``NamedTuple`` class costs 0.2 ms to build)."""

    version: int
    description: str
    #: applied when a store is opened; ``False``: only by ``rivers storage migrate``
    automatic: bool
    apply: Callable[[sqlite3.Connection], None]


_MATERIALIZATION_TRIGGER_V2: Final = """CREATE TRIGGER events_materialization AFTER INSERT ON events
    WHEN NEW.event_type = 'Materialization' AND NEW.asset_key IS NOT NULL
    BEGIN
        INSERT INTO asset_records (asset_key, last_event_id, last_run_id, last_timestamp, last_data_version,
                                   last_materialization_code_version, last_input_data_versions,
                                   last_materialization_seq)
        VALUES (NEW.asset_key, NEW.id, NEW.run_id, NEW.timestamp,
                json_extract(NULLIF(NEW.body, ''), '$[2]'),
                json_extract(NULLIF(NEW.body, ''), '$[3]'),
                COALESCE(json_extract(NULLIF(NEW.body, ''), '$[4]'), '[]'),
                NEW.seq)
        ON CONFLICT (asset_key) DO UPDATE SET
            last_event_id = excluded.last_event_id,
            last_run_id = excluded.last_run_id,
            last_timestamp = excluded.last_timestamp,
            last_data_version = excluded.last_data_version,
            last_materialization_code_version = excluded.last_materialization_code_version,
            last_input_data_versions = excluded.last_input_data_versions,
            last_materialization_seq = excluded.last_materialization_seq;
        INSERT INTO latest_materializations (asset_key, partition, event_seq, first_event_seq)
        VALUES (NEW.asset_key, COALESCE(json_extract(NULLIF(NEW.body, ''), '$[0]'), ''), NEW.seq, NEW.seq)
        ON CONFLICT (asset_key, partition) DO UPDATE SET event_seq = excluded.event_seq;
    END"""

#: Version 2 changes to tables of version 1 (a migrated file only; a new file is created with them).
_V2_ALTER: Final = (
    # the catalogue reads each asset's latest materialization and partition count from its record
    "ALTER TABLE asset_records ADD COLUMN last_materialization_seq INTEGER",
    "ALTER TABLE asset_records ADD COLUMN materialized_partitions INTEGER NOT NULL DEFAULT 0",
    """UPDATE asset_records SET
        last_materialization_seq = (SELECT MAX(seq) FROM events
                                    WHERE events.asset_key = asset_records.asset_key
                                    AND events.event_type = 'Materialization'),
        materialized_partitions = (SELECT COUNT(*) FROM latest_materializations AS l
                                   WHERE l.asset_key = asset_records.asset_key AND l.partition != '')""",
    "DROP TRIGGER IF EXISTS events_materialization",
)

#: The columns version 2 adds to ``asset_records`` (the same, in the same order, in a new file).
_V2_ASSET_COLUMNS: Final = "last_materialization_seq INTEGER, materialized_partitions INTEGER NOT NULL DEFAULT 0"

#: Version 2 objects (a migrated file and a new one).
_V2_DDL: Final = (
    # the asset record first, so the partition counter below finds it
    _MATERIALIZATION_TRIGGER_V2,
    """CREATE TRIGGER latest_materializations_count AFTER INSERT ON latest_materializations
    WHEN NEW.partition != ''
    BEGIN
        UPDATE asset_records SET materialized_partitions = materialized_partitions + 1
        WHERE asset_key = NEW.asset_key;
    END""",
    # run filters of the read API
    "CREATE INDEX runs_by_job ON runs (job_name, start_time, seq)",
    "CREATE INDEX runs_by_launcher ON runs (launched_kind, launched_ref, start_time, seq)",
    # one row per tag of a run; rows of a replaced run keep its old seq and match nothing
    "CREATE TABLE run_tags (run_seq INTEGER NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL)",
    "CREATE INDEX run_tags_by_tag ON run_tags (key, value, run_seq)",
    """CREATE TRIGGER runs_tags AFTER INSERT ON runs WHEN NEW.tags != '[]'
    BEGIN
        INSERT INTO run_tags (run_seq, key, value)
        SELECT NEW.seq, json_extract(value, '$[0]'), json_extract(value, '$[1]') FROM json_each(NEW.tags);
    END""",
    """CREATE TABLE partition_status (
        asset_key TEXT PRIMARY KEY,
        ranges TEXT NOT NULL,
        materialized INTEGER NOT NULL,
        failed INTEGER NOT NULL,
        in_progress INTEGER NOT NULL) WITHOUT ROWID""",
    # ``seq`` keeps creation order
    """CREATE TABLE backfills (
        seq INTEGER PRIMARY KEY,
        backfill_id TEXT NOT NULL UNIQUE,
        status TEXT NOT NULL,
        created INTEGER NOT NULL,
        updated INTEGER NOT NULL,
        data TEXT NOT NULL,
        cancel_requested INTEGER NOT NULL DEFAULT 0)""",
    "CREATE INDEX backfills_by_status ON backfills (status, seq)",
    """CREATE TABLE ticks (
        seq INTEGER PRIMARY KEY,
        id TEXT NOT NULL UNIQUE,
        automation_name TEXT NOT NULL,
        timestamp INTEGER NOT NULL,
        body TEXT NOT NULL)""",
    "CREATE INDEX ticks_by_automation ON ticks (automation_name, timestamp)",
    "CREATE TABLE automation_cursors (name TEXT PRIMARY KEY, cursor TEXT NOT NULL) WITHOUT ROWID",
    """CREATE TABLE leases (
        name TEXT PRIMARY KEY,
        owner TEXT NOT NULL,
        acquired_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL) WITHOUT ROWID""",
)

#: Where version 1 kept backfills (JSON in the key-value area).
_V1_BACKFILL_PREFIX: Final = "rivers/backfills/"
_V1_BACKFILL_INDEX: Final = "rivers/backfills"


#: Tags of the runs a version 1 file holds.
_V2_RUN_TAGS: Final = """INSERT INTO run_tags (run_seq, key, value)
    SELECT runs.seq, json_extract(tag.value, '$[0]'), json_extract(tag.value, '$[1]')
    FROM runs, json_each(runs.tags) AS tag WHERE runs.tags != '[]'"""


def _to_v2(conn: sqlite3.Connection) -> None:
    """Version 2: read-API indexes, run tags, catalogue counters, partition status, backfills, ticks, leases."""
    for statement in (*_V2_ALTER, *_V2_DDL, _V2_RUN_TAGS):
        conn.execute(statement)
    _move_v1_backfills(conn)


def _create_v2(conn: sqlite3.Connection) -> None:
    """The schema of version 2 in a new file: version 1's tables with version 2's columns, then version 2's objects.

    The same tables, columns (in the same order), indexes and triggers as a
    version 1 file after :func:`_to_v2`, without altering tables or moving
    data (a new file's first open stays cheap).
    """
    asset_table = next(statement for statement in V1_DDL if "TABLE IF NOT EXISTS asset_records" in statement)
    for statement in V1_DDL:
        if statement is asset_table:
            statement = statement[: statement.rindex(")")] + f", {_V2_ASSET_COLUMNS})"
        elif "TRIGGER IF NOT EXISTS events_materialization" in statement:
            continue  # replaced by version 2's
        conn.execute(statement)
    for statement in _V2_DDL:
        conn.execute(statement)


#: The schema version a new file is created at directly (later versions are migrations applied on top).
_CREATED_VERSION: Final = 2


def _move_v1_backfills(conn: sqlite3.Connection) -> None:
    """Turn the backfills version 1 kept as JSON in kv into rows of ``backfills`` (oldest first)."""
    rows = dict(conn.execute(
        "SELECT key, value FROM kv WHERE key = ? OR substr(key, 1, ?) = ?",
        (_V1_BACKFILL_INDEX, len(_V1_BACKFILL_PREFIX), _V1_BACKFILL_PREFIX),
    ).fetchall())
    index = rows.get(_V1_BACKFILL_INDEX)
    ids: list[str] = list(json.loads(bytes(index))) if index else []
    ids += sorted(
        key[len(_V1_BACKFILL_PREFIX):] for key in rows
        if key.startswith(_V1_BACKFILL_PREFIX) and not key.endswith("/cancel")
        and key[len(_V1_BACKFILL_PREFIX):] not in ids
    )
    for backfill_id in ids:
        data = rows.get(_V1_BACKFILL_PREFIX + backfill_id)
        if data is None:
            continue
        fields = json.loads(bytes(data))
        conn.execute(
            "INSERT OR IGNORE INTO backfills (backfill_id, status, created, updated, data, cancel_requested) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (
                backfill_id,
                fields.get("status", "requested"),
                int(fields.get("created", 0)),
                int(fields.get("updated", 0)),
                bytes(data).decode("utf-8"),
                int(_V1_BACKFILL_PREFIX + backfill_id + "/cancel" in rows),
            ),
        )
    conn.executemany("DELETE FROM kv WHERE key = ?", [(key,) for key in rows])


#: Version 3: the run monitor table (``rivers.storage._sqlite_monitor``). ``IF NOT EXISTS``: version 2
#: files of an earlier rivers-core created it on first write.
_RUN_MONITOR_DDL: Final = """CREATE TABLE IF NOT EXISTS run_monitor (
    run_id TEXT PRIMARY KEY,
    host TEXT,
    pid INTEGER,
    process_start INTEGER,
    heartbeat INTEGER,
    attempt_start INTEGER,
    end_reason TEXT,
    attempts TEXT NOT NULL DEFAULT '[]') WITHOUT ROWID"""


def _to_v3(conn: sqlite3.Connection) -> None:
    """Version 3: the run monitor table (owner, heartbeat, end reason and attempts of each monitored run)."""
    conn.execute(_RUN_MONITOR_DDL)


#: Every migration, oldest first; the last one's version is the current schema.
MIGRATIONS: tuple[Migration, ...] = (
    Migration(2, "read-API indexes, run tags, catalogue counters, partition status, backfill/tick/lease tables",
              True, _to_v2),
    Migration(3, "run monitor table (owners and heartbeats of runs)", True, _to_v3),
)

#: The schema version this rivers-core writes (stamped into ``PRAGMA user_version``).
SCHEMA_VERSION: Final = MIGRATIONS[-1].version


def current_version() -> int:
    """The schema version this rivers-core writes (follows :data:`MIGRATIONS`, also when tests extend it)."""
    return MIGRATIONS[-1].version if MIGRATIONS else 1


def schema_version(conn: sqlite3.Connection) -> int:
    """The file's stamped schema version (0: an empty file)."""
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def pending_migrations(version: int) -> list[Migration]:
    """The migrations a file of schema ``version`` still needs."""
    return [migration for migration in MIGRATIONS if migration.version > version]


def _rivers_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("rivers-core")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "unknown"


def ensure_schema(conn: sqlite3.Connection, path: str, *, explicit: bool = False) -> list[Migration]:
    """Create or migrate the schema; return the migrations applied (idempotent, safe against concurrent openers).

    ``explicit`` (``rivers storage migrate``) also applies migrations that
    are not automatic. ``conn`` must be in autocommit mode.

    :raises SchemaMigrationNeededError: the file is newer than this
        rivers-core, or needs a migration that is not automatic.
    """
    target = current_version()
    version = schema_version(conn)
    if version == target:
        return []
    _check_version(version, target, path, explicit)
    conn.execute("BEGIN IMMEDIATE")
    try:
        version = schema_version(conn)  # another process may have migrated meanwhile
        _check_version(version, target, path, explicit)
        applied = _apply(conn, version)
        conn.execute(f"PRAGMA user_version = {target}")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
    return applied


def _check_version(version: int, target: int, path: str, explicit: bool) -> None:
    if version > target:
        raise SchemaMigrationNeededError(
            f"Embedded storage at '{path}' has schema version {version}, newer than this rivers-core "
            f"{_rivers_version()} (which reads schema versions up to {target}); it was written by a newer "
            "rivers-core: upgrade rivers-core to open it"
        )
    manual = [migration for migration in pending_migrations(version) if not migration.automatic]
    if version and manual and not explicit:
        steps = "; ".join(f"{migration.version}: {migration.description}" for migration in manual)
        raise SchemaMigrationNeededError(
            f"Embedded storage at '{path}' has schema version {version}; this rivers-core "
            f"({_rivers_version()}) needs version {target}, and the migration ({steps}) is not applied "
            f"automatically. Back the file up, then run `rivers storage migrate --storage sqlite:///{path}` "
            "(or call Storage.migrate_embedded(path))"
        )


def _apply(conn: sqlite3.Connection, version: int) -> list[Migration]:
    """Create a new file's schema (``version`` 0) or run the pending migrations, then the later ones."""
    if version == 0:
        _create_v2(conn)
        version = _CREATED_VERSION
    applied = pending_migrations(version)
    for migration in applied:
        migration.apply(conn)
    return applied


def describe(migrations: Sequence[Migration]) -> list[str]:
    """One line per migration, for the CLI."""
    return [f"{migration.version}: {migration.description}" for migration in migrations]
