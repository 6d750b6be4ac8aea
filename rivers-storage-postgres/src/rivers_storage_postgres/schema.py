"""The tables, their indexes and the versioned migrations of the PostgreSQL store.

Every table lives in the storage's schema (``public`` unless ``schema=`` is
set) and every statement names it, so no connection depends on a
``search_path`` (pgBouncer in transaction mode keeps no session state).
``rivers_schema_version`` holds one row: the version of the schema. Opening
a store:

* without tables: creates the newest schema;
* with an older version: applies the migrations in order when they are all
  additive (:data:`MIGRATIONS`), else raises
  :class:`~rivers.exceptions.SchemaMigrationNeededError` telling the user to
  run ``rivers storage migrate`` (:func:`migrate` with ``allow_breaking``);
* with a newer version: raises :class:`SchemaMigrationNeededError` naming
  both versions.

Concurrent openers serialise on a transaction-level advisory lock, so two
processes never both create or migrate the tables.

Indexes, one per read query:

* ``runs (start_time DESC, seq DESC)``: latest runs, run pages (``query_runs``);
* ``runs (status, ...)``, ``runs (job_name, ...)``, ``runs (launched_kind, launched_ref, ...)``:
  the same, filtered by status, job or launcher; ``runs USING gin (tags)``: runs carrying given tags;
* ``events`` primary key ``seq``: events after a global cursor (``get_events_after``);
* ``events (run_id, seq)``: a run's events, its completed steps, events after a cursor of one run;
* ``events (asset_key, seq)``: an asset's latest events;
* ``latest_materializations`` primary key ``(asset_key, partition)``: the latest materialisation of a
  partition, an asset's materialised partitions; ``(asset_key, updated_seq DESC)``: of any partition
  (also the catalogue's latest materialisation per asset);
* ``logs (run_id, seq)``: a run's captured logs;
* ``ticks (automation_name, timestamp DESC, seq DESC)``: an automation's latest ticks;
* ``backfills (status, seq)``: backfills in one status;
* ``run_monitor`` primary key ``run_id``: the owners of the runs a page or a reconcile looks at.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

import psycopg
import psycopg.errors

from rivers.exceptions import SchemaMigrationNeededError

__all__ = ["MIGRATIONS", "SCHEMA_VERSION", "Migration", "ensure_schema", "migrate", "schema_version"]

#: Advisory lock (two-int form) taken by schema creation and migrations: (rivers, schema).
LOCK_CLASS: Final = 0x52495645  # "RIVE"
_LOCK_SCHEMA: Final = 1


class Migration:
    """The statements that bring a schema from ``version - 1`` to ``version``.

    ``breaking`` migrations rewrite data and are never applied on open, only
    by ``rivers storage migrate``.
    """

    def __init__(self, version: int, statements: Sequence[str], *, breaking: bool = False) -> None:
        self.version = version
        self.statements = tuple(statements)
        self.breaking = breaking


_V1: Final = (
    "CREATE SCHEMA IF NOT EXISTS {s}",
    """CREATE TABLE {s}.runs (
        seq bigserial PRIMARY KEY,
        run_id text NOT NULL UNIQUE,
        job_name text,
        status text NOT NULL,
        start_time bigint NOT NULL,
        end_time bigint,
        tags jsonb NOT NULL DEFAULT '[]',
        node_names jsonb NOT NULL DEFAULT '[]',
        priority integer NOT NULL DEFAULT 0,
        partition_key text,
        block_reason text,
        launched_kind text NOT NULL,
        launched_ref text)""",
    "CREATE INDEX runs_by_start ON {s}.runs (start_time DESC, seq DESC)",
    "CREATE INDEX runs_by_status ON {s}.runs (status, start_time DESC, seq DESC)",
    "CREATE INDEX runs_by_job ON {s}.runs (job_name, start_time DESC, seq DESC)",
    "CREATE INDEX runs_by_launcher ON {s}.runs (launched_kind, launched_ref, start_time DESC, seq DESC)",
    "CREATE INDEX runs_by_tags ON {s}.runs USING gin (tags jsonb_path_ops)",
    # ``body``: the list fields as JSON [metadata, input_data_versions], '' when both are empty
    """CREATE TABLE {s}.events (
        seq bigserial PRIMARY KEY,
        id text NOT NULL,
        event_type text NOT NULL,
        asset_key text,
        run_id text NOT NULL,
        timestamp bigint NOT NULL,
        partition text,
        data_version text,
        code_version text,
        body text NOT NULL)""",
    "CREATE INDEX events_by_run ON {s}.events (run_id, seq)",
    "CREATE INDEX events_by_asset ON {s}.events (asset_key, seq)",
    """CREATE TABLE {s}.logs (
        seq bigserial PRIMARY KEY,
        id text NOT NULL,
        run_id text NOT NULL,
        step_key text NOT NULL,
        timestamp bigint NOT NULL,
        stdout text,
        stderr text,
        logs text)""",
    "CREATE INDEX logs_by_run ON {s}.logs (run_id, seq)",
    """CREATE TABLE {s}.asset_records (
        seq bigserial PRIMARY KEY,
        asset_key text NOT NULL UNIQUE,
        tags jsonb NOT NULL DEFAULT '[]',
        kinds jsonb NOT NULL DEFAULT '[]',
        asset_group text,
        code_version text,
        last_event_id text,
        last_run_id text,
        last_timestamp bigint,
        last_data_version text,
        last_materialization_code_version text,
        last_input_data_versions jsonb NOT NULL DEFAULT '[]',
        pool jsonb NOT NULL DEFAULT '[]',
        materialized_partitions integer NOT NULL DEFAULT 0)""",
    "CREATE INDEX asset_records_by_group ON {s}.asset_records (asset_group)",
    # the latest Materialization per (asset, partition) ('' = unpartitioned), a copy of its event:
    # reads never touch the event log. ``seq``: first-materialised order; ``updated_seq``: the event's seq
    """CREATE TABLE {s}.latest_materializations (
        asset_key text NOT NULL,
        partition text NOT NULL,
        seq bigserial NOT NULL,
        updated_seq bigint NOT NULL,
        id text NOT NULL,
        run_id text NOT NULL,
        timestamp bigint NOT NULL,
        data_version text,
        code_version text,
        body text NOT NULL,
        PRIMARY KEY (asset_key, partition))""",
    "CREATE INDEX latest_by_update ON {s}.latest_materializations (asset_key, updated_seq DESC)",
    "CREATE TABLE {s}.topology (node text PRIMARY KEY, upstream jsonb NOT NULL)",
    "CREATE TABLE {s}.kv (key text PRIMARY KEY, value bytea NOT NULL)",
    "CREATE TABLE {s}.dynamic_partition_namespaces (name text PRIMARY KEY)",
    """CREATE TABLE {s}.dynamic_partitions (
        seq bigserial PRIMARY KEY,
        name text NOT NULL,
        key text NOT NULL,
        UNIQUE (name, key))""",
    "CREATE TABLE {s}.cancellations (run_id text PRIMARY KEY)",
    """CREATE TABLE {s}.run_progress (
        run_id text PRIMARY KEY,
        completed_steps integer NOT NULL,
        total_steps integer NOT NULL,
        message text)""",
    """CREATE TABLE {s}.pool_limits (
        seq bigserial PRIMARY KEY,
        pool_key text NOT NULL UNIQUE,
        slot_limit integer NOT NULL,
        lease_seconds double precision NOT NULL)""",
    """CREATE TABLE {s}.pool_claims (
        pool_key text NOT NULL,
        run_id text NOT NULL,
        step_key text NOT NULL,
        slots integer NOT NULL,
        claimed_at bigint NOT NULL,
        expires_at bigint NOT NULL,
        PRIMARY KEY (pool_key, run_id, step_key))""",
    "CREATE INDEX pool_claims_by_step ON {s}.pool_claims (run_id, step_key)",
    """CREATE TABLE {s}.pool_pending (
        pool_key text NOT NULL,
        run_id text NOT NULL,
        step_key text NOT NULL,
        slots integer NOT NULL,
        since bigint NOT NULL,
        expires_at bigint NOT NULL,
        PRIMARY KEY (pool_key, run_id, step_key))""",
    # partition statuses as ranges of positions (rivers.storage.partition_status), with their counts
    """CREATE TABLE {s}.partition_status (
        asset_key text PRIMARY KEY,
        ranges text NOT NULL,
        materialized integer NOT NULL,
        failed integer NOT NULL,
        in_progress integer NOT NULL)""",
    """CREATE TABLE {s}.backfills (
        seq bigserial PRIMARY KEY,
        backfill_id text NOT NULL UNIQUE,
        status text NOT NULL,
        created bigint NOT NULL,
        updated bigint NOT NULL,
        data text NOT NULL,
        cancel_requested boolean NOT NULL DEFAULT false)""",
    "CREATE INDEX backfills_by_status ON {s}.backfills (status, seq)",
    """CREATE TABLE {s}.ticks (
        seq bigserial PRIMARY KEY,
        id text NOT NULL UNIQUE,
        automation_name text NOT NULL,
        timestamp bigint NOT NULL,
        body jsonb NOT NULL)""",
    "CREATE INDEX ticks_by_automation ON {s}.ticks (automation_name, timestamp DESC, seq DESC)",
    "CREATE TABLE {s}.automation_cursors (name text PRIMARY KEY, cursor text NOT NULL)",
    # leases for leader election; times from the server's clock, so contenders on several machines agree
    """CREATE TABLE {s}.leases (
        name text PRIMARY KEY,
        owner text NOT NULL,
        acquired_at bigint NOT NULL,
        expires_at bigint NOT NULL)""",
)

#: Version 2: run monitoring (rivers_storage_postgres.monitoring): the owner, heartbeat, end reason and
#: earlier attempts of each monitored run. Additive: applied on open.
_V2: Final = (
    """CREATE TABLE {s}.run_monitor (
        run_id text PRIMARY KEY,
        host text,
        pid integer,
        process_start bigint,
        heartbeat bigint,
        attempt_start bigint,
        end_reason text,
        attempts jsonb NOT NULL DEFAULT '[]')""",
)

#: Every migration, oldest first; ``MIGRATIONS[i].version == i + 1``.
MIGRATIONS: Final = (Migration(1, _V1), Migration(2, _V2))
#: The schema this version of rivers-storage-postgres reads and writes.
SCHEMA_VERSION: Final = MIGRATIONS[-1].version

_VERSION_TABLE: Final = "{s}.rivers_schema_version"


def schema_version(conn: psycopg.Connection, schema: str) -> int:
    """The stored schema version (0: no rivers tables in ``schema``)."""
    exists = conn.execute("SELECT to_regclass(%s) IS NOT NULL", (f"{schema}.rivers_schema_version",)).fetchone()
    if not exists or not exists[0]:
        return 0
    row = conn.execute(f"SELECT version FROM {_VERSION_TABLE.format(s=schema)}").fetchone()
    return int(row[0]) if row else 0


def _check_newer(version: int, target: int, where: str) -> None:
    if version > target:
        raise SchemaMigrationNeededError(
            f"PostgreSQL storage {where} has schema version {version}, newer than this rivers-storage-postgres "
            f"(schema {target}); upgrade rivers-storage-postgres to open it"
        )


def ensure_schema(
    conn: psycopg.Connection, schema: str, where: str, migrations: Sequence[Migration] = MIGRATIONS
) -> None:
    """Create or migrate the tables in ``schema`` (``conn`` in autocommit mode); see the module docstring."""
    version = schema_version(conn, schema)
    if version == migrations[-1].version:
        return
    _check_newer(version, migrations[-1].version, where)
    migrate(conn, schema, where, allow_breaking=False, migrations=migrations)


def migrate(
    conn: psycopg.Connection,
    schema: str,
    where: str,
    *,
    allow_breaking: bool = True,
    migrations: Sequence[Migration] = MIGRATIONS,
) -> list[int]:
    """Apply the missing migrations in one transaction; return the versions applied.

    Without ``allow_breaking`` a breaking migration raises
    :class:`SchemaMigrationNeededError` instead (nothing is changed).
    """
    for _ in range(5):
        try:
            return _migrate_once(conn, schema, where, allow_breaking, migrations)
        except (psycopg.errors.DuplicateTable, psycopg.errors.DuplicateObject, psycopg.errors.UniqueViolation):
            # another process created the tables while this transaction waited for the lock, and its
            # catalog cache did not show them yet: a new transaction sees them
            continue
    return _migrate_once(conn, schema, where, allow_breaking, migrations)


def _migrate_once(
    conn: psycopg.Connection, schema: str, where: str, allow_breaking: bool, migrations: Sequence[Migration]
) -> list[int]:
    target = migrations[-1].version
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s, %s)", (LOCK_CLASS, _LOCK_SCHEMA))
        version = schema_version(conn, schema)  # again, under the lock
        _check_newer(version, target, where)
        pending = [migration for migration in migrations if migration.version > version]
        if not allow_breaking and any(migration.breaking for migration in pending):
            raise SchemaMigrationNeededError(
                f"PostgreSQL storage {where} has schema version {version}; this rivers-storage-postgres needs "
                f"schema {target}, a migration that rewrites data: run `rivers storage migrate` first"
            )
        for migration in pending:
            for statement in migration.statements:
                conn.execute(statement.format(s=schema).encode())
        if pending:
            table = _VERSION_TABLE.format(s=schema)
            conn.execute(f"CREATE TABLE IF NOT EXISTS {table} (version integer NOT NULL)".encode())
            conn.execute(f"DELETE FROM {table}".encode())
            conn.execute(f"INSERT INTO {table} (version) VALUES (%s)".encode(), (target,))
    return [migration.version for migration in pending]
