"""New embedded stores are copies of a cached empty store (``rivers.storage._sqlite_template``)."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

import rivers as rs
from rivers.storage import _sqlite_migrations, _sqlite_template
from rivers.storage._sqlite_migrations import Migration


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    directory = tmp_path / "cache"
    monkeypatch.setenv("RIVERS_CACHE_DIR", str(directory))
    monkeypatch.delenv(_sqlite_template.ENV, raising=False)
    return directory


def _images(cache: Path) -> list[Path]:
    return sorted(cache.glob("sqlite-template-*.db")) if cache.exists() else []


def _schema(path: Path) -> tuple[list[tuple[str, ...]], int, str]:
    conn = sqlite3.connect(path)
    try:
        objects = sorted(conn.execute("SELECT type, name, tbl_name, sql FROM sqlite_master").fetchall())
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        journal = conn.execute("PRAGMA journal_mode").fetchone()[0]
    finally:
        conn.close()
    return objects, version, journal


def _materialize_one(store: Path) -> rs.RunResult:
    @rs.Asset
    def numbers() -> list[int]:
        return [1, 2, 3]

    repo = rs.CodeRepository(assets=[numbers])
    repo.resolve(rs.Storage.embedded(store))
    return repo.materialize()


def test_a_new_store_is_a_copy_of_the_empty_store_rivers_created_first(cache: Path, tmp_path: Path):
    created = tmp_path / "created.db"
    rs.Storage.embedded(created)
    assert len(_images(cache)) == 1, "creating a schema keeps the empty store's image"

    copied = tmp_path / "copied.db"
    assert _sqlite_template.copy_to(str(copied))
    assert _schema(copied) == _schema(created)
    assert _schema(copied)[1] == _sqlite_migrations.current_version()
    assert _schema(copied)[2] == "wal"
    assert copied.stat().st_mode == created.stat().st_mode  # the umask applies as for a file SQLite creates
    assert not [name for name in os.listdir(tmp_path) if name.endswith(".template")]

    # a store opened on a missing file is made the same way, and records runs like any other
    opened = tmp_path / "opened.db"
    result = _materialize_one(opened)
    assert result.success
    assert _schema(opened) == _schema(created)
    runs = rs.Storage.embedded(opened).get_runs()
    assert [run.run_id for run in runs] == [result.run_id]


def test_the_image_is_kept_only_while_the_new_store_is_empty(cache: Path, tmp_path: Path):
    store = tmp_path / "store.db"
    _materialize_one(store)
    for image in _images(cache):
        image.unlink()
    conn = sqlite3.connect(store, isolation_level=None)
    try:
        _sqlite_template.save(conn)  # the store holds a run now: no image of it
    finally:
        conn.close()
    assert _images(cache) == []
    assert not _sqlite_template.copy_to(str(tmp_path / "other.db"))


def test_a_damaged_image_is_not_used_and_is_replaced(cache: Path, tmp_path: Path):
    rs.Storage.embedded(tmp_path / "first.db")
    (image,) = _images(cache)
    content = bytearray(image.read_bytes())
    content[-100] ^= 0xFF  # one flipped byte in the database image
    image.write_bytes(bytes(content))

    target = tmp_path / "second.db"
    assert not _sqlite_template.copy_to(str(target))
    assert not target.exists()
    assert _materialize_one(target).success  # created with its own DDL instead ...
    assert _sqlite_template.copy_to(str(tmp_path / "third.db"))  # ... which kept a good image again


def test_an_existing_file_is_never_replaced(cache: Path, tmp_path: Path):
    store = tmp_path / "store.db"
    result = _materialize_one(store)
    assert _sqlite_template.copy_to(str(store))  # "the file exists now": the one that was there
    assert [run.run_id for run in rs.Storage.embedded(store).get_runs()] == [result.run_id]
    assert not [name for name in os.listdir(tmp_path) if name.endswith(".template")]


@pytest.mark.parametrize("setting", ["0", "off"])
def test_the_environment_turns_the_template_off(cache: Path, tmp_path: Path, monkeypatch, setting):
    monkeypatch.setenv(_sqlite_template.ENV, setting)
    rs.Storage.embedded(tmp_path / "store.db")
    assert _images(cache) == []
    assert not _sqlite_template.copy_to(str(tmp_path / "other.db"))


def test_migrations_extended_at_run_time_never_use_the_template(cache: Path, tmp_path: Path, monkeypatch):
    rs.Storage.embedded(tmp_path / "plain.db")
    assert len(_images(cache)) == 1

    def add_notes(conn: sqlite3.Connection) -> None:
        conn.execute("CREATE TABLE notes (text TEXT)")

    version = _sqlite_migrations.current_version() + 1
    monkeypatch.setattr(_sqlite_migrations, "MIGRATIONS",
                        (*_sqlite_migrations.MIGRATIONS, Migration(version, "notes", True, add_notes)))
    extended = tmp_path / "extended.db"
    rs.Storage.embedded(extended)
    objects, stamped, _ = _schema(extended)
    assert stamped == version
    assert "notes" in {name for _, name, _, _ in objects}
    assert len(_images(cache)) == 1  # no image of the extended schema either


def test_an_unwritable_cache_leaves_store_creation_as_it_was(tmp_path: Path, monkeypatch):
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("a file where the cache directory would be")
    monkeypatch.setenv("RIVERS_CACHE_DIR", str(blocker / "rivers"))
    monkeypatch.delenv(_sqlite_template.ENV, raising=False)
    assert _materialize_one(tmp_path / "store.db").success
    assert not _sqlite_template.copy_to(str(tmp_path / "other.db"))


_WRITER = """
import sys
import rivers as rs
from rivers.storage.records import RunRecord
store = rs.Storage.embedded(sys.argv[1])
for index in range(25):
    store.create_run(RunRecord(run_id=f"{sys.argv[2]}-{index}", status="Success"))
store.close()
"""


def test_processes_creating_one_new_store_at_once_share_it(cache: Path, tmp_path: Path):
    rs.Storage.embedded(tmp_path / "seed.db")  # the image exists: every process below copies
    store = tmp_path / "shared.db"
    env = {**os.environ, "RIVERS_CACHE_DIR": str(cache)}
    writers = [subprocess.Popen([sys.executable, "-c", _WRITER, str(store), f"p{number}"], env=env)
               for number in range(4)]
    assert [writer.wait(timeout=120) for writer in writers] == [0, 0, 0, 0]
    run_ids = {run.run_id for run in rs.Storage.embedded(store).get_runs(limit=1000)}
    assert run_ids == {f"p{number}-{index}" for number in range(4) for index in range(25)}
    assert not [name for name in os.listdir(tmp_path) if name.endswith(".template")]
