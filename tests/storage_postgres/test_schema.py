"""The versioned schema: created once, older versions migrated (or refused), newer versions refused naming both."""

from __future__ import annotations

import threading

import psycopg
import pytest

from rivers.exceptions import SchemaMigrationNeededError
from rivers.storage import RunRecord, StoredEvent
from rivers_storage_postgres import schema
from rivers_storage_postgres.storage import PostgresStorage


def _version(pg_url: str, pg_schema: str) -> int:
    with psycopg.connect(pg_url, autocommit=True) as conn:
        return schema.schema_version(conn, pg_schema)


def test_a_new_store_gets_the_current_schema_once_even_with_concurrent_openers(pg_url: str, pg_schema: str) -> None:
    errors: list[BaseException] = []

    def open_store() -> None:
        try:
            PostgresStorage(pg_url, schema=pg_schema).close()
        except BaseException as error:  # noqa: BLE001 - reported below
            errors.append(error)

    threads = [threading.Thread(target=open_store) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert _version(pg_url, pg_schema) == schema.SCHEMA_VERSION


def test_a_newer_store_is_refused_naming_both_versions(pg_storage: PostgresStorage, pg_url: str,
                                                      pg_schema: str) -> None:
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(f"UPDATE {pg_schema}.rivers_schema_version SET version = 99")
    with pytest.raises(SchemaMigrationNeededError,
                       match=rf"schema version 99, newer than this rivers-storage-postgres \(schema "
                             rf"{schema.SCHEMA_VERSION}\); upgrade rivers-storage-postgres"):
        PostgresStorage(pg_url, schema=pg_schema)


def _with_v2(*, breaking: bool) -> tuple[schema.Migration, ...]:
    statements = ["ALTER TABLE {s}.runs ADD COLUMN launcher text"]
    return (*schema.MIGRATIONS, schema.Migration(schema.SCHEMA_VERSION + 1, statements, breaking=breaking))


def test_an_older_store_is_migrated_keeping_its_data(pg_storage: PostgresStorage, pg_url: str, pg_schema: str) -> None:
    pg_storage._create_run(RunRecord(run_id="r", status="Success", start_time=1))
    pg_storage._append_events([StoredEvent("e", "Materialization", "a", "r", None, 2, [], "d1")])
    with psycopg.connect(pg_url, autocommit=True) as conn:
        schema.ensure_schema(conn, pg_schema, "test", _with_v2(breaking=False))
        assert schema.schema_version(conn, pg_schema) == schema.SCHEMA_VERSION + 1
        assert conn.execute(f"SELECT launcher FROM {pg_schema}.runs").fetchall() == [(None,)]
        schema.ensure_schema(conn, pg_schema, "test", _with_v2(breaking=False))  # idempotent
    assert pg_storage.get_run("r").status == "Success"
    assert pg_storage.get_latest_materialization("a").data_version == "d1"


def test_a_breaking_migration_waits_for_rivers_storage_migrate(pg_storage: PostgresStorage, pg_url: str,
                                                              pg_schema: str) -> None:
    with psycopg.connect(pg_url, autocommit=True) as conn:
        with pytest.raises(SchemaMigrationNeededError, match="run `rivers storage migrate` first"):
            schema.ensure_schema(conn, pg_schema, "test", _with_v2(breaking=True))
        assert schema.schema_version(conn, pg_schema) == schema.SCHEMA_VERSION  # nothing changed
        assert schema.migrate(conn, pg_schema, "test", migrations=_with_v2(breaking=True)) == [
            schema.SCHEMA_VERSION + 1]
        assert schema.schema_version(conn, pg_schema) == schema.SCHEMA_VERSION + 1


def test_rivers_storage_migrate_on_a_postgres_url(pg_url: str, pg_schema: str, tmp_path, monkeypatch) -> None:
    import subprocess
    import sys

    (tmp_path / "rivers.toml").write_text(f'[storage]\nurl = "{pg_url}"\nschema = "{pg_schema}"\n')
    first = subprocess.run([sys.executable, "-m", "rivers.cli", "storage", "migrate"], cwd=tmp_path,
                           capture_output=True, text=True)
    assert first.returncode == 0, first.stderr
    assert f"schema '{pg_schema}': migrated from schema version 0 to {schema.SCHEMA_VERSION}" in first.stdout
    assert "rivers-test" not in first.stdout + first.stderr  # the password of the URL is never printed
    again = subprocess.run([sys.executable, "-m", "rivers.cli", "db", "migrate"], cwd=tmp_path,
                           capture_output=True, text=True)
    assert again.returncode == 0 and f"schema version {schema.SCHEMA_VERSION}, up to date" in again.stdout


def test_rivers_storage_prune_keeps_recent_runs_and_everything_derived(
    pg_storage: PostgresStorage, pg_url: str, pg_schema: str, tmp_path
) -> None:
    import subprocess
    import sys
    import time

    from rivers.storage import StoredLog

    day = 86_400 * 10**9
    now = time.time_ns()
    for run_id, ended, status in (("old", now - 100 * day, "Success"), ("recent", now - day, "Success"),
                                  ("old-running", None, "Started")):
        start = now - 101 * day
        pg_storage._create_run(RunRecord(run_id=run_id, status=status, start_time=start, end_time=ended))
        pg_storage._append_events([
            StoredEvent(f"{run_id}-1", "StepStart", "a", run_id, None, start),
            StoredEvent(f"{run_id}-2", "Materialization", "a", run_id, "p-" + run_id, start + 1, [], f"dv-{run_id}"),
        ])
        pg_storage._append_logs([StoredLog(f"{run_id}-log", run_id, "a", start, logs="x")])
    before_catalogue = pg_storage.get_asset_catalogue()
    latest_old = pg_storage.get_latest_materialization("a", "p-old")
    (tmp_path / "rivers.toml").write_text(f'[storage]\nurl = "{pg_url}"\nschema = "{pg_schema}"\n')
    result = subprocess.run([sys.executable, "-m", "rivers.cli", "storage", "prune", "--older-than", "90d"],
                            cwd=tmp_path, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "deleted 2 events and 1 logs of 1 runs that ended more than 90d ago" in result.stdout
    assert "rivers-test" not in result.stdout
    assert pg_storage.get_events_for_run("old") == [] and pg_storage.get_run_logs("old") == []
    assert len(pg_storage.get_events_for_run("recent")) == 2 and len(pg_storage.get_events_for_run("old-running")) == 2
    assert pg_storage.get_run("old").status == "Success"  # the run record stays
    assert pg_storage.get_latest_materialization("a", "p-old") == latest_old  # derived state survives
    assert pg_storage.get_asset_catalogue() == before_catalogue
    assert pg_storage.prune_events("90d").runs == 1 and pg_storage.prune_events("90d").events == 0  # idempotent
    bad = subprocess.run([sys.executable, "-m", "rivers.cli", "storage", "prune", "--older-than", "soon"],
                         cwd=tmp_path, capture_output=True, text=True)
    assert bad.returncode == 2 and "invalid duration for '--older-than'" in bad.stderr
