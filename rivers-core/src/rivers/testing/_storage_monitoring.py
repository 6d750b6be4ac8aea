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


def _child_reconcile(url: str, config: dict[str, Any], results: Any, start: Any) -> None:
    storage = Storage.connect(url, **config)
    try:
        start.wait(120.0)
        results.put(storage.reconcile_runs())
    finally:
        storage.close()


class RunMonitoringConformance:
    """Owner records, heartbeats and reconciling runs whose process died."""

    if sys.platform == "win32":  # pragma: no cover - the liveness rule reads /proc
        pytestmark = pytest.mark.skip(reason="run monitoring judges owners through /proc")

    # provided by StorageConformance
    _require: Callable[[Storage, Capability], None]
    _url: Callable[[Storage], str]
    connect_config: Callable[[], dict[str, Any]]

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
        url = self.storage_url(storage)  # type: ignore[attr-defined]
        readers = [storage] * 4 if url is None else [Storage.connect(url, **self.connect_config()) for _ in range(4)]
        found: list[str] = []
        barrier = threading.Barrier(len(readers))

        def read(reader: Storage) -> None:
            barrier.wait()
            found.extend(reader.reconcile_runs())

        threads = [threading.Thread(target=read, args=(reader,)) for reader in readers]
        try:
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(60)
        finally:
            if url is not None:
                for reader in readers:
                    reader.close()
        assert Counter(found) == Counter(run_ids)  # every dead run reported by exactly one reader
        assert {storage.get_run(run_id).status for run_id in run_ids} == {"Failure"}  # type: ignore[union-attr]

    def test_reader_processes_reconcile_each_dead_run_once(self, storage: Storage) -> None:
        self._require(storage, Capability.RUN_MONITORING)
        url = self._url(storage)
        import multiprocessing

        now = time.time_ns()
        run_ids = [f"dead{index}" for index in range(10)]
        for run_id in run_ids:
            self._started(storage, run_id, dead_owner(run_id, heartbeat=now), now - 1_000)
        context = multiprocessing.get_context("spawn")
        results = context.Queue()
        start = context.Event()
        children = [context.Process(target=_child_reconcile, args=(url, self.connect_config(), results, start))
                    for _ in range(3)]
        for child in children:
            child.start()
        start.set()
        found = [run_id for _ in children for run_id in results.get(timeout=120)]
        for child in children:
            child.join(60)
        assert [child.exitcode for child in children] == [0] * len(children)
        assert Counter(found) == Counter(run_ids)
