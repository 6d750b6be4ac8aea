"""Behaviour shared by every storage backend: both built-in backends run every test."""

from __future__ import annotations

import asyncio
import enum
import inspect
import sys
import types
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from rivers.exceptions import StorageError
from rivers.partitions.keys import PartitionKey
from rivers.storage import (
    ASYNC_METHODS,
    RUN_STATUSES,
    AssetRecord,
    LaunchedBy,
    MemoryStorage,
    RunRecord,
    SqliteStorage,
    StaleCause,
    Storage,
    StorageType,
    StoredEvent,
    StoredLog,
)
from support import in_threads


@pytest.fixture(params=["memory", "sqlite"])
def storage(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Storage]:
    store = Storage.memory() if request.param == "memory" else Storage.embedded(tmp_path / "db" / "rivers.db")
    yield store
    store.close()


def event(
    event_id: str,
    event_type: str,
    asset_key: str | None,
    run_id: str = "run-1",
    *,
    partition: str | None = None,
    timestamp: int = 0,
    data_version: str | None = None,
    code_version: str | None = None,
    inputs: list[tuple[str, str]] | None = None,
    metadata: list[tuple[str, str]] | None = None,
) -> StoredEvent:
    return StoredEvent(
        id=event_id,
        event_type=event_type,
        asset_key=asset_key,
        run_id=run_id,
        partition_key=partition,
        timestamp=timestamp,
        metadata=metadata or [],
        data_version=data_version,
        code_version=code_version,
        input_data_versions=inputs or [],
    )


def materialize(
    storage: Storage,
    asset_key: str,
    *,
    run_id: str = "run-1",
    data_version: str = "d1",
    code_version: str | None = None,
    inputs: list[tuple[str, str]] | None = None,
    partition: str | None = None,
    timestamp: int = 0,
) -> None:
    """Append the three events the executor writes for one successful step."""
    prefix = f"{run_id}/{asset_key}/{partition}/{timestamp}"
    storage._append_events(
        [
            event(f"{prefix}/start", "StepStart", asset_key, run_id, partition=partition, timestamp=timestamp),
            event(
                f"{prefix}/mat",
                "Materialization",
                asset_key,
                run_id,
                partition=partition,
                timestamp=timestamp,
                data_version=data_version,
                code_version=code_version,
                inputs=inputs,
            ),
            event(f"{prefix}/ok", "StepSuccess", asset_key, run_id, partition=partition, timestamp=timestamp),
        ]
    )


# -- construction -------------------------------------------------------------------


def test_factories_report_their_type(tmp_path: Path) -> None:
    memory = Storage.memory()
    embedded = Storage.embedded(tmp_path / "nested" / "dirs" / "store.db")
    assert isinstance(memory, MemoryStorage) and memory.type == StorageType.Memory
    assert isinstance(embedded, SqliteStorage) and embedded.type == StorageType.Embedded
    assert (tmp_path / "nested" / "dirs" / "store.db").is_file()
    assert [StorageType.Memory, StorageType.Embedded, StorageType.Remote] == [0, 1, 2]
    embedded.close()


def test_memory_storages_are_independent() -> None:
    first, second = Storage.memory(), Storage.memory()
    first.kv_set("k", b"v")
    assert second.kv_get("k") is None


def test_embedded_in_existing_directory_uses_a_file_inside(tmp_path: Path) -> None:
    store = Storage.embedded(tmp_path)
    assert isinstance(store, SqliteStorage)
    assert Path(store.path).parent == tmp_path and Path(store.path).is_file()
    store.close()


def test_storage_base_class_is_abstract() -> None:
    with pytest.raises(TypeError):
        Storage()  # type: ignore[abstract]


def test_connect_delegates_to_the_plugin_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[str, dict[str, object]]] = []
    sentinel = Storage.memory()

    def connect_storage(url: str, **config: object) -> Storage:
        calls.append((url, config))
        return sentinel

    from rivers import _registry

    fake = types.SimpleNamespace(connect_storage=connect_storage)  # the registry port, as rivers installs it
    monkeypatch.setattr(_registry, "_provider", lambda: fake)
    assert Storage.connect("memory://", namespace="x") is sentinel
    assert calls == [("memory://", {"namespace": "x"})]


def test_migrate_embedded_is_a_no_op(tmp_path: Path) -> None:
    assert Storage.migrate_embedded(tmp_path / "missing.db") is None
    assert not (tmp_path / "missing.db").exists()


# -- record types -----------------------------------------------------------------------


def test_launched_by_factories_repr_equality_and_hash() -> None:
    assert repr(LaunchedBy.manual()) == "LaunchedBy.manual()"
    assert repr(LaunchedBy.schedule("s")) == 'LaunchedBy.schedule("s")'
    assert repr(LaunchedBy.sensor("watch")) == 'LaunchedBy.sensor("watch")'
    assert repr(LaunchedBy.backfill("bf-1")) == 'LaunchedBy.backfill("bf-1")'
    assert repr(LaunchedBy.condition()) == "LaunchedBy.condition()"
    assert LaunchedBy.schedule("s") == LaunchedBy.schedule("s")
    assert LaunchedBy.schedule("s") != LaunchedBy.sensor("s")
    assert len({LaunchedBy.schedule("s"), LaunchedBy.schedule("s"), LaunchedBy.manual()}) == 2
    backfill = LaunchedBy.backfill("bf-1")
    assert (backfill.kind, backfill.name, backfill.backfill_id, backfill.user) == ("backfill", None, "bf-1", None)
    schedule = LaunchedBy.schedule("daily")
    assert (schedule.kind, schedule.name, schedule.backfill_id) == ("schedule", "daily", None)
    assert LaunchedBy.manual().kind == "manual" and LaunchedBy.condition().kind == "condition"


def test_records_are_frozen() -> None:
    record = AssetRecord("a")
    with pytest.raises(AttributeError):
        record.group = "g"  # type: ignore[misc]
    assert RUN_STATUSES == ("Queued", "NotStarted", "Started", "Success", "Failure", "Canceled")


# -- events -----------------------------------------------------------------------------


def test_events_for_run_oldest_first_and_for_asset_newest_first(storage: Storage) -> None:
    storage._append_events([event("e1", "StepStart", "a"), event("e2", "StepSuccess", "a")])
    storage._append_events([event("e3", "StepStart", "b"), event("e4", "RunQueued", None)])
    storage._append_events([event("e5", "StepStart", "a", run_id="run-2")])
    assert [e.id for e in storage.get_events_for_run("run-1")] == ["e1", "e2", "e3", "e4"]
    assert [e.id for e in storage.get_events_for_asset("a")] == ["e5", "e2", "e1"]
    assert [e.id for e in storage.get_events_for_asset("a", limit=2)] == ["e5", "e2"]
    assert storage.get_events_for_asset("a", limit=0) == []
    assert storage.get_events_for_run("unknown") == []
    with pytest.raises(ValueError, match="limit"):
        storage.get_events_for_asset("a", limit=-1)


def test_events_round_trip_every_field(storage: Storage) -> None:
    original = StoredEvent(
        id="ev",
        event_type="Materialization",
        asset_key="a",
        run_id="r",
        partition_key="2024-01-01",
        timestamp=1_700_000_000_123_456_789,
        metadata=[("rows", '{"type":"int","value":3}'), ("note", "ünïcode \"quoted\"")],
        data_version="dv",
        code_version="cv",
        input_data_versions=[("up", "v1"), ("other", "v2")],
    )
    minimal = StoredEvent("ev2", "StepStart", "a", "r")
    storage._append_events([original, minimal])
    assert storage.get_events_for_run("r") == [original, minimal]
    assert isinstance(storage.get_events_for_run("r")[0].metadata[0], tuple)


def test_latest_materialization_per_partition(storage: Storage) -> None:
    materialize(storage, "daily", partition="p1", data_version="v1", timestamp=1)
    materialize(storage, "daily", partition="p2", data_version="v2", timestamp=2)
    materialize(storage, "daily", partition="p1", data_version="v3", timestamp=3)
    latest_p1 = storage.get_latest_materialization("daily", "p1")
    latest_p2 = storage.get_latest_materialization("daily", partition="p2")
    # records carry PartitionKey objects (spec storage.md §2); a display string is accepted on the way in
    assert latest_p1 is not None and latest_p1.data_version == "v3"
    assert latest_p1.partition_key == PartitionKey.single("p1") and latest_p1.partition_key != "p1"
    assert latest_p2 is not None and latest_p2.data_version == "v2"
    latest_any = storage.get_latest_materialization("daily")
    assert latest_any is not None and latest_any.data_version == "v3"
    assert storage.get_latest_materialization("daily", "p9") is None
    assert storage.get_latest_materialization("unknown") is None
    assert storage.get_materialized_partitions("daily") == [PartitionKey.single("p1"), PartitionKey.single("p2")]
    assert storage.count_materialized_partitions("daily") == 2


def test_latest_materialization_takes_a_str_subclass_partition(storage: Storage) -> None:
    # a StrEnum member is a str (PartitionKey values may be one): it was read as a PartitionKey (AttributeError)
    class Day(enum.StrEnum):
        FIRST = "2024-01-01"
        PAIR = "a=b"

    materialize(storage, "daily", partition="2024-01-01", data_version="v1", timestamp=1)
    storage._append_events([StoredEvent("pair", "Materialization", "daily", "run-1",
                                        PartitionKey.single("a=b"), timestamp=2)])
    latest = storage.get_latest_materialization("daily", Day.FIRST)
    assert latest is not None and latest.data_version == "v1"
    pair = storage.get_latest_materialization("daily", Day.PAIR)  # "a=b" tried as a single key too
    assert pair is not None and pair.id == "pair"


def test_unpartitioned_materializations_are_not_partitions(storage: Storage) -> None:
    materialize(storage, "plain", data_version="v1")
    materialize(storage, "plain", data_version="v2")
    latest = storage.get_latest_materialization("plain")
    assert latest is not None and latest.data_version == "v2" and latest.partition_key is None
    assert storage.get_materialized_partitions("plain") == []
    assert storage.count_materialized_partitions("plain") == 0


def test_completed_steps_are_the_steps_with_step_success(storage: Storage) -> None:
    materialize(storage, "a")
    storage._append_events([event("s", "StepStart", "b"), event("f", "StepFailure", "b")])
    materialize(storage, "c", run_id="other-run")
    assert storage._completed_steps("run-1") == {"a"}
    assert storage._completed_steps("missing") == set()


def test_logs_oldest_first(storage: Storage) -> None:
    first = StoredLog("l1", "r", "a", 1, stdout="hello\n", stderr=None, logs=None)
    second = StoredLog("l2", "r", "b", 2, stdout=None, stderr="oops", logs="INFO x")
    storage._append_logs([first])
    storage._append_logs([second, StoredLog("l3", "other", "a", 3)])
    assert storage.get_run_logs("r") == [first, second]
    assert storage.get_run_logs("none") == []


# -- asset records ----------------------------------------------------------------------


def test_asset_records_after_registration(storage: Storage) -> None:
    storage._register_assets(
        [
            AssetRecord(
                "a", tags=["tier=gold", "pii"], kinds=["python"], group="core", code_version="1", pool=[("db", 1)]
            ),
            AssetRecord("b", tags=["pii"], kinds=["sql"], group="marts"),
        ]
    )
    record = storage.get_asset_record("a")
    assert record == AssetRecord(
        "a", tags=["tier=gold", "pii"], kinds=["python"], group="core", code_version="1", pool=[("db", 1)]
    )
    assert record.last_event_id is None and record.last_timestamp is None
    assert storage.get_asset_record("missing") is None
    assert [r.asset_key for r in storage.get_asset_records()] == ["a", "b"]
    assert [r.asset_key for r in storage.get_assets_by_tag("pii")] == ["a", "b"]
    assert [r.asset_key for r in storage.get_assets_by_tag("tier=gold")] == ["a"]
    assert [r.asset_key for r in storage.get_assets_by_kind("sql")] == ["b"]
    assert [r.asset_key for r in storage.get_assets_by_group("core")] == ["a"]
    assert storage.get_assets_by_group("nope") == []


def test_materialization_updates_record_and_reregistration_keeps_it(storage: Storage) -> None:
    storage._register_assets([AssetRecord("a", group="core", code_version="1")])
    materialize(storage, "a", run_id="r7", data_version="dv", code_version="1", inputs=[("up", "u1")], timestamp=42)
    record = storage.get_asset_record("a")
    assert record is not None
    assert record.last_event_id == "r7/a/None/42/mat"
    assert (record.last_run_id, record.last_timestamp, record.last_data_version) == ("r7", 42, "dv")
    assert record.last_materialization_code_version == "1"
    assert record.last_input_data_versions == [("up", "u1")]

    storage._register_assets([AssetRecord("a", tags=["new"], group="other", code_version="2")])
    record = storage.get_asset_record("a")
    assert record is not None
    assert (record.tags, record.group, record.code_version) == (["new"], "other", "2")
    assert (record.last_data_version, record.last_materialization_code_version) == ("dv", "1")
    assert [r.asset_key for r in storage.get_asset_records()] == ["a"]


def test_observation_updates_last_fields_but_not_materialization_fields(storage: Storage) -> None:
    materialize(storage, "ext", data_version="m1", code_version="c1", inputs=[("x", "1")], timestamp=1)
    storage._append_events(
        [event("obs", "Observation", "ext", "r2", data_version="o1", code_version="ignored", timestamp=5)]
    )
    record = storage.get_asset_record("ext")
    assert record is not None
    assert (record.last_event_id, record.last_run_id, record.last_data_version) == ("obs", "r2", "o1")
    assert record.last_timestamp == 5
    assert record.last_materialization_code_version == "c1"
    assert record.last_input_data_versions == [("x", "1")]
    latest = storage.get_latest_materialization("ext")
    assert latest is not None and latest.data_version == "m1"


def test_events_for_unregistered_asset_create_a_record(storage: Storage) -> None:
    storage._append_events([event("o", "Observation", "source", data_version="v")])
    record = storage.get_asset_record("source")
    assert record == AssetRecord(
        "source", last_event_id="o", last_run_id="run-1", last_timestamp=0, last_data_version="v"
    )


# -- staleness --------------------------------------------------------------------------


def register_chain(storage: Storage, code_versions: dict[str, str | None]) -> None:
    storage._register_assets([AssetRecord(key, code_version=cv) for key, cv in code_versions.items()])
    storage._register_topology({"up": [], "mid": ["up"], "down": ["mid"]})


def test_staleness_missing_and_up_to_date(storage: Storage) -> None:
    register_chain(storage, {"up": "1", "mid": None, "down": None})
    materialize(storage, "up", data_version="u1", code_version="1")
    materialize(storage, "mid", data_version="m1", inputs=[("up", "u1")])
    assert storage.compute_staleness() == {
        "up": ("UpToDate", []),
        "mid": ("UpToDate", []),
        "down": ("Missing", []),
    }


def test_staleness_from_code_version_change(storage: Storage) -> None:
    register_chain(storage, {"up": "1", "mid": None, "down": None})
    materialize(storage, "up", data_version="u1", code_version="1")
    materialize(storage, "mid", data_version="m1", inputs=[("up", "u1")])
    storage._register_assets([AssetRecord("up", code_version="2")])
    staleness = storage.compute_staleness()
    assert staleness["up"] == ("Stale", [StaleCause("up", "Code", "code version changed", None)])
    assert staleness["mid"] == ("Stale", [StaleCause("mid", "Data", "upstream 'up' is stale", "up")])


def test_staleness_from_upstream_data_version(storage: Storage) -> None:
    register_chain(storage, {"up": None, "mid": None, "down": None})
    materialize(storage, "up", data_version="u1")
    materialize(storage, "mid", data_version="m1", inputs=[("up", "u1")])
    materialize(storage, "down", data_version="d1", inputs=[("mid", "m1")])
    materialize(storage, "up", data_version="u2", run_id="run-2")
    staleness = storage.compute_staleness()
    assert staleness["up"] == ("UpToDate", [])
    assert staleness["mid"] == ("Stale", [StaleCause("mid", "Data", "upstream 'up' has new data version", "up")])
    assert staleness["down"] == ("Stale", [StaleCause("down", "Data", "upstream 'mid' is stale", "mid")])
    # same data version again: the consumer is not stale
    materialize(storage, "up", data_version="u1", run_id="run-3")
    assert storage.compute_staleness()["mid"] == ("UpToDate", [])


def test_staleness_without_recorded_input_version_uses_timestamps(storage: Storage) -> None:
    register_chain(storage, {"up": None, "mid": None, "down": None})
    materialize(storage, "up", data_version="u1", timestamp=10)
    materialize(storage, "mid", data_version="m1", timestamp=20)
    assert storage.compute_staleness()["mid"] == ("UpToDate", [])
    materialize(storage, "up", data_version="u2", timestamp=30)
    status, causes = storage.compute_staleness()["mid"]
    assert status == "Stale" and causes[0].dependency == "up" and causes[0].category == "Data"


def test_staleness_survives_cycles_and_deep_chains(storage: Storage) -> None:
    storage._register_assets([AssetRecord("x"), AssetRecord("y")])
    storage._register_topology({"x": ["y"], "y": ["x"]})
    materialize(storage, "x")
    assert storage.compute_staleness() == {"x": ("UpToDate", []), "y": ("Missing", [])}
    depth = 3000
    names = [f"n{i}" for i in range(depth)]
    storage._register_assets([AssetRecord(name) for name in names])
    storage._register_topology({name: ([names[i - 1]] if i else []) for i, name in enumerate(names)})
    assert storage.compute_staleness()[names[-1]] == ("Missing", [])


# -- runs -------------------------------------------------------------------------------


def run(run_id: str, start_time: int, status: str = "Started", **fields: object) -> RunRecord:
    return RunRecord(run_id=run_id, start_time=start_time, status=status, **fields)  # type: ignore[arg-type]


def test_runs_newest_first_with_status_filter(storage: Storage) -> None:
    storage._create_run(run("old", 1, "Success"))
    storage._create_run(run("new", 3, "Failure"))
    storage._create_run(run("mid", 2, "Success"))
    storage._create_run(run("mid-twin", 2, "Queued"))
    assert [r.run_id for r in storage.get_runs()] == ["new", "mid-twin", "mid", "old"]
    assert [r.run_id for r in storage.get_runs(limit=2)] == ["new", "mid-twin"]
    assert [r.run_id for r in storage.get_runs(status="Success")] == ["mid", "old"]
    assert storage.get_runs(status="Canceled") == []
    for bad in ("Cancelled", "Running", "success"):
        with pytest.raises(StorageError, match=f"^Unknown run status: {bad}$"):
            storage.get_runs(status=bad)


def test_run_record_round_trip_and_updates(storage: Storage) -> None:
    record = RunRecord(
        run_id="r1",
        job_name="nightly",
        status="Started",
        start_time=10,
        tags=[("rivers/priority", "5"), ("team", "data")],
        node_names=["a", "b"],
        priority=5,
        partition_key="2024-01-01",
        block_reason=None,
        launched_by=LaunchedBy.schedule("nightly_schedule"),
    )
    storage._create_run(record)
    assert storage.get_run("r1") == record
    assert storage.get_run("missing") is None
    storage._update_run("r1", status="Success", end_time=99)
    storage._update_run("r1", node_names=["a", "b", "c"])
    updated = storage.get_run("r1")
    assert updated is not None
    assert (updated.status, updated.end_time, updated.node_names) == ("Success", 99, ["a", "b", "c"])
    assert updated.launched_by == LaunchedBy.schedule("nightly_schedule")
    with pytest.raises(StorageError, match="Unknown run status: Done"):
        storage._update_run("r1", status="Done")
    with pytest.raises(StorageError, match="missing"):
        storage._update_run("missing", status="Failure")
    with pytest.raises(StorageError, match="Unknown run status: Running"):
        storage._create_run(run("r2", 1, "Running"))
    assert storage.get_run("r2") is None


def test_run_id_reuse_replaces_the_run(storage: Storage) -> None:
    storage._create_run(run("r", 5, "Failure", launched_by=LaunchedBy.backfill("bf")))
    storage._create_run(run("other", 5))
    storage._create_run(run("r", 5, "Started"))
    assert [r.run_id for r in storage.get_runs()] == ["r", "other"]
    reused = storage.get_run("r")
    assert reused is not None and reused.status == "Started" and reused.launched_by == LaunchedBy.manual()


def test_cancellation_flag(storage: Storage) -> None:
    storage._create_run(run("r", 1))
    assert storage.is_cancelled("r") is False
    storage.request_cancellation("r")
    storage.request_cancellation("r")
    assert storage.is_cancelled("r") is True
    assert storage.is_cancelled("other") is False


def test_run_outcome_and_progress(storage: Storage) -> None:
    storage._create_run(run("r", 1, node_names=["a", "b", "c"]))
    assert storage.get_run_progress("r") == (0, 3)
    materialize(storage, "a", run_id="r")
    assert storage.get_run_progress("r") == (1, 3)
    assert storage.get_run_progress("unknown") == (0, 0)

    storage.set_run_outcome("r", "Cancelled", 2, 3, message="stopped by user")
    assert storage.get_run_progress("r") == (2, 3)
    cancelled = storage.get_run("r")
    assert cancelled is not None and cancelled.status == "Canceled" and cancelled.end_time is not None

    storage._create_run(run("s", 1, end_time=7))
    storage.set_run_outcome("s", "Success", 1, 1)
    succeeded = storage.get_run("s")
    assert succeeded is not None and (succeeded.status, succeeded.end_time) == ("Success", 7)
    storage.set_run_outcome("no-record", "Failure", 0, 4)
    assert storage.get_run_progress("no-record") == (0, 4)


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (("Canceled", 0, 1), "Invalid run outcome status 'Canceled'"),
        (("Started", 0, 1), "Invalid run outcome status 'Started'"),
        (("Success", -1, 1), "completed_steps must be a non-negative int"),
        (("Success", 0, 1.5), "total_steps must be a non-negative int"),
        (("Success", 3, 2), r"completed_steps \(3\) exceeds total_steps \(2\)"),
    ],
)
def test_run_outcome_validation(storage: Storage, arguments: tuple[object, ...], message: str) -> None:
    storage._create_run(run("r", 1))
    with pytest.raises(ValueError, match=message):
        storage.set_run_outcome("r", *arguments)  # type: ignore[arg-type]
    record = storage.get_run("r")
    assert record is not None and record.status == "Started"


# -- kv ---------------------------------------------------------------------------------


def test_kv_is_bytes_only(storage: Storage) -> None:
    assert storage.kv_get("cursor") is None
    storage.kv_set("cursor", b"42")
    assert storage.kv_get("cursor") == b"42"
    storage.kv_set("cursor", bytearray(b"\x00\xff"))
    assert storage.kv_get("cursor") == b"\x00\xff"
    assert type(storage.kv_get("cursor")) is bytes
    with pytest.raises(TypeError, match="must be bytes, not str"):
        storage.kv_set("cursor", "42")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="must be bytes, not int"):
        storage.kv_set("cursor", 42)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="key must be str"):
        storage.kv_set(1, b"x")  # type: ignore[arg-type]
    assert storage.kv_get("cursor") == b"\x00\xff"


def test_kv_update_from_many_threads_loses_no_update(storage: Storage) -> None:
    def add_one(_: int) -> None:
        for _ in range(50):
            storage._kv_update("counter", lambda value: str(int(value or b"0") + 1).encode())

    in_threads(add_one, 4)
    assert storage.kv_get("counter") == b"200"


def test_public_kv_update_is_an_atomic_compare_and_set(storage: Storage) -> None:
    winners: list[int] = []

    def claim(index: int) -> None:
        def take(value: bytes | None) -> bytes:
            return str(index).encode() if value is None else value

        storage.kv_update("claim", take)
        if storage.kv_get("claim") == str(index).encode():
            winners.append(index)

    in_threads(claim, 4)
    assert len(winners) == 1
    with pytest.raises(TypeError, match=r"kv_update\(\) value of 'claim' must be bytes, not str"):
        storage.kv_update("claim", lambda value: "text")  # type: ignore[arg-type, return-value]
    with pytest.raises(TypeError, match=r"kv_update\(\) key must be str"):
        storage.kv_update(1, lambda value: b"x")  # type: ignore[arg-type]
    assert storage.kv_get("claim") == str(winners[0]).encode()


class _PlainKvStorage(SqliteStorage):
    """A backend without its own ``_kv_update`` (there is no thread-only default any more)."""

    _kv_update = Storage._kv_update


def test_a_backend_without_an_atomic_kv_update_is_rejected(tmp_path: Path) -> None:
    from rivers.storage.contract import StorageCapabilityError, StorageContractError, check_backend

    storage = _PlainKvStorage(tmp_path / "plain.db")
    with pytest.raises(StorageContractError, match=r"_PlainKvStorage.*'kv' \(_kv_update\)"):
        check_backend(storage)
    with pytest.raises(StorageCapabilityError, match="_PlainKvStorage does not support 'kv'"):
        storage._kv_update("k", lambda value: b"x")
    storage.close()


# -- dynamic partitions -----------------------------------------------------------------


def test_dynamic_partitions_keep_order_and_are_idempotent(storage: Storage) -> None:
    storage.add_dynamic_partitions("tenants", ["acme", "globex"])
    storage.add_dynamic_partitions("tenants", ["initech", "acme", "initech"])
    assert storage.get_dynamic_partitions("tenants") == ["acme", "globex", "initech"]
    assert storage.has_dynamic_partition("tenants", "globex") is True
    assert storage.has_dynamic_partition("tenants", "umbrella") is False
    assert storage.has_dynamic_partition("other", "acme") is False
    storage.delete_dynamic_partition("tenants", "acme")
    storage.delete_dynamic_partition("tenants", "never-there")
    storage.delete_dynamic_partition("no-namespace", "x")
    storage.add_dynamic_partitions("tenants", ["acme"])
    assert storage.get_dynamic_partitions("tenants") == ["globex", "initech", "acme"]


def test_dynamic_partition_validation(storage: Storage) -> None:
    with pytest.raises(StorageError, match="^dynamic partition keys must not be empty$"):
        storage.add_dynamic_partitions("t", ["ok", ""])
    with pytest.raises(StorageError, match=r"^partition key 'x\|y' contains reserved character '\|'"):
        storage.add_dynamic_partitions("t", ["x|y"])
    with pytest.raises(StorageError, match="^partition key 'a,b' contains reserved character ','"):
        storage.add_dynamic_partitions("t", ["fine", "a,b"])
    with pytest.raises(TypeError, match="list of strings"):
        storage.add_dynamic_partitions("t", "acme")
    with pytest.warns(UserWarning, match="No dynamic partitions found for 't'"):
        assert storage.get_dynamic_partitions("t") == []


def test_unknown_namespace_warns_but_an_emptied_one_does_not(storage: Storage) -> None:
    with pytest.warns(UserWarning, match="No dynamic partitions found for 'ghost'"):
        assert storage.get_dynamic_partitions("ghost") == []
    with pytest.warns(UserWarning, match="no keys given"):
        storage.add_dynamic_partitions("empty", [])
    storage.add_dynamic_partitions("emptied", ["k"])
    storage.delete_dynamic_partition("emptied", "k")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert storage.get_dynamic_partitions("empty") == []
        assert storage.get_dynamic_partitions("emptied") == []


# -- async wrappers ---------------------------------------------------------------------


def test_every_async_wrapper_is_a_coroutine_of_its_sync_method(storage: Storage) -> None:
    for name in ASYNC_METHODS:
        wrapper = getattr(storage, f"async_{name}")
        assert inspect.iscoroutinefunction(wrapper), name
        assert wrapper.__name__ == f"async_{name}"
        assert inspect.signature(wrapper) == inspect.signature(getattr(storage, name))


def test_async_wrappers_return_the_sync_results(storage: Storage) -> None:
    storage._create_run(run("r", 1))
    materialize(storage, "a", run_id="r")

    store: Any = storage  # the async_* methods are generated, invisible to type checkers

    async def scenario() -> None:
        await store.async_kv_set("k", b"v")
        assert await store.async_kv_get("k") == b"v"
        await store.async_add_dynamic_partitions("d", ["x"])
        assert await store.async_has_dynamic_partition("d", "x") is True
        assert await store.async_get_dynamic_partitions("d") == ["x"]
        assert await store.async_get_run("r") == storage.get_run("r")
        assert await store.async_get_runs(status="Started") == storage.get_runs(status="Started")
        assert await store.async_get_events_for_run("r") == storage.get_events_for_run("r")
        assert await store.async_get_events_for_asset("a", limit=1) == storage.get_events_for_asset("a", 1)
        assert await store.async_get_asset_records() == storage.get_asset_records()
        latest = await store.async_get_latest_materialization("a")
        assert latest is not None and latest.event_type == "Materialization"
        with pytest.raises(StorageError, match="Unknown run status"):
            await store.async_get_runs(status="nope")

    asyncio.run(scenario())


# -- concurrency ------------------------------------------------------------------------


def test_concurrent_writers_lose_nothing(storage: Storage) -> None:
    threads_count, steps = 6, 40

    def writer(index: int) -> None:
        for step in range(steps):
            materialize(storage, f"asset-{index}", run_id=f"run-{index}", data_version=str(step), timestamp=step)
            storage.is_cancelled(f"run-{index}")

    in_threads(writer, threads_count)
    for index in range(threads_count):
        events = storage.get_events_for_run(f"run-{index}")
        assert len(events) == 3 * steps
        assert [e.event_type for e in events[:3]] == ["StepStart", "Materialization", "StepSuccess"]
        record = storage.get_asset_record(f"asset-{index}")
        assert record is not None and record.last_data_version == str(steps - 1)
