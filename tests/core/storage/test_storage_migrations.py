"""Schema migrations of the embedded SQLite store, against a file written by rivers-core of schema version 1.

``fixtures/store_v1.sqlite3`` was written by ``fixtures/build_store_v1.py``
with rivers-core before the storage contract; ``store_v1.expected.json``
lists what that version read back from it.
"""

from __future__ import annotations

import importlib.util
import json
import multiprocessing
import shutil
import sqlite3
import subprocess
import sys
import types
from pathlib import Path

import pytest

import rivers as rs
from rivers.backfills.state import backfill_ids, load_backfill
from rivers.exceptions import SchemaMigrationNeededError, StorageError
from rivers.storage import _sqlite_migrations
from rivers.storage._sqlite_migrations import SCHEMA_VERSION, Migration
from rivers.storage.sqlite import migrate_file

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture
def v1_file(tmp_path: Path) -> Path:
    path = tmp_path / "store.sqlite3"
    shutil.copy(FIXTURES / "store_v1.sqlite3", path)
    return path


@pytest.fixture(scope="module")
def expected() -> dict:
    return json.loads((FIXTURES / "store_v1.expected.json").read_text(encoding="utf-8"))


def _version(path: Path) -> int:
    conn = sqlite3.connect(path)
    try:
        return int(conn.execute("PRAGMA user_version").fetchone()[0])
    finally:
        conn.close()


def _load_builder() -> types.ModuleType:
    """The script that built the fixture (its record-to-fields functions are what the test compares)."""
    spec = importlib.util.spec_from_file_location("build_store_v1", FIXTURES / "build_store_v1.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_BUILDER = _load_builder()
_run = _BUILDER.run_fields
_event = _BUILDER.event_fields


def test_the_fixture_is_a_version_1_store(v1_file: Path) -> None:
    assert _version(v1_file) == 1 < SCHEMA_VERSION


def test_opening_a_version_1_store_migrates_it_and_keeps_everything(v1_file: Path, expected: dict) -> None:
    storage = rs.Storage.embedded(v1_file)
    try:
        assert _version(v1_file) == SCHEMA_VERSION
        runs = storage.get_runs(limit=1000)
        assert [_run(run) for run in runs] == expected["runs"]
        for run in runs:
            assert [_event(e) for e in storage.get_events_for_run(run.run_id)] == expected["events"][run.run_id]
            assert len(storage.get_run_logs(run.run_id)) == expected["logs"][run.run_id]
        latest = {}
        for record in storage.get_asset_records():
            for partition in [None, *map(str, storage.get_materialized_partitions(record.asset_key))]:
                event = storage.get_latest_materialization(record.asset_key, partition)
                if event is not None:
                    latest[f"{record.asset_key}|{partition}"] = event.id
        assert latest == expected["latest"]
        assert storage.get_dynamic_partitions("tenants") == expected["dynamic"]
        assert storage.kv_get("user/key") == b"\x00value"
        # the catalogue reads the counters and latest materializations the migration derived
        catalogue = {entry.asset_key: entry for entry in storage.get_asset_catalogue()}
        assert {key: entry.partition_counts["materialized"] for key, entry in catalogue.items()} == (
            expected["materialized_partitions"])
        for key, entry in catalogue.items():
            assert entry.last_materialization == storage.get_latest_materialization(key)
        # every event is on the global cursor, in order
        page = storage.get_events_after(0, limit=10_000)
        assert len(page.events) == sum(len(events) for events in expected["events"].values())
        # run tags of old runs are queryable
        tagged = [run[0] for run in expected["runs"] if ["team", "data"] in run[5]]
        assert [run.run_id for run in storage.query_runs(tags={"team": "data"}).runs] == tagged and tagged
    finally:
        storage.close()


def test_backfills_move_from_kv_into_their_own_records(v1_file: Path, expected: dict) -> None:
    storage = rs.Storage.embedded(v1_file)
    try:
        ids = backfill_ids(storage)
        assert ids == [backfill[0] for backfill in expected["backfills"]]
        for backfill_id, status, completed, failed in expected["backfills"]:
            record = load_backfill(storage, backfill_id)
            assert record is not None
            assert (record.status, record.count("completed"), record.count("failed")) == (status, completed, failed)
        assert storage.kv_get("rivers/backfills") is None
        assert all(storage.kv_get(f"rivers/backfills/{backfill_id}") is None for backfill_id in ids)
    finally:
        storage.close()


def test_a_migrated_store_keeps_counting_new_materializations(v1_file: Path) -> None:
    storage = rs.Storage.embedded(v1_file)
    try:
        before = storage.count_materialized_partitions("daily")
        storage._append_events([
            rs.StoredEvent("new-1", "Materialization", "daily", "new-run", "2024-01-05", 1),
            rs.StoredEvent("new-2", "Materialization", "daily", "new-run", "2024-01-05", 2),
        ])
        entry = storage.get_asset_catalogue(["daily"])[0]
        assert entry.partition_counts["materialized"] == before + 1 == storage.count_materialized_partitions("daily")
        assert entry.last_materialization.id == "new-2"  # type: ignore[union-attr]
    finally:
        storage.close()


def _open_and_count(path: str) -> int:
    storage = rs.Storage.embedded(path)
    try:
        return len(storage.get_runs(limit=1000))
    finally:
        storage.close()


def test_processes_opening_an_old_store_at_once_migrate_it_once(v1_file: Path, expected: dict) -> None:
    context = multiprocessing.get_context("spawn")
    with context.Pool(3) as pool:
        counts = pool.map(_open_and_count, [str(v1_file)] * 3)
    assert counts == [len(expected["runs"])] * 3
    assert _version(v1_file) == SCHEMA_VERSION


@pytest.fixture
def breaking_migration(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """A pretend next schema version whose migration is not automatic."""
    applied: list[str] = []

    def apply(conn: sqlite3.Connection) -> None:
        conn.execute("CREATE TABLE pretend_v3 (x INTEGER)")
        applied.append("v3")

    migration = Migration(SCHEMA_VERSION + 1, "rewrite the events table", False, apply)
    monkeypatch.setattr(_sqlite_migrations, "MIGRATIONS", (*_sqlite_migrations.MIGRATIONS, migration))
    return applied


def test_a_breaking_migration_asks_for_rivers_storage_migrate(v1_file: Path, breaking_migration: list[str]) -> None:
    with pytest.raises(SchemaMigrationNeededError, match=rf"schema version 1.*needs version {SCHEMA_VERSION + 1}.*rivers storage migrate"):
        rs.Storage.embedded(v1_file)
    assert _version(v1_file) == 1 and not breaking_migration  # nothing was changed
    report = migrate_file(v1_file)
    assert (report.from_version, report.to_version, len(report.applied)) == (1, SCHEMA_VERSION + 1, SCHEMA_VERSION)
    assert breaking_migration == ["v3"]
    storage = rs.Storage.embedded(v1_file)  # now opens
    assert len(storage.get_runs()) == 6
    storage.close()
    assert migrate_file(v1_file).applied == []  # idempotent


def test_a_new_store_needs_no_explicit_migration(tmp_path: Path, breaking_migration: list[str]) -> None:
    storage = rs.Storage.embedded(tmp_path / "new.db")  # a new file gets every migration at once
    storage.close()
    assert _version(tmp_path / "new.db") == SCHEMA_VERSION + 1 and breaking_migration == ["v3"]


def test_a_newer_store_names_both_versions(tmp_path: Path) -> None:
    path = tmp_path / "future.db"
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 5}")
    conn.close()
    with pytest.raises(SchemaMigrationNeededError, match=rf"schema version {SCHEMA_VERSION + 5}, newer.*up to "
                                                          rf"{SCHEMA_VERSION}.*upgrade rivers-core"):
        rs.Storage.embedded(path)
    with pytest.raises(SchemaMigrationNeededError, match="newer"):
        migrate_file(path)


def test_migrate_embedded_and_a_missing_file(tmp_path: Path, v1_file: Path) -> None:
    assert rs.Storage.migrate_embedded(v1_file) is None
    assert _version(v1_file) == SCHEMA_VERSION
    with pytest.raises(StorageError, match="does not exist"):
        migrate_file(tmp_path / "missing.db")


def _cli(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "rivers.cli", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=120)


def test_cli_storage_migrate_and_its_db_alias(v1_file: Path) -> None:
    url = f"sqlite:///{v1_file.name}"
    first = _cli(v1_file.parent, "--storage", url, "storage", "migrate")
    assert first.returncode == 0, first.stderr
    assert f"migrated from schema version 1 to {SCHEMA_VERSION}" in first.stdout
    assert _version(v1_file) == SCHEMA_VERSION
    again = _cli(v1_file.parent, "db", "migrate", "--storage", url)
    assert again.returncode == 0, again.stderr
    assert f"schema version {SCHEMA_VERSION}, up to date" in again.stdout
    memory = _cli(v1_file.parent, "--storage", "memory://", "db", "migrate")
    assert memory.returncode == 0 and "no schema to migrate" in memory.stdout


def test_cli_storage_migrate_of_a_newer_store_fails_clearly(tmp_path: Path) -> None:
    conn = sqlite3.connect(tmp_path / "future.db")
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    result = _cli(tmp_path, "--storage", "sqlite:///future.db", "storage", "migrate")
    assert result.returncode == 2
    assert "SchemaMigrationNeededError" in result.stderr and "upgrade rivers-core" in result.stderr


def test_cli_migrate_of_a_plugin_backend_calls_its_migrate_and_hides_the_password(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import rivers.plugins
    from rivers.cli.app import run

    calls: list[tuple[str, dict]] = []

    def factory(url: str, **config: object) -> rs.Storage:
        return rs.Storage.memory()

    def migrate(url: str, **config: object) -> list[str]:
        calls.append((url, config))
        return ["2: added the ticks table"]

    factory._migrate = migrate  # type: ignore[attr-defined]

    class Plugin:
        @rivers.plugins.hookimpl
        def rivers_storage_backends(self) -> dict:
            return {"fakedb": factory}

    monkeypatch.chdir(tmp_path)
    rivers.plugins.register(Plugin(), name="fakedb-plugin")
    try:
        assert run(["--storage", "fakedb://bob:s3cret@db:5432/rivers", "storage", "migrate"]) == 0
    finally:
        rivers.plugins.unregister("fakedb-plugin")
    out = capsys.readouterr().out
    assert calls == [("fakedb://bob:s3cret@db:5432/rivers", {})]
    assert out.strip() == "fakedb://bob:***@db:5432/rivers: 2: added the ticks table"
    assert "s3cret" not in out


def _schema(path: Path) -> dict[str, object]:
    """Every table's columns (name, type, not-null, default, in order) and the index and trigger names."""
    conn = sqlite3.connect(path)
    try:
        objects = conn.execute("SELECT type, name FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'").fetchall()
        tables = sorted(name for kind, name in objects if kind == "table")
        return {
            "tables": {table: conn.execute(f"PRAGMA table_info({table})").fetchall() for table in tables},
            "indexes": sorted(name for kind, name in objects if kind == "index"),
            "triggers": sorted(name for kind, name in objects if kind == "trigger"),
        }
    finally:
        conn.close()


def test_a_new_file_has_the_schema_of_a_migrated_one(tmp_path: Path, v1_file: Path) -> None:
    rs.Storage.embedded(v1_file).close()
    rs.Storage.embedded(tmp_path / "new.db").close()
    assert _schema(tmp_path / "new.db") == _schema(v1_file)
    assert _version(tmp_path / "new.db") == _version(v1_file) == SCHEMA_VERSION
