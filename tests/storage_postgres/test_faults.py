"""Faults on a server of their own: restarts and crashes mid-run, ambiguous commits, a server gone for good."""

from __future__ import annotations

import collections
import threading
from collections.abc import Callable, Iterator

import psycopg
import pytest

import rivers as rs
from rivers.exceptions import StorageError
from rivers.storage import RunRecord, StoredEvent
from rivers_storage_postgres.storage import PostgresStorage
from rivers_storage_postgres.testing import FAST_SETTINGS, TemporaryServer

STEPS = 40
RESTART_AT = 12


@pytest.fixture(scope="module")
def own_server() -> Iterator[TemporaryServer]:
    """A server these tests may restart and kill (the session's server stays up for the others)."""
    server = TemporaryServer(FAST_SETTINGS)
    server.start()
    try:
        yield server
    finally:
        server.remove()


def _chain(hooks: dict[int, Callable[[], object]]) -> list[rs.AssetDef]:
    """``STEPS`` assets in a chain (``a01`` reads ``a00``, ...); step ``i`` calls ``hooks[i]()`` first."""
    lines = ["def a00():\n    hook(0)\n    return 0\n"]
    lines += [f"def a{i:02d}(a{i - 1:02d}):\n    hook({i})\n    return a{i - 1:02d} + 1\n" for i in range(1, STEPS)]
    namespace: dict[str, object] = {"hook": lambda index: hooks[index]() if index in hooks else None}
    exec("".join(lines), namespace)  # noqa: S102 - a generated test graph
    return [rs.Asset(namespace[f"a{i:02d}"]) for i in range(STEPS)]


def _run_through(storage: PostgresStorage, fault: Callable[[], object]) -> rs.RunResult:
    repo = rs.CodeRepository(assets=_chain({RESTART_AT: fault}), default_executor=rs.Executor.in_process())
    repo.resolve(storage)
    return repo.materialize()


def _assert_complete(storage: PostgresStorage, run_id: str) -> None:
    run = storage.get_run(run_id)
    assert run is not None and run.status == "Success"
    events = storage.get_events_for_run(run_id)
    counts = collections.Counter(event.event_type for event in events)
    assert counts == {"StepStart": STEPS, "Materialization": STEPS, "StepSuccess": STEPS}
    assert len({event.id for event in events}) == len(events)  # nothing written twice
    assert storage.get_asset_record(f"a{STEPS - 1:02d}").last_run_id == run_id


@pytest.mark.parametrize("mode", ["fast", "immediate"])
def test_a_run_survives_a_server_restart_mid_run(own_server: TemporaryServer, mode: str) -> None:
    storage = PostgresStorage(own_server.url(), schema=f"restart_{mode}", retry_timeout="60s")
    result = _run_through(storage, lambda: own_server.restart(mode, down_for=0.5))
    assert result.success
    _assert_complete(storage, result.run_id)
    storage.close()


def test_a_run_survives_the_server_being_killed_and_started_again(own_server: TemporaryServer) -> None:
    storage = PostgresStorage(own_server.url(), schema="killed", retry_timeout="60s")

    def crash_and_recover() -> None:
        own_server.kill()
        threading.Timer(1.0, own_server.restart, kwargs={"mode": "immediate"}).start()

    result = _run_through(storage, crash_and_recover)
    assert result.success
    _assert_complete(storage, result.run_id)
    storage.close()


def test_a_server_gone_longer_than_the_retry_timeout_fails_the_write_cleanly(own_server: TemporaryServer) -> None:
    storage = PostgresStorage(own_server.url(), schema="gone", retry_timeout="1s")
    storage._create_run(RunRecord(run_id="r", status="Started", start_time=1))
    own_server.stop("fast")
    try:
        with pytest.raises(StorageError, match=r"cannot reach database 'postgres' on 127\.0\.0\.1:\d+.*gave up after"):
            storage._append_events([StoredEvent("e1", "StepStart", "a", "r", None, 1)])
        with pytest.raises(StorageError, match="1 queued events and 0 logs were discarded"):
            with storage._batch():
                storage._append_events([StoredEvent("e2", "StepStart", "a", "r", None, 2)])
    finally:
        own_server.restart()
    assert storage.get_events_for_run("r") == []  # failed loudly, nothing half-written
    storage._append_events([StoredEvent("e3", "StepStart", "a", "r", None, 3)])  # and works again
    assert [event.id for event in storage.get_events_for_run("r")] == ["e3"]
    storage.close()


def test_an_ambiguous_commit_is_resolved_by_asking_the_server(own_server: TemporaryServer) -> None:
    storage = PostgresStorage(own_server.url(), schema="ambiguous")
    connector = storage.connector
    with psycopg.connect(own_server.url(), autocommit=False) as conn:
        committed = str(conn.execute("SELECT pg_current_xact_id()").fetchone()[0])
        conn.commit()
        aborted = str(conn.execute("SELECT pg_current_xact_id()").fetchone()[0])
        conn.rollback()
    assert connector._committed(committed, deadline=float("inf")) is True
    assert connector._committed(aborted, deadline=float("inf")) is False
    storage.close()
