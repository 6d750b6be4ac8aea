"""A conformance suite every storage backend can run: ours and third parties'.

Subclass :class:`StorageConformance` in a test module (the name must start
with ``Test`` for pytest to collect it) and say how to get a fresh, empty
store, and how another process opens the same one::

    from rivers.testing.storage import StorageConformance
    from my_plugin import MyStorage

    class TestMyStorage(StorageConformance):
        def make_storage(self, tmp_path):
            return MyStorage(database=new_empty_database())   # a fresh store per test

        def storage_url(self, storage):
            return storage.url          # Storage.connect(url) in a child process sees the same data

``make_storage`` is called once per test with the test's ``tmp_path``; a
server backend typically creates a new database (or schema) there. The
store is closed after the test with :meth:`StorageConformance.close_storage`.
``storage_url`` returns the URL that a child process (``multiprocessing``,
spawn context) passes to :meth:`rivers.Storage.connect` — with the keyword
arguments of :meth:`StorageConformance.connect_config` — to open the same
store; ``None`` skips the cross-process tests (an in-memory store). The
backend's plugin must be installed for ``Storage.connect`` to find its
scheme in the child.

What is checked
---------------

* the contract itself: ``check_backend`` accepts the backend;
* round trips of every record type: runs, events (every field, unicode,
  metadata of 1 MB), step logs, asset records, dynamic partitions, kv
  (``kv_set_many`` too),
  run outcomes, backfills, ticks, automation cursors, leases, pools;
* ordering and cursors: runs newest first paged by cursor under every
  filter, events oldest first, events after a global cursor;
* derived state: latest materialization per asset and partition, the asset
  catalogue, staleness;
* atomicity: ``_kv_update`` from several processes loses nothing; a
  reader never sees half of a ``kv_set_many`` (skipped for a backend keeping
  the non-atomic default ``_kv_put_many``);
  concurrent writers in 4 processes x 250 runs lose no run and no event;
* pools: claims, pending steps, release and lease expiry;
* leases: two contenders (threads and processes), one winner, failover
  after expiry;
* partition status ranges over 100,000 keys;
* run monitoring: owner records and heartbeats; a run whose owner process
  died is failed ("process died") by the next reader, a live one is not;
  reconciling is idempotent and several readers (threads, processes)
  reconcile each dead run once; queue claims by priority and age never hand
  a run to two claimers (threads, processes) (``rivers.testing._storage_monitoring``);
* bad input: specific errors from :mod:`rivers.exceptions`.

Tests of a capability the backend does not declare (``pools``,
``backfills``, ``automation``, ``leases``, ``partition_status``,
``run_monitoring``) are skipped
with the reason. ``process_count`` and ``runs_per_process`` size the
concurrent-writer test; ``lease_seconds`` is the short lease used by the
expiry tests (raise it for a slow server).
"""

from __future__ import annotations

import multiprocessing
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest

from rivers.exceptions import StorageError
from rivers.storage import Storage
from rivers.storage.contract import Capability, check_backend
from rivers.storage.control_records import StoredBackfill, StoredTick
from rivers.storage.records import AssetRecord, LaunchedBy, RunRecord, StoredEvent, StoredLog
from rivers.testing._storage_monitoring import RunMonitoringConformance

__all__ = ["StorageConformance"]

_SPAWN_TIMEOUT_S = 120.0


# ----------------------------------------------------------------------
# Work done in child processes (module level: the spawn context pickles them by name)
# ----------------------------------------------------------------------


def _open(url: str, config: dict[str, Any]) -> Storage:
    return Storage.connect(url, **config)


def _child_write_runs(url: str, config: dict[str, Any], worker: int, count: int, start: Any) -> None:
    """Write ``count`` runs, each with three events, as the executor does (one run at a time)."""
    storage = _open(url, config)
    try:
        start.wait(_SPAWN_TIMEOUT_S)
        for index in range(count):
            run_id = f"w{worker}-r{index}"
            now = time.time_ns()
            storage._create_run(RunRecord(run_id, status="Started", start_time=now, node_names=["step"]))
            storage._append_events([
                StoredEvent(f"{run_id}-1", "StepStart", "step", run_id, None, now),
                StoredEvent(f"{run_id}-2", "Materialization", "step", run_id, None, now + 1, [("worker", str(worker))],
                            f"v{index}"),
                StoredEvent(f"{run_id}-3", "StepSuccess", "step", run_id, None, now + 2),
            ])
            storage._update_run(run_id, status="Success", end_time=now + 3)
    finally:
        storage.close()


def _child_increment(url: str, config: dict[str, Any], count: int, start: Any) -> None:
    storage = _open(url, config)
    try:
        start.wait(_SPAWN_TIMEOUT_S)
        for _ in range(count):
            storage._kv_update("counter", lambda value: str(int(value or b"0") + 1).encode())
    finally:
        storage.close()


def _child_contend(url: str, config: dict[str, Any], owner: str, seconds: float, results: Any, start: Any) -> None:
    storage = _open(url, config)
    try:
        start.wait(_SPAWN_TIMEOUT_S)
        lease = storage.acquire_lease("leader", owner, seconds)
        results.put((owner, lease is not None))
    finally:
        storage.close()


def _run_children(target: Callable[..., None], argument_lists: list[tuple[Any, ...]]) -> None:
    """Start one spawned process per argument tuple (each gets a shared start event last), wait, check exit codes."""
    context = multiprocessing.get_context("spawn")
    start = context.Event()
    processes = [context.Process(target=target, args=(*arguments, start)) for arguments in argument_lists]
    for process in processes:
        process.start()
    start.set()
    for process in processes:
        process.join(_SPAWN_TIMEOUT_S)
    codes = [process.exitcode for process in processes]
    for process in processes:
        if process.is_alive():
            process.kill()
    assert codes == [0] * len(processes), f"child processes failed: exit codes {codes}"


# ----------------------------------------------------------------------
# Builders of records
# ----------------------------------------------------------------------


def _run(run_id: str, start_time: int, **fields: Any) -> RunRecord:
    return RunRecord(run_id, start_time=start_time, node_names=fields.pop("node_names", ["a"]), **fields)


def _event(run_id: str, number: int, event_type: str = "StepStart", asset_key: str | None = "a", **fields: Any) -> StoredEvent:
    return StoredEvent(f"{run_id}-e{number}", event_type, asset_key, run_id, fields.pop("partition_key", None),
                       fields.pop("timestamp", 1_000 + number), **fields)


class StorageConformance(RunMonitoringConformance):
    """Behaviours every storage backend must show; subclass it and implement :meth:`make_storage`."""

    #: Concurrent writers: processes x runs each (every run has three events).
    process_count: ClassVar[int] = 4
    runs_per_process: ClassVar[int] = 250
    #: Lease (seconds) of the expiry tests of pools and leases.
    lease_seconds: ClassVar[float] = 0.3

    # -- hooks ---------------------------------------------------------------------

    def make_storage(self, tmp_path: Path) -> Storage:
        """Return a fresh, empty store for one test (required)."""
        raise NotImplementedError(f"{type(self).__name__} must implement make_storage(self, tmp_path)")

    def storage_url(self, storage: Storage) -> str | None:
        """The URL another process opens with ``Storage.connect`` to see ``storage``; ``None``: no cross-process tests."""
        return None

    def connect_config(self) -> dict[str, Any]:
        """Keyword arguments passed with the URL to ``Storage.connect`` in a child process (picklable)."""
        return {}

    def close_storage(self, storage: Storage) -> None:
        """Release a store made by :meth:`make_storage` (default: ``storage.close()``)."""
        storage.close()

    # -- fixtures and helpers -----------------------------------------------------------

    @pytest.fixture
    def storage(self, tmp_path: Path) -> Iterator[Storage]:
        """A fresh store from :meth:`make_storage`, closed after the test."""
        store = self.make_storage(tmp_path)
        try:
            yield store
        finally:
            self.close_storage(store)

    def _require(self, storage: Storage, capability: Capability) -> None:
        if capability not in type(storage).capabilities:
            pytest.skip(f"{type(storage).__name__} does not declare the capability {capability.value!r}")

    def _url(self, storage: Storage) -> str:
        url = self.storage_url(storage)
        if url is None:
            pytest.skip(f"{type(self).__name__}.storage_url() is None: no cross-process tests")
        return url

    # ==================================================================================
    # The contract
    # ==================================================================================

    def test_backend_fulfils_the_contract(self, storage: Storage) -> None:
        check_backend(storage)
        assert Capability.RUNS in type(storage).capabilities

    # ==================================================================================
    # Runs
    # ==================================================================================

    def test_run_round_trip_and_update(self, storage: Storage) -> None:
        record = RunRecord(
            "run-1", job_name="daily", status="Started", start_time=10, tags=[("k", "v"), ("ü", "ñ")],
            node_names=["a", "b"], priority=-10, partition_key="2024-01-01", block_reason=None,
            launched_by=LaunchedBy.schedule("nightly"),
        )
        storage._create_run(record)
        assert storage.get_run("run-1") == record
        storage._update_run("run-1", status="Success", end_time=20, node_names=["a"])
        assert storage.get_run("run-1") == record.evolve(status="Success", end_time=20, node_names=["a"])
        assert storage.get_run("missing") is None
        with pytest.raises(StorageError, match="missing"):
            storage._update_run("missing", status="Success")
        with pytest.raises(StorageError, match="Unknown run status"):
            storage._update_run("run-1", status="Bogus")

    def test_started_runs_are_readable_at_once(self, storage: Storage) -> None:
        storage._start_run(_run("s", 5))
        assert storage.get_run("s") is not None
        assert [run.run_id for run in storage.get_runs()] == ["s"]

    def test_reused_run_id_replaces_the_run_and_is_newest(self, storage: Storage) -> None:
        storage._create_run(_run("a", 1))
        storage._create_run(_run("b", 1))
        storage._create_run(_run("a", 1, status="Failure"))
        assert [run.run_id for run in storage.get_runs()] == ["a", "b"]
        assert storage.get_run("a").status == "Failure"  # type: ignore[union-attr]

    def test_runs_newest_first_with_status_filter(self, storage: Storage) -> None:
        for index, status in enumerate(["Success", "Failure", "Success", "Started"]):
            storage._create_run(_run(f"r{index}", 100 + index, status=status))
        assert [run.run_id for run in storage.get_runs()] == ["r3", "r2", "r1", "r0"]
        assert [run.run_id for run in storage.get_runs(limit=2)] == ["r3", "r2"]
        assert [run.run_id for run in storage.get_runs(status="Success")] == ["r2", "r0"]
        assert storage.get_runs(limit=0) == []

    def test_query_runs_filters_and_pages(self, storage: Storage) -> None:
        launchers = [LaunchedBy.manual(), LaunchedBy.schedule("s"), LaunchedBy.backfill("bf")]
        for index in range(30):
            storage._create_run(_run(
                f"r{index:02}", 1_000 + index // 2,  # pairs share a start time: creation order decides
                job_name="job" if index % 3 == 0 else None,
                status="Success" if index % 2 else "Failure",
                tags=[("team", "a" if index % 5 == 0 else "b"), ("n", str(index))],
                launched_by=launchers[index % 3],
            ))
        newest_first = [f"r{index:02}" for index in range(29, -1, -1)]

        def collect(**filters: Any) -> list[str]:
            seen: list[str] = []
            cursor = None
            while True:
                page = storage.query_runs(cursor=cursor, limit=4, **filters)
                assert len(page.runs) <= 4
                seen += [run.run_id for run in page.runs]
                if page.next_cursor is None:
                    return seen
                cursor = page.next_cursor

        assert collect() == newest_first
        assert collect(status="Success") == [r for r in newest_first if int(r[1:]) % 2]
        assert collect(status=["Success", "Failure"]) == newest_first
        assert collect(job_name="job") == [r for r in newest_first if int(r[1:]) % 3 == 0]
        assert collect(tags={"team": "a"}) == [r for r in newest_first if int(r[1:]) % 5 == 0]
        assert collect(tags=[("team", "b"), ("n", "7")]) == ["r07"]
        assert collect(launched_by="schedule") == [r for r in newest_first if int(r[1:]) % 3 == 1]
        assert collect(launched_by=LaunchedBy.backfill("bf")) == [r for r in newest_first if int(r[1:]) % 3 == 2]
        assert collect(launched_by=LaunchedBy.backfill("other")) == []
        assert collect(started_after=1_010, started_before=1_012) == ["r23", "r22", "r21", "r20"]
        assert collect(status="Canceled") == []
        whole = storage.query_runs(limit=30)
        assert [run.run_id for run in whole.runs] == newest_first and whole.next_cursor is None

    def test_run_outcome_progress_and_cancellation(self, storage: Storage) -> None:
        storage._create_run(_run("r", 1, node_names=["a", "b"]))
        storage._append_events([_event("r", 1, "StepSuccess", "a")])
        assert storage.get_run_progress("r") == (1, 2)
        assert storage._completed_steps("r") == {"a"}
        storage.set_run_outcome("r", "Cancelled", 1, 2, "stopped")
        run = storage.get_run("r")
        assert run is not None and run.status == "Canceled" and run.end_time is not None
        assert storage.get_run_progress("r") == (1, 2)
        assert storage.is_cancelled("r") is False
        storage.request_cancellation("r")
        assert storage.is_cancelled("r") is True

    # ==================================================================================
    # Events and logs
    # ==================================================================================

    def test_event_round_trip_of_every_field(self, storage: Storage) -> None:
        storage._create_run(_run("r", 1))
        event = StoredEvent(
            "e1", "Materialization", "résumé", "r", "2024-01-01", 123,
            [("text", '{"raw": "ü ☃ 𝄞"}'), ("empty", "")], "dv-1", "cv-1", [("up", "dv-0")],
        )
        plain = StoredEvent("e2", "StepSuccess", None, "r", None, 124)
        storage._append_events([event, plain])
        assert storage.get_events_for_run("r") == [event, plain]
        assert storage.get_events_for_asset("résumé") == [event]

    def test_large_metadata_survives(self, storage: Storage) -> None:
        value = "x" * 1_000_000 + "☃"
        event = _event("r", 1, "Materialization", metadata=[("big", value)] + [(f"k{i}", str(i)) for i in range(500)])
        storage._append_events([event])
        assert storage.get_events_for_run("r") == [event]

    def test_events_for_asset_newest_first_with_limit(self, storage: Storage) -> None:
        storage._append_events([_event("r", number, "Observation") for number in range(5)])
        assert [e.id for e in storage.get_events_for_asset("a", limit=3)] == ["r-e4", "r-e3", "r-e2"]
        assert storage.get_events_for_asset("a", limit=0) == []

    def test_events_after_a_cursor(self, storage: Storage) -> None:
        storage._append_events([_event("r1", n) for n in range(3)])
        storage._append_events([_event("r2", n, "StepSuccess") for n in range(3)])
        first = storage.get_events_after(0, limit=2)
        assert [e.id for e in first.events] == ["r1-e0", "r1-e1"] and first.cursor > 0
        rest = storage.get_events_after(first.cursor)
        assert [e.id for e in rest.events] == ["r1-e2", "r2-e0", "r2-e1", "r2-e2"]
        assert rest.cursor > first.cursor
        empty = storage.get_events_after(rest.cursor)
        assert empty.events == [] and empty.cursor == rest.cursor
        storage._append_events([_event("r1", 9)])
        assert [e.id for e in storage.get_events_after(rest.cursor).events] == ["r1-e9"]
        assert [e.id for e in storage.get_events_after(0, run_id="r2", limit=2).events] == ["r2-e0", "r2-e1"]
        assert [e.id for e in storage.get_events_after(first.cursor, run_id="r1").events] == ["r1-e2", "r1-e9"]
        assert len(storage.get_events_after(0, event_types=["StepSuccess"]).events) == 3

    def test_batched_appends_are_all_stored(self, storage: Storage) -> None:
        storage._create_run(_run("r", 1))
        with storage._batch():
            for number in range(50):
                storage._append_events([_event("r", number)])
            storage._append_logs([StoredLog("l1", "r", "a", 5, "out ☃", None, "log")])
            storage._update_run("r", status="Success", end_time=9)
        assert len(storage.get_events_for_run("r")) == 50
        assert storage.get_run_logs("r") == [StoredLog("l1", "r", "a", 5, "out ☃", None, "log")]
        assert storage.get_run("r").status == "Success"  # type: ignore[union-attr]

    def test_log_round_trip(self, storage: Storage) -> None:
        logs = [StoredLog("l1", "r", "a", 1, "out", "err", "rec"), StoredLog("l2", "r", "b", 2, None, None, None)]
        storage._append_logs(logs)
        assert storage.get_run_logs("r") == logs
        assert storage.get_run_logs("other") == []

    # ==================================================================================
    # Assets, topology, catalogue, staleness
    # ==================================================================================

    def test_asset_records_and_latest_materializations(self, storage: Storage) -> None:
        storage._register_assets([
            AssetRecord("up", tags=["t"], kinds=["k"], group="g", code_version="1", pool=[("p", 1)]),
            AssetRecord("down", code_version="1"),
        ])
        storage._register_topology({"up": [], "down": ["up"]})
        assert storage.get_topology() == {"up": [], "down": ["up"]}
        assert [r.asset_key for r in storage.get_asset_records()] == ["up", "down"]
        assert storage.get_asset_record("up") == AssetRecord(
            "up", tags=["t"], kinds=["k"], group="g", code_version="1", pool=[("p", 1)]
        )
        storage._append_events([
            _event("r", 1, "Materialization", "up", partition_key="p1", data_version="d1", code_version="1"),
            _event("r", 2, "Materialization", "up", partition_key="p2", data_version="d2", code_version="1"),
            _event("r", 3, "Materialization", "up", partition_key="p1", data_version="d3", code_version="1"),
        ])
        assert storage.get_latest_materialization("up", "p1").id == "r-e3"  # type: ignore[union-attr]
        assert storage.get_latest_materialization("up", "p2").id == "r-e2"  # type: ignore[union-attr]
        assert storage.get_latest_materialization("up").id == "r-e3"  # type: ignore[union-attr]
        assert storage.get_latest_materialization("down") is None
        assert [str(key) for key in storage.get_materialized_partitions("up")] == ["p1", "p2"]
        assert storage.count_materialized_partitions("up") == 2
        record = storage.get_asset_record("up")
        assert record is not None and (record.last_event_id, record.last_data_version) == ("r-e3", "d3")
        assert record.tags == ["t"]  # declared fields survive events
        storage._register_assets([AssetRecord("up", code_version="2")])
        assert storage.get_asset_record("up").last_event_id == "r-e3"  # type: ignore[union-attr]

    def test_observation_updates_only_observation_fields(self, storage: Storage) -> None:
        storage._append_events([_event("r", 1, "Materialization", "x", code_version="1", data_version="m")])
        storage._append_events([_event("r", 2, "Observation", "x", data_version="o")])
        record = storage.get_asset_record("x")
        assert record is not None
        assert (record.last_event_id, record.last_data_version, record.last_materialization_code_version) == (
            "r-e2", "o", "1")
        assert storage.get_latest_materialization("x").id == "r-e1"  # type: ignore[union-attr]

    def test_asset_catalogue_and_staleness(self, storage: Storage) -> None:
        storage._register_assets([AssetRecord("up", code_version="1"), AssetRecord("down", code_version="1"),
                                  AssetRecord("never")])
        storage._register_topology({"up": [], "down": ["up"], "never": []})
        storage._append_events([
            _event("r", 1, "Materialization", "up", data_version="u1", code_version="1"),
            _event("r", 2, "Materialization", "down", code_version="1", input_data_versions=[("up", "u1")]),
            _event("r", 3, "Materialization", "up", partition_key="k1", data_version="u2", code_version="1"),
        ])
        entries = {entry.asset_key: entry for entry in storage.get_asset_catalogue()}
        assert list(entries) == ["up", "down", "never"]
        assert entries["up"].last_materialization.id == "r-e3"  # type: ignore[union-attr]
        assert entries["up"].partition_counts["materialized"] == 1
        assert (entries["down"].staleness, entries["up"].staleness, entries["never"].staleness) == (
            "Stale", "UpToDate", "Missing")
        assert entries["down"].stale_causes[0].dependency == "up"
        assert entries["never"].last_materialization is None
        assert [entry.asset_key for entry in storage.get_asset_catalogue(["never", "up"])] == ["never", "up"]
        assert storage.compute_staleness()["down"][0] == "Stale"

    # ==================================================================================
    # kv and dynamic partitions
    # ==================================================================================

    def test_kv_round_trip(self, storage: Storage) -> None:
        storage.kv_set("k ☃", b"\x00\xff")
        assert storage.kv_get("k ☃") == b"\x00\xff"
        storage.kv_set("k ☃", b"")
        assert storage.kv_get("k ☃") == b""
        assert storage.kv_get("missing") is None
        storage.kv_set("big", b"z" * 2_000_000)
        assert storage.kv_get("big") == b"z" * 2_000_000

    def test_kv_set_many_round_trip(self, storage: Storage) -> None:
        storage.kv_set("b", b"old")
        buffers: dict[str, bytes | bytearray | memoryview] = {
            "a": b"1", "b": bytearray(b"2"), "c ☃": memoryview(b"\x00"), "big": b"z" * 1_000_000}
        storage.kv_set_many(buffers)
        assert [storage.kv_get(key) for key in ("a", "b", "c ☃")] == [b"1", b"2", b"\x00"]
        assert storage.kv_get("big") == b"z" * 1_000_000
        storage.kv_set_many({})
        assert storage.kv_get("a") == b"1"
        with pytest.raises(TypeError, match="mapping"):
            storage.kv_set_many([("a", b"x")])  # type: ignore[arg-type]
        with pytest.raises(TypeError, match="value of 'b' must be bytes, not str"):
            storage.kv_set_many({"a": b"x", "b": "text"})  # type: ignore[dict-item]
        assert storage.kv_get("a") == b"1"  # a rejected batch writes nothing

    def test_kv_set_many_is_atomic(self, storage: Storage) -> None:
        if type(storage)._kv_put_many is Storage._kv_put_many:
            pytest.skip(f"{type(storage).__name__} keeps the default _kv_put_many (one write per key, not atomic)")
        keys = [f"atomic/{index}" for index in range(8)]
        storage.kv_set_many(dict.fromkeys(keys, b"0"))
        done = threading.Event()
        torn: list[list[int]] = []

        def read() -> None:
            while not done.is_set():
                # values only grow, and are read first key first: an atomic batch never shows an earlier key
                # ahead of a later one; a key-by-key write (first key first) can
                seen = [int(storage.kv_get(key) or b"0") for key in keys]
                if seen != sorted(seen):
                    torn.append(seen)

        reader = threading.Thread(target=read)
        reader.start()
        try:
            for generation in range(1, 150):
                storage.kv_set_many({key: str(generation).encode() for key in keys})
        finally:
            done.set()
            reader.join()
        assert not torn, f"a reader saw half of a kv_set_many: {torn[:3]}"

    def test_kv_update_from_threads_loses_nothing(self, storage: Storage) -> None:
        def add() -> None:
            for _ in range(50):
                storage._kv_update("counter", lambda value: str(int(value or b"0") + 1).encode())

        threads = [threading.Thread(target=add) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert storage.kv_get("counter") == b"200"

    def test_kv_update_from_processes_loses_nothing(self, storage: Storage) -> None:
        url = self._url(storage)
        _run_children(_child_increment, [(url, self.connect_config(), 50)] * 4)
        assert storage.kv_get("counter") == b"200"

    def test_dynamic_partitions(self, storage: Storage) -> None:
        storage.add_dynamic_partitions("tenants", ["acme", "globex", "ü"])
        storage.add_dynamic_partitions("tenants", ["initech", "acme"])
        assert storage.get_dynamic_partitions("tenants") == ["acme", "globex", "ü", "initech"]
        assert storage.has_dynamic_partition("tenants", "ü") and not storage.has_dynamic_partition("tenants", "x")
        storage.delete_dynamic_partition("tenants", "globex")
        storage.delete_dynamic_partition("tenants", "never-there")
        assert storage.get_dynamic_partitions("tenants") == ["acme", "ü", "initech"]
        storage.add_dynamic_partitions("empty", ["gone"])
        storage.delete_dynamic_partition("empty", "gone")
        assert storage.get_dynamic_partitions("empty") == []  # a known namespace without keys
        with pytest.warns(UserWarning, match="No dynamic partitions found"):
            assert storage.get_dynamic_partitions("unknown") == []

    # ==================================================================================
    # Concurrent writers
    # ==================================================================================

    def test_concurrent_writers_in_processes_lose_nothing(self, storage: Storage) -> None:
        url = self._url(storage)
        count, per = self.process_count, self.runs_per_process
        _run_children(_child_write_runs, [(url, self.connect_config(), worker, per) for worker in range(count)])
        runs: list[str] = []
        cursor = None
        while True:
            page = storage.query_runs(limit=500, cursor=cursor)
            runs += [run.run_id for run in page.runs]
            if page.next_cursor is None:
                break
            cursor = page.next_cursor
        expected = {f"w{worker}-r{index}" for worker in range(count) for index in range(per)}
        assert len(runs) == len(expected) and set(runs) == expected
        assert all(run.status == "Success" for run in storage.get_runs(limit=count * per))
        events: list[StoredEvent] = []
        position = 0
        while True:
            event_page = storage.get_events_after(position, limit=1000)
            if not event_page.events:
                break
            assert event_page.cursor > position
            events += event_page.events
            position = event_page.cursor
        assert len(events) == 3 * len(expected)
        assert len({event.id for event in events}) == len(events)
        for run_id in ("w0-r0", f"w{count - 1}-r{per - 1}"):
            assert [e.event_type for e in storage.get_events_for_run(run_id)] == [
                "StepStart", "Materialization", "StepSuccess"]

    # ==================================================================================
    # Pools
    # ==================================================================================

    def test_pool_claims_pending_and_release(self, storage: Storage) -> None:
        self._require(storage, Capability.POOLS)
        storage.set_pool_limit("gpu", 1, "5m")
        assert [(p.pool_key, p.slot_limit, p.lease_duration_secs) for p in storage.get_pool_limits()] == [
            ("gpu", 1, 300)]
        assert storage._claim_concurrency_slots("r1", "a", [("gpu", 1)]).is_claimed
        waiting = storage._claim_concurrency_slots("r2", "b", [("gpu", 1)])
        assert not waiting.is_claimed and waiting.position == 1
        info = storage.get_pool_info("gpu")
        assert (info.claimed_count, info.pending_count) == (1, 1)
        assert [h.run_id for h in storage.get_pool_slot_holders("gpu")] == ["r1"]
        assert storage._renew_slot_lease("r1", "a") is True
        storage._free_concurrency_slots("r1", "a")
        assert storage._claim_concurrency_slots("r2", "b", [("gpu", 1)]).is_claimed
        storage._free_concurrency_slots_for_run("r2")
        assert storage.get_pool_info("gpu").claimed_count == 0
        with pytest.raises(StorageError, match="pool 'nope' not configured"):
            storage.get_pool_info("nope")

    def test_pool_leases_expire(self, storage: Storage) -> None:
        self._require(storage, Capability.POOLS)
        storage.set_pool_limit("p", 1, f"{int(self.lease_seconds * 1000)}ms")
        assert storage._claim_concurrency_slots("crashed", "a", [("p", 1)]).is_claimed
        assert not storage._claim_concurrency_slots("r2", "a", [("p", 1)]).is_claimed
        time.sleep(self.lease_seconds * 1.5)
        assert storage._renew_slot_lease("crashed", "a") is False
        assert storage._claim_concurrency_slots("r2", "a", [("p", 1)]).is_claimed
        storage._free_expired_leases()
        assert [h.run_id for h in storage.get_pool_slot_holders("p")] == ["r2"]

    # ==================================================================================
    # Leases (leader election)
    # ==================================================================================

    def test_lease_one_winner_and_failover_after_expiry(self, storage: Storage) -> None:
        self._require(storage, Capability.LEASES)
        first = storage.acquire_lease("leader", "a", self.lease_seconds)
        assert first is not None and first.owner == "a" and first.expires_at > first.acquired_at
        assert storage.acquire_lease("leader", "b", self.lease_seconds) is None
        renewed = storage.acquire_lease("leader", "a", self.lease_seconds)
        assert renewed is not None and renewed.acquired_at == first.acquired_at
        assert storage.get_lease("leader").owner == "a"  # type: ignore[union-attr]
        time.sleep(self.lease_seconds * 1.5)
        assert storage.get_lease("leader") is None
        taken = storage.acquire_lease("leader", "b", 30)
        assert taken is not None and taken.owner == "b"
        assert storage.release_lease("leader", "a") is False
        assert storage.release_lease("leader", "b") is True
        assert storage.get_lease("leader") is None
        assert storage.acquire_lease("leader", "a", 30) is not None

    def test_lease_contenders_in_threads(self, storage: Storage) -> None:
        self._require(storage, Capability.LEASES)
        results: list[bool] = []
        barrier = threading.Barrier(8)

        def contend(owner: str) -> None:
            barrier.wait()
            results.append(storage.acquire_lease("leader", owner, 30) is not None)

        threads = [threading.Thread(target=contend, args=(f"t{i}",)) for i in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert sorted(results) == [False] * 7 + [True]

    def test_lease_contenders_in_processes(self, storage: Storage) -> None:
        self._require(storage, Capability.LEASES)
        url = self._url(storage)
        context = multiprocessing.get_context("spawn")
        results = context.Queue()
        config = self.connect_config()
        _run_children(_child_contend, [(url, config, f"p{i}", 30, results) for i in range(2)])
        outcomes = dict(results.get(timeout=10) for _ in range(2))
        assert sorted(outcomes.values()) == [False, True]
        winner = next(owner for owner, won in outcomes.items() if won)
        assert storage.get_lease("leader").owner == winner  # type: ignore[union-attr]

    # ==================================================================================
    # Partition status
    # ==================================================================================

    def test_partition_status_ranges_over_100000_keys(self, storage: Storage) -> None:
        self._require(storage, Capability.PARTITION_STATUS)
        storage.set_partition_status("daily", "materialized", 0, 100_000)
        storage.update_partition_status(
            "daily", lambda ranges: ranges.set("failed", 500, 600).set("in_progress", 99_990, 100_000).clear(7)
        )
        for position in range(1_000, 100_000, 10_000):  # single-key changes inside the big range
            storage.set_partition_status("daily", "failed", position)
        status = storage.get_partition_status("daily")
        assert status.counts() == {"materialized": 100_000 - 100 - 10 - 1 - 10, "failed": 110, "in_progress": 10}
        assert status.status_of(7) is None and status.status_of(8) == "materialized"
        assert status.status_of(550) == "failed" and status.status_of(99_995) == "in_progress"
        assert status.ranges("in_progress") == [(99_990, 100_000)]
        assert len(list(status.segments())) < 40  # ranges, not one entry per key
        entry = storage.get_asset_catalogue(["daily"])
        assert entry == [] or entry[0].partition_counts["failed"] == 110
        assert storage.get_partition_status("other").counts() == {"materialized": 0, "failed": 0, "in_progress": 0}

    def test_partition_status_updates_from_threads_lose_nothing(self, storage: Storage) -> None:
        self._require(storage, Capability.PARTITION_STATUS)

        def mark(offset: int) -> None:
            for index in range(25):
                storage.set_partition_status("a", "materialized", offset * 1_000 + index * 2)

        threads = [threading.Thread(target=mark, args=(offset,)) for offset in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert storage.get_partition_status("a").count("materialized") == 100

    def test_partition_progress_of_runs_is_recorded_and_settled(self, storage: Storage) -> None:
        """What the engine records while runs execute (``_record_partition_progress``), and a dead run's settling."""
        from rivers.storage.partition_progress import PROGRESS_KEY, ProgressChange, decode_holds, settle_dead_run

        self._require(storage, Capability.PARTITION_STATUS)
        storage.set_partition_status("daily", "failed", 4)  # an earlier run failed partition 4
        storage._record_partition_progress([ProgressChange("r1", "daily", "in_progress", ((0, 10),)),
                                            ProgressChange("r2", "daily", "in_progress", ((20, 21),))])
        assert list(storage.get_partition_status("daily").segments()) == [(0, 10, "in_progress"),
                                                                          (20, 21, "in_progress")]
        storage._record_partition_progress([ProgressChange("r1", "daily", None, ((0, 10),)),
                                            ProgressChange("r1", "daily", "failed", ((3, 4),))])
        assert list(storage.get_partition_status("daily").segments()) == [(3, 4, "failed"), (20, 21, "in_progress")]
        assert list(decode_holds(storage.kv_get(PROGRESS_KEY))) == ["r2"]
        settle_dead_run(storage, "r2")  # what reconcile_runs() does for a run whose process died
        assert list(storage.get_partition_status("daily").segments()) == [(3, 4, "failed"), (20, 21, "failed")]
        assert decode_holds(storage.kv_get(PROGRESS_KEY)) == {}

    # ==================================================================================
    # Backfills, ticks, cursors
    # ==================================================================================

    def test_backfill_records(self, storage: Storage) -> None:
        self._require(storage, Capability.BACKFILLS)
        first = StoredBackfill("bf-1", "requested", 10, 10, '{"keys": ["ü"]}')
        storage._put_backfill(first)
        storage._put_backfill(StoredBackfill("bf-2", "running", 20, 20, "{}"))
        assert storage._get_backfill("bf-1") == first
        assert storage._request_backfill_cancel("bf-1") is True
        assert storage._request_backfill_cancel("missing") is False
        storage._put_backfill(first.evolve(status="running", updated=30, data='{"done": 1}'))  # a progress save
        stored = storage._get_backfill("bf-1")
        assert stored is not None and stored.cancel_requested and (stored.status, stored.created) == ("running", 10)
        assert [b.backfill_id for b in storage._backfills(None, None)] == ["bf-1", "bf-2"]
        assert [b.backfill_id for b in storage._backfills("running", 1)] == ["bf-2"]
        assert storage._get_backfill("missing") is None

    def test_ticks_and_cursors(self, storage: Storage) -> None:
        self._require(storage, Capability.AUTOMATION)
        for index in range(5):
            storage.record_tick(StoredTick(f"t{index}", "daily", "schedule", "success", 100 + index,
                                           [f"run{index}"], [], None, None, str(index)))
        storage.record_tick(StoredTick("t4", "daily", "schedule", "failure", 104, error="boom ☃"))
        storage.record_tick(StoredTick("x", "other", "sensor", "skipped", 1, skip_reason="nothing new"))
        ticks = storage.get_ticks("daily", limit=3)
        assert [t.id for t in ticks] == ["t4", "t3", "t2"]
        assert (ticks[0].status, ticks[0].error) == ("failure", "boom ☃")
        assert ticks[1] == StoredTick("t3", "daily", "schedule", "success", 103, ["run3"], [], None, None, "3")
        assert [t.id for t in storage.get_ticks("daily", before=102)] == ["t1", "t0"]
        assert storage.get_ticks("none") == []
        assert storage.get_automation_cursor("daily") is None
        storage.set_automation_cursor("daily", "c1")
        storage.set_automation_cursor("daily", "c2 ☃")
        assert storage.get_automation_cursor("daily") == "c2 ☃"
        storage.set_automation_cursor("daily", None)
        assert storage.get_automation_cursor("daily") is None
        assert storage.prune_ticks("daily", 2) == 3
        assert [t.id for t in storage.get_ticks("daily")] == ["t4", "t3"]
        assert storage.prune_ticks("daily", 2) == 0 and storage.prune_ticks("none", 0) == 0
        assert [t.id for t in storage.get_ticks("other")] == ["x"]

    def test_wait_for_events(self, storage: Storage) -> None:
        storage._append_events([_event("r", 1)])
        cursor = storage.get_events_after(0).cursor
        started = time.monotonic()
        assert storage.wait_for_events(cursor, timeout=0.2) is False
        assert time.monotonic() - started >= 0.15
        assert storage.wait_for_events(0, timeout=5) is True
        timer = threading.Timer(0.1, lambda: storage._append_events([_event("r", 2)]))
        timer.start()
        try:
            assert storage.wait_for_events(cursor, timeout=10) is True
        finally:
            timer.join()
        assert [e.id for e in storage.get_events_after(cursor).events] == ["r-e2"]

    # ==================================================================================
    # Bad input
    # ==================================================================================

    def test_bad_input_raises_specific_errors(self, storage: Storage) -> None:
        with pytest.raises(StorageError, match="Unknown run status: Bogus"):
            storage.get_runs(status="Bogus")
        with pytest.raises(StorageError, match="Unknown run status"):
            storage.query_runs(status=["Success", "Nope"])
        with pytest.raises(StorageError, match="limit"):
            storage.query_runs(limit=-1)
        with pytest.raises(StorageError, match="cursor"):
            storage.query_runs(cursor=12)  # type: ignore[arg-type]
        with pytest.raises(StorageError, match="cursor"):
            storage.get_events_after(-1)
        with pytest.raises(StorageError, match="event_types"):
            storage.get_events_after(0, event_types="StepStart")
        with pytest.raises(StorageError, match="launched_by"):
            storage.query_runs(launched_by="robot")
        with pytest.raises(TypeError, match="must be bytes, not str"):
            storage.kv_set("k", "text")  # type: ignore[arg-type]
        with pytest.raises(StorageError, match="reserved character"):
            storage.add_dynamic_partitions("d", ["a|b"])
        with pytest.raises(StorageError, match="must not be empty"):
            storage.add_dynamic_partitions("d", [""])
        with pytest.raises(ValueError, match="Invalid run outcome"):
            storage.set_run_outcome("r", "Done", 0, 0)
        if Capability.PARTITION_STATUS in type(storage).capabilities:
            with pytest.raises(StorageError, match="unknown partition status 'done'"):
                storage.set_partition_status("a", "done", 0)
            with pytest.raises(StorageError, match="empty"):
                storage.set_partition_status("a", "failed", 5, 5)
        if Capability.LEASES in type(storage).capabilities:
            with pytest.raises(ValueError, match="invalid duration"):
                storage.acquire_lease("l", "me", 0)
            with pytest.raises(StorageError, match="owner must be a non-empty str"):
                storage.acquire_lease("l", "", 5)

    def test_a_foreign_run_cursor_is_refused(self, storage: Storage) -> None:
        storage._create_run(_run("r", 1))
        with pytest.raises(StorageError, match="cursor"):
            storage.query_runs(cursor=f"not-a-cursor-{uuid.uuid4()}")

