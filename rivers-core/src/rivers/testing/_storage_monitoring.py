"""The run-monitoring part of the storage conformance kit (capability ``run_monitoring``).

Mixed into :class:`rivers.testing.storage.StorageConformance`; see there.
Owners that died are real processes that ran and exited on this host, so
the liveness rule of :mod:`rivers.storage.monitor` judges them as it
judges a killed ``rivers materialize``.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest

from rivers.storage import Storage
from rivers.storage.contract import Capability
from rivers.storage.monitor import PROCESS_DIED, STALE_AFTER_S, RunMonitor, current_owner, process_start_ns
from rivers.storage.records import RunRecord

__all__ = ["RunMonitoringConformance", "dead_owner"]


def dead_owner(run_id: str, heartbeat: int | None = None) -> RunMonitor:
    """The monitor record of ``run_id`` owned by a process of this host that has exited."""
    child = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE)
    try:
        started = process_start_ns(child.pid)
    finally:
        assert child.stdin is not None
        child.stdin.close()
        child.wait(30)
    host = current_owner()[0]
    return RunMonitor(run_id, host, child.pid, started, heartbeat=heartbeat or time.time_ns(),
                      attempt_start=heartbeat)


def _claim_all(storage: Storage) -> list[str]:
    """Claim queued runs three at a time until none is left; their ids."""
    claimed: list[str] = []
    while batch := storage.claim_queued_runs(3):
        claimed.extend(run.run_id for run in batch)
    return claimed


def _child_claim(url: str, config: dict[str, Any], results: Any, start: Any) -> None:
    storage = Storage.connect(url, **config)
    try:
        start.wait(120.0)
        results.put(_claim_all(storage))
    finally:
        storage.close()


def _child_reconcile(url: str, config: dict[str, Any], results: Any, start: Any) -> None:
    storage = Storage.connect(url, **config)
    try:
        start.wait(120.0)
        results.put(storage.reconcile_runs())
    finally:
        storage.close()


def _run_ids_from_processes(target: Callable[..., None], url: str, config: dict[str, Any], count: int) -> list[str]:
    """Start ``count`` spawned ``target(url, config, results, start)`` processes at once; the run ids they put."""
    import multiprocessing

    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    start = context.Event()
    children = [context.Process(target=target, args=(url, config, results, start)) for _ in range(count)]
    for child in children:
        child.start()
    start.set()
    found = [run_id for _ in children for run_id in results.get(timeout=120)]
    for child in children:
        child.join(60)
    assert [child.exitcode for child in children] == [0] * len(children)
    return found


class RunMonitoringConformance:
    """Owner records, heartbeats and reconciling runs whose process died."""

    if sys.platform == "win32":  # pragma: no cover - the liveness rule reads /proc
        pytestmark = pytest.mark.skip(reason="run monitoring judges owners through /proc")

    # provided by StorageConformance
    _require: Callable[[Storage, Capability], None]
    _url: Callable[[Storage], str]
    connect_config: Callable[[], dict[str, Any]]

    def _run_ids_from_threads(self, storage: Storage, call: Callable[[Storage], list[str]]) -> list[str]:
        """``call`` in 4 threads at once, each on its own connection (when the store has a URL); the run ids returned."""
        url = self.storage_url(storage)  # type: ignore[attr-defined]
        stores = [storage] * 4 if url is None else [Storage.connect(url, **self.connect_config()) for _ in range(4)]
        found: list[str] = []
        barrier = threading.Barrier(len(stores))

        def work(store: Storage) -> None:
            barrier.wait()
            found.extend(call(store))

        threads = [threading.Thread(target=work, args=(store,)) for store in stores]
        try:
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(60)
        finally:
            if url is not None:
                for store in stores:
                    store.close()
        return found

    def _started(self, storage: Storage, run_id: str, monitor: RunMonitor | None, start_time: int) -> None:
        storage._create_run(RunRecord(run_id, status="Started", start_time=start_time, node_names=["a"]))
        if monitor is not None:
            storage._put_run_monitor(monitor)

    def test_run_monitor_owner_and_heartbeat(self, storage: Storage) -> None:
        self._require(storage, Capability.RUN_MONITORING)
        assert storage.supports(Capability.RUN_MONITORING) and storage.supports("run_monitoring")
        host, pid, started = current_owner()
        now = time.time_ns()
        record = RunMonitor("r1", host, pid, started, heartbeat=now, attempt_start=now - 5, attempts=[(1, 2), (3, 4)])
        self._started(storage, "r1", record, now - 10)
        assert storage.get_run_monitor("r1") == record
        assert storage.get_run_monitor("missing") is None
        storage._heartbeat_runs(["r1", "missing"], now + 1_000)
        assert storage.get_run_monitor("r1") == record.evolve(heartbeat=now + 1_000)
        assert storage.get_run_monitor("missing") is None  # a heartbeat creates no record
        assert storage._run_monitors(["r1", "missing"]) == {"r1": record.evolve(heartbeat=now + 1_000)}
        assert storage._run_monitors([]) == {}
        replaced = record.evolve(end_reason="interrupted", attempts=[])
        storage._put_run_monitor(replaced)
        assert storage.get_run_monitor("r1") == replaced

    def test_a_run_whose_owner_died_is_failed_by_the_next_reader(self, storage: Storage) -> None:
        self._require(storage, Capability.RUN_MONITORING)
        now = time.time_ns()
        dead = dead_owner("dead", heartbeat=now - 1_000)
        self._started(storage, "dead", dead, now - 5_000)
        self._started(storage, "listed", dead_owner("listed", heartbeat=now - 2_000), now - 6_000)
        run = storage.get_run("dead")
        assert run is not None and (run.status, run.end_time) == ("Failure", now - 1_000)  # ends at its last heartbeat
        monitor = storage.get_run_monitor("dead")
        assert monitor is not None and monitor.end_reason == PROCESS_DIED and monitor.pid == dead.pid
        listed = {record.run_id: record.status for record in storage.query_runs(limit=10).runs}
        assert listed == {"dead": "Failure", "listed": "Failure"}
        assert [record.run_id for record in storage.get_runs(status="Started")] == []
        # idempotent: a second reader changes nothing and reports nothing
        assert storage.reconcile_runs() == []
        again = storage.get_run("dead")
        assert again is not None and (again.status, again.end_time) == ("Failure", now - 1_000)

    def test_a_live_owner_is_left_alone(self, storage: Storage) -> None:
        self._require(storage, Capability.RUN_MONITORING)
        host, pid, started = current_owner()
        now = time.time_ns()
        self._started(storage, "mine", RunMonitor("mine", host, pid, started, heartbeat=now), now)
        self._started(storage, "remote", RunMonitor("remote", "another-host", 1, None, heartbeat=now), now)
        stale = now - int(STALE_AFTER_S * 2e9)
        self._started(storage, "stale", RunMonitor("stale", "another-host", 1, None, heartbeat=stale), stale)
        self._started(storage, "young", None, now)  # no owner recorded yet: a run in its first moment
        assert storage.reconcile_runs() == ["stale"]  # another host: judged by the heartbeat's age
        for run_id in ("mine", "remote", "young"):
            run = storage.get_run(run_id)
            assert run is not None and run.status == "Started" and run.end_time is None
        assert storage.get_run_monitor("mine") == RunMonitor("mine", host, pid, started, heartbeat=now)

    def test_reconcile_runs_finds_old_runs_that_never_recorded_an_owner(self, storage: Storage) -> None:
        self._require(storage, Capability.RUN_MONITORING)
        old = time.time_ns() - 3_600 * 10**9
        self._started(storage, "old", None, old)
        assert storage.get_run("old").status == "Started"  # type: ignore[union-attr]  # reads judge owners only
        assert storage.reconcile_runs(run_ids=["old", "unknown"]) == ["old"]
        assert storage.get_run("old").status == "Failure"  # type: ignore[union-attr]
        assert storage.get_run_monitor("old").end_reason == PROCESS_DIED  # type: ignore[union-attr]

    def test_fail_dead_run_compares_the_owner_it_judged(self, storage: Storage) -> None:
        self._require(storage, Capability.RUN_MONITORING)
        now = time.time_ns()
        judged = dead_owner("r", heartbeat=now - 10)
        self._started(storage, "r", judged, now - 100)
        resumed = judged.evolve(heartbeat=now)  # the run got a new sign of life after the reader judged it
        storage._put_run_monitor(resumed)
        assert storage._fail_dead_run("r", judged, now - 10) is False
        assert storage._run_monitors(["r"])["r"] == resumed
        assert storage._fail_dead_run("r", resumed, now) is True
        assert storage._fail_dead_run("r", resumed, now) is False  # already failed
        assert storage._fail_dead_run("unknown", None, now) is False
        self._started(storage, "ownerless", None, now - 100)
        assert storage._fail_dead_run("ownerless", judged, now) is False  # it has no owner record
        assert storage._fail_dead_run("ownerless", None, now) is True
        assert storage._run_monitors(["ownerless"])["ownerless"].end_reason == PROCESS_DIED

    def test_concurrent_readers_reconcile_each_dead_run_once(self, storage: Storage) -> None:
        self._require(storage, Capability.RUN_MONITORING)
        now = time.time_ns()
        run_ids = [f"dead{index}" for index in range(10)]
        for index, run_id in enumerate(run_ids):
            self._started(storage, run_id, dead_owner(run_id, heartbeat=now - index), now - 1_000)
        found = self._run_ids_from_threads(storage, lambda reader: reader.reconcile_runs())
        assert Counter(found) == Counter(run_ids)  # every dead run reported by exactly one reader
        assert {storage.get_run(run_id).status for run_id in run_ids} == {"Failure"}  # type: ignore[union-attr]

    def test_reader_processes_reconcile_each_dead_run_once(self, storage: Storage) -> None:
        self._require(storage, Capability.RUN_MONITORING)
        url = self._url(storage)
        now = time.time_ns()
        run_ids = [f"dead{index}" for index in range(10)]
        for run_id in run_ids:
            self._started(storage, run_id, dead_owner(run_id, heartbeat=now), now - 1_000)
        found = _run_ids_from_processes(_child_reconcile, url, self.connect_config(), 3)
        assert Counter(found) == Counter(run_ids)

    # -- queue claims -------------------------------------------------------------------

    def _queued(self, storage: Storage, count: int, prefix: str = "q") -> list[str]:
        run_ids = [f"{prefix}{index:03d}" for index in range(count)]
        for index, run_id in enumerate(run_ids):
            storage._create_run(RunRecord(run_id, status="Queued", start_time=1_000 + index, node_names=["a"]))
        return run_ids

    def test_claim_queued_runs_by_priority_then_age_once(self, storage: Storage) -> None:
        self._require(storage, Capability.RUN_MONITORING)
        for run_id, priority, start in (("low", -1, 1), ("old", 0, 2), ("new", 0, 3), ("high", 5, 4)):
            storage._create_run(RunRecord(run_id, status="Queued", start_time=start, node_names=["a"],
                                          priority=priority))
        storage._create_run(RunRecord("running", status="Started", start_time=0, node_names=["a"]))
        first = storage.claim_queued_runs(2)
        assert [(run.run_id, run.status) for run in first] == [("high", "Started"), ("old", "Started")]
        assert storage.get_run("high").status == "Started"  # type: ignore[union-attr]
        host, pid, started = current_owner()
        monitor = storage.get_run_monitor("high")
        assert monitor is not None and (monitor.host, monitor.pid, monitor.process_start) == (host, pid, started)
        assert monitor.heartbeat is not None
        assert [run.run_id for run in storage.claim_queued_runs(5, run_ids=["low", "running", "high"])] == ["low"]
        assert [run.run_id for run in storage.claim_queued_runs(5)] == ["new"]
        assert storage.claim_queued_runs(5) == [] and storage.claim_queued_runs(0) == []
        assert storage.claim_queued_runs(run_ids=[]) == []
        with pytest.raises(ValueError, match="limit"):
            storage.claim_queued_runs(-1)
        with pytest.raises(TypeError, match="run_ids"):
            storage.claim_queued_runs(1, run_ids="low")  # type: ignore[arg-type]

    def test_a_claimer_that_died_is_reconciled(self, storage: Storage) -> None:
        self._require(storage, Capability.RUN_MONITORING)
        self._queued(storage, 1)
        (claimed,) = storage.claim_queued_runs(1)
        dead = dead_owner(claimed.run_id)
        storage._put_run_monitor(dead)  # as if another process had claimed it and died
        assert storage.get_run(claimed.run_id).status == "Failure"  # type: ignore[union-attr]

    def test_concurrent_claimers_never_take_a_run_twice(self, storage: Storage) -> None:
        self._require(storage, Capability.RUN_MONITORING)
        run_ids = self._queued(storage, 40)
        found = self._run_ids_from_threads(storage, _claim_all)
        assert Counter(found) == Counter(run_ids)

    def test_claimer_processes_never_take_a_run_twice(self, storage: Storage) -> None:
        self._require(storage, Capability.RUN_MONITORING)
        url = self._url(storage)
        run_ids = self._queued(storage, 60)
        found = _run_ids_from_processes(_child_claim, url, self.connect_config(), 4)
        assert Counter(found) == Counter(run_ids)
        import os

        assert all(storage.get_run_monitor(run_id).pid != os.getpid() for run_id in run_ids)  # type: ignore[union-attr]
