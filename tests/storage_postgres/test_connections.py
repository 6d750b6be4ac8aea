"""Connecting: URLs, credentials (never shown), the plugin registration, errors naming host and database."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import psycopg
import pytest

import rivers as rs
from rivers.config import ProjectConfig
from rivers.exceptions import ConfigurationError, StorageError
from rivers_storage_postgres.storage import PostgresStorage
from rivers_storage_postgres.testing import SUPERUSER, TemporaryServer, _free_port

from postgres_database import DATABASE


def test_both_schemes_connect_through_the_plugin_registry(pg_server: TemporaryServer, pg_schema: str) -> None:
    for scheme in ("postgresql", "postgres"):
        url = pg_server.url(DATABASE).replace("postgresql://", f"{scheme}://")
        storage = rs.Storage.connect(url, schema=pg_schema)
        assert isinstance(storage, PostgresStorage) and storage.type == rs.StorageType.Remote
        storage.kv_set("k", scheme.encode())
        assert storage.kv_get("k") == scheme.encode()
        storage.close()


def test_settings_in_the_url_query(pg_server: TemporaryServer, pg_schema: str) -> None:
    storage = rs.Storage.connect(pg_server.url(DATABASE, query=f"schema={pg_schema}&pool_size=2&sslmode=disable"))
    assert storage.settings.schema == pg_schema and storage.settings.pool_size == 2
    assert storage.settings.libpq_options == {"sslmode": "disable"}
    storage.close()


def test_rivers_toml_and_the_environment_variable_select_the_backend(
    pg_server: TemporaryServer, pg_schema: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = pg_server.url(DATABASE)
    (tmp_path / "rivers.toml").write_text(f'[storage]\nurl = "{url}"\nschema = "{pg_schema}"\npool_size = 2\n')
    storage = ProjectConfig.load(tmp_path).make_storage()
    assert isinstance(storage, PostgresStorage) and storage.settings.pool_size == 2
    storage.close()
    (tmp_path / "rivers.toml").unlink()
    monkeypatch.setenv("RIVERS_STORAGE_URL", pg_server.url(DATABASE, query=f"schema={pg_schema}"))
    storage = ProjectConfig.load(tmp_path).make_storage()
    assert isinstance(storage, PostgresStorage) and storage.settings.schema == pg_schema
    storage.close()


def test_the_password_never_shows(pg_server: TemporaryServer, pg_schema: str, caplog: pytest.LogCaptureFixture) -> None:
    storage = PostgresStorage(pg_server.url(DATABASE), schema=pg_schema)
    for text in (repr(storage), storage.url, str(storage.settings.display())):
        assert pg_server.password not in text
        assert f"{SUPERUSER}@127.0.0.1:{pg_server.port}/{DATABASE}" in text
    storage.close()
    with pytest.raises(StorageError) as caught:
        storage.kv_get("k")
    assert pg_server.password not in str(caught.value)
    assert pg_server.password not in caplog.text


def test_wrong_password_is_a_clear_error_naming_host_and_database(pg_server: TemporaryServer) -> None:
    started = time.monotonic()
    with pytest.raises(StorageError) as caught:
        PostgresStorage(pg_server.url(DATABASE, password="not-the-password"))
    message = str(caught.value)
    assert "authentication failed" in message and f"user '{SUPERUSER}'" in message
    assert f"database '{DATABASE}' on 127.0.0.1:{pg_server.port}" in message
    assert "not-the-password" not in message and pg_server.password not in message
    assert caught.value.__cause__ is None and caught.value.__suppress_context__
    assert time.monotonic() - started < 5  # not retried: a wrong password does not get better


def test_password_from_pgpassword_pgpass_and_rivers_variable(
    pg_server: TemporaryServer, pg_schema: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = pg_server.url(DATABASE, password=None).replace(f":{pg_server.password}@", "@")
    assert pg_server.password not in url
    monkeypatch.setenv("PGPASSFILE", str(tmp_path / "missing"))
    with pytest.raises(StorageError, match="check PGPASSWORD, ~/.pgpass or RIVERS_STORAGE_PASSWORD"):
        PostgresStorage(url, schema=pg_schema)
    monkeypatch.setenv("PGPASSWORD", pg_server.password)
    PostgresStorage(url, schema=pg_schema).close()
    monkeypatch.delenv("PGPASSWORD")
    pgpass = tmp_path / "pgpass"
    pgpass.write_text(f"127.0.0.1:{pg_server.port}:{DATABASE}:{SUPERUSER}:{pg_server.password}\n")
    pgpass.chmod(0o600)
    monkeypatch.setenv("PGPASSFILE", str(pgpass))
    PostgresStorage(url, schema=pg_schema).close()
    monkeypatch.setenv("PGPASSFILE", str(tmp_path / "missing"))
    monkeypatch.setenv("RIVERS_STORAGE_PASSWORD", pg_server.password)
    PostgresStorage(url, schema=pg_schema).close()
    PostgresStorage(url, schema=pg_schema, password=pg_server.password).close()


def test_unknown_database_says_so(pg_server: TemporaryServer) -> None:
    with pytest.raises(StorageError, match=r"database 'nowhere' on 127\.0\.0\.1:\d+ does not exist; create it"):
        PostgresStorage(pg_server.url("nowhere"))


def test_unreachable_server_is_retried_then_fails_naming_it() -> None:
    port = _free_port()
    started = time.monotonic()
    with pytest.raises(StorageError) as caught:
        PostgresStorage(f"postgresql://someone:secret@127.0.0.1:{port}/db", retry_timeout="1s")
    message = str(caught.value)
    assert f"cannot reach database 'db' on 127.0.0.1:{port}" in message and "gave up after" in message
    assert "secret" not in message
    assert 0.2 < time.monotonic() - started < 10


def test_bad_settings_are_configuration_errors(pg_server: TemporaryServer) -> None:
    with pytest.raises(ConfigurationError, match="unknown setting.*'pool_sise'"):
        PostgresStorage(pg_server.url(DATABASE), pool_sise=3)
    with pytest.raises(ConfigurationError, match="pool_size must be an int >= 0"):
        PostgresStorage(pg_server.url(DATABASE), pool_size=-1)
    with pytest.raises(ConfigurationError, match="schema must be a plain SQL identifier"):
        PostgresStorage(pg_server.url(DATABASE), schema="x; drop table runs")
    with pytest.raises(ConfigurationError, match="invalid duration for 'statement_timeout'") as caught:
        PostgresStorage(pg_server.url(DATABASE), statement_timeout="soon")
    assert pg_server.password not in str(caught.value)


def test_connection_limit_reached_is_waited_out_or_reported(pg_server: TemporaryServer, pg_schema: str) -> None:
    role = f"limited_{pg_schema}"
    pg_server.create_role(role, "pw", connection_limit=1, databases=[DATABASE])
    url = pg_server.url(DATABASE, user=role, password="pw")
    blocker = psycopg.connect(url)  # takes the role's only connection
    with pytest.raises(StorageError, match=f"connection limit reached on database '{DATABASE}'"):
        PostgresStorage(url, schema=pg_schema, retry_timeout="0.5s")
    threading.Timer(0.5, blocker.close).start()  # the slot frees up while the storage retries
    storage = PostgresStorage(url, schema=pg_schema, retry_timeout="20s", pool_size=1)
    storage.kv_set("k", b"v")
    assert storage.kv_get("k") == b"v"
    storage.close()


def test_statement_timeout_is_a_clear_error(pg_storage: PostgresStorage, pg_url: str, pg_schema: str) -> None:
    pg_storage.kv_set("k", b"v")
    storage = PostgresStorage(pg_url, schema=pg_schema, statement_timeout="200ms")
    with psycopg.connect(pg_url) as locker:
        locker.execute(f"LOCK TABLE {pg_schema}.kv IN ACCESS EXCLUSIVE MODE")
        started = time.monotonic()
        with pytest.raises(StorageError, match=r"statement timeout \(0\.2 s\) on database"):
            storage.kv_set("k", b"w")
        assert time.monotonic() - started < 5
    storage.kv_set("k", b"w")  # the lock is gone: the same storage works again
    assert storage.kv_get("k") == b"w"
    storage.close()


def test_the_pool_bounds_the_connections_of_a_process(pg_url: str, pg_schema: str) -> None:
    name = f"bound-{pg_schema}"
    storage = PostgresStorage(pg_url, schema=pg_schema, pool_size=2, application_name=name)
    counts: list[int] = []

    def hammer(index: int) -> None:
        for step in range(30):
            storage.kv_set(f"k{index}", str(step).encode())
            storage._kv_update("counter", lambda value: str(int(value or b"0") + 1).encode())

    def count_connections() -> int:
        with psycopg.connect(pg_url, autocommit=True) as conn:
            row = conn.execute("SELECT count(*) FROM pg_stat_activity WHERE application_name = %s", (name,)).fetchone()
        return int(row[0]) if row else 0

    threads = [threading.Thread(target=hammer, args=(index,)) for index in range(12)]
    for thread in threads:
        thread.start()
    while any(thread.is_alive() for thread in threads):
        counts.append(count_connections())
        time.sleep(0.01)
    for thread in threads:
        thread.join()
    assert storage.kv_get("counter") == b"360"  # 12 threads x 30 atomic updates
    assert storage.connector.peak_in_use == 2 and max(counts) <= 2
    storage.close()
    assert count_connections() == 0


def test_without_a_pool_every_operation_has_its_own_connection(pg_url: str, pg_schema: str) -> None:
    name = f"nopool-{pg_schema}"
    storage = PostgresStorage(pg_url, schema=pg_schema, pool="off", application_name=name)
    assert storage.settings.pool_size == 0
    storage.kv_set("k", b"v")
    storage._kv_update("k", lambda value: (value or b"") + b"w")
    assert storage.kv_get("k") == b"vw"
    with psycopg.connect(pg_url, autocommit=True) as conn:
        row = conn.execute("SELECT count(*) FROM pg_stat_activity WHERE application_name = %s", (name,)).fetchone()
    assert row is not None and row[0] == 0  # nothing stays open between operations
    storage.close()


def test_a_closed_storage_raises(pg_storage: PostgresStorage) -> None:
    pg_storage.close()
    pg_storage.close()  # idempotent
    with pytest.raises(StorageError, match="is closed"):
        pg_storage.kv_get("k")


def test_forked_children_use_their_own_connections(pg_storage: PostgresStorage) -> None:
    pg_storage.kv_set("parent", b"1")
    pid = os.fork()
    if pid == 0:  # the child: its own pool; the parent's sessions are left alone
        try:
            pg_storage.kv_set("child", b"2")
            os._exit(0 if pg_storage.kv_get("parent") == b"1" else 1)
        except BaseException:
            os._exit(2)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert pg_storage.kv_get("child") == b"2"  # and the parent's connections still work
