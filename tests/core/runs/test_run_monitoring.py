"""Run monitoring in storage: owner records, heartbeats, and the reconciliation of runs whose process died."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import rivers as rs
from rivers.backfills.state import load_backfill
from rivers.runs.heartbeat import Heartbeat
from rivers.storage.monitor import OWNERLESS_GRACE_S, STALE_AFTER_S, RunMonitor, current_owner, process_start_ns
from support import wait_until_exists


@pytest.fixture(params=["memory", "sqlite"])
def storage(request: pytest.FixtureRequest, tmp_path: Path) -> rs.Storage:
    store = rs.Storage.memory() if request.param == "memory" else rs.Storage.embedded(tmp_path / "db", commit_delay=0)
    yield store
    store.close()


def started(storage: rs.Storage, run_id: str, start_time: int | None = None) -> rs.RunRecord:
    record = rs.RunRecord(run_id=run_id, status="Started", start_time=start_time or time.time_ns(), node_names=["a"])
    storage._create_run(record)
    return record


def dead_pid() -> tuple[int, int | None]:
    """The pid and start time of a process that has exited (and was reaped)."""
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    start = process_start_ns(child.pid)
    child.kill()
    child.wait()
    return child.pid, start


def test_monitor_records_round_trip(storage: rs.Storage) -> None:
    started(storage, "r1")
    assert storage.get_run_monitor("r1") is None
    host, pid, start = current_owner()
    record = RunMonitor("r1", host, pid, start, heartbeat=5, attempt_start=3, attempts=[(1, 2)])
    storage._put_run_monitor(record)
    assert storage.get_run_monitor("r1") == record
    storage._heartbeat_runs(["r1", "unknown"], 9)
    assert storage.get_run_monitor("r1") == record.evolve(heartbeat=9)
    assert storage.get_run("r1").status == "Started"  # this process owns it: alive


def test_a_run_whose_owner_process_died_reads_as_failed(storage: rs.Storage) -> None:
    run = started(storage, "r1")
    pid, start = dead_pid()
    storage._put_run_monitor(RunMonitor("r1", current_owner()[0], pid, start, heartbeat=run.start_time + 10))
    record = storage.get_run("r1")
    assert (record.status, record.end_time) == ("Failure", run.start_time + 10)  # ended at its last heartbeat
    assert storage.get_run_monitor("r1").end_reason == "process died"
    assert storage.get_runs(status="Started") == []
    assert storage.reconcile_runs() == []  # done already


def test_a_reused_pid_is_no_owner(storage: rs.Storage) -> None:
    started(storage, "r1")
    host, pid, start = current_owner()
    if start is None:
        pytest.skip("the platform does not tell process start times")
    storage._put_run_monitor(RunMonitor("r1", host, os.getppid(), start - 10**12))  # a live pid, another start
    assert storage.get_run("r1").status == "Failure"


def test_other_hosts_are_judged_by_their_heartbeat(storage: rs.Storage) -> None:
    now = time.time_ns()
    started(storage, "fresh")
    started(storage, "stale")
    storage._put_run_monitor(RunMonitor("fresh", "elsewhere", 1, None, heartbeat=now))
    storage._put_run_monitor(RunMonitor("stale", "elsewhere", 1, None, heartbeat=now - int(STALE_AFTER_S * 2e9)))
    assert sorted(storage.reconcile_runs()) == ["stale"]
    assert storage.get_run("fresh").status == "Started"


def test_runs_without_owner_are_reconciled_only_by_reconcile_runs(storage: rs.Storage) -> None:
    long_ago = time.time_ns() - int(OWNERLESS_GRACE_S * 2e9)
    started(storage, "old", long_ago)
    started(storage, "young")
    assert storage.get_run("old").status == "Started"  # reads judge monitored runs only
    assert storage.reconcile_runs() == ["old"]
    assert storage.get_run("old").status == "Failure" and storage.get_run("young").status == "Started"
    assert storage.reconcile_runs(run_ids=["young", "nope"]) == []


def test_a_queued_run_whose_owner_died_fails_but_a_daemons_queue_is_left_alone(storage: rs.Storage) -> None:
    storage._create_run(rs.RunRecord(run_id="mine", status="Queued", start_time=1))
    storage._create_run(rs.RunRecord(run_id="daemon", status="Queued", start_time=1))
    pid, start = dead_pid()
    storage._put_run_monitor(RunMonitor("mine", current_owner()[0], pid, start))
    assert storage.reconcile_runs() == ["mine"]
    assert storage.get_run("daemon").status == "Queued"


def test_a_long_run_records_its_owner_and_its_finished_steps_early(monkeypatch: pytest.MonkeyPatch,
                                                                    tmp_path: Path) -> None:
    monkeypatch.setattr(Heartbeat, "owner_delay", 0.05)
    seen: dict[str, object] = {}
    storage = rs.Storage.embedded(tmp_path / "db")

    @rs.Asset()
    def quick() -> int:
        return 1

    @rs.Asset()
    def slow(context: rs.AssetExecutionContext, quick: int) -> int:
        deadline = time.monotonic() + 10
        with rs.Storage.embedded(tmp_path / "db") as other:  # another reader of the same file
            while time.monotonic() < deadline:
                monitor = other.get_run_monitor(context.run_id)
                if monitor is not None and other._completed_steps(context.run_id) == {"quick"}:
                    seen["monitor"] = monitor
                    break
                time.sleep(0.02)
        return quick

    repo = rs.CodeRepository(assets=[quick, slow])
    repo.resolve(storage)
    result = repo.materialize()
    monitor = seen["monitor"]
    assert isinstance(monitor, RunMonitor) and (monitor.host, monitor.pid) == current_owner()[:2]
    assert monitor.heartbeat is not None and monitor.end_reason is None
    assert storage.get_run(result.run_id).status == "Success"
    storage.close()



class _Watchable:
    """What the heartbeat needs of a run: its id and a flush of its finished steps."""

    def __init__(self, run_id: str) -> None:
        self.run_id = run_id
        self.flushes = 0

    def flush(self) -> None:
        self.flushes += 1


def _heartbeat_threads() -> int:
    import threading

    return sum(thread.name == "rivers-run-heartbeat" for thread in threading.enumerate())


def test_the_heartbeat_thread_ends_when_idle_and_the_next_run_starts_it_again(
        monkeypatch: pytest.MonkeyPatch, storage: rs.Storage) -> None:
    monkeypatch.setattr(Heartbeat, "tick", 0.01)
    monkeypatch.setattr(Heartbeat, "owner_delay", 0.0)
    monkeypatch.setattr(Heartbeat, "idle_exit", 0.05)
    beat = Heartbeat()
    threads_before = _heartbeat_threads()
    for run_id in ("first", "second"):
        started(storage, run_id)
        run = _Watchable(run_id)
        beat.watch(run, storage, time.time_ns(), [])
        deadline = time.monotonic() + 10
        while storage.get_run_monitor(run_id) is None and time.monotonic() < deadline:
            time.sleep(0.005)
        assert storage.get_run_monitor(run_id) is not None, f"the heartbeat never recorded the owner of {run_id}"
        assert run.flushes >= 1
        assert beat.forget(run_id) is True  # its monitor record was written
        while _heartbeat_threads() > threads_before and time.monotonic() < deadline:
            time.sleep(0.005)
        assert _heartbeat_threads() == threads_before, "the heartbeat thread did not end once idle"


BACKFILL = """
import os, sys, time
from pathlib import Path
import rivers as rs

@rs.Asset(partitions_def=rs.PartitionsDefinition.static_(["a", "b", "c", "d"]))
def letter(context: rs.AssetExecutionContext) -> str:
    key = str(context.partition.key)
    if key in sys.argv[2]:
        Path(f"{key}-started").touch()
        while not Path("release").exists():
            time.sleep(0.02)
    return "x"

repo = rs.CodeRepository(assets=[letter], default_executor=rs.Executor.in_process())
repo.resolve(rs.Storage.embedded("runs.db"))
result = repo.backfill(partition_keys=["a", "b", "c", "d"], max_concurrency=int(sys.argv[1]))
print(result.status)
"""


def start_backfill(concurrency: int, blocking: str = "b") -> subprocess.Popen[str]:
    """Run a backfill of a..d in a subprocess; the partitions in ``blocking`` wait for a release file."""
    Path("backfill.py").write_text(BACKFILL)
    process = subprocess.Popen([sys.executable, "backfill.py", str(concurrency), blocking], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    wait_until_exists(process, *(Path(f"{key}-started") for key in blocking), what=f"{blocking} started")
    time.sleep(0.3)
    return process


def test_a_killed_backfill_does_not_stay_in_progress() -> None:
    process = start_backfill(1)
    process.send_signal(signal.SIGKILL)
    process.communicate(timeout=30)
    repo = rs.CodeRepository(assets=[])
    repo.resolve(rs.Storage.embedded("runs.db"))
    [backfill] = repo.get_backfills()
    assert backfill.status == "Canceled" and "backfill process died" in backfill.error
    # a's run succeeded, b's run died with the process, c and d never started
    assert (backfill.completed_partitions, backfill.failed_partitions, backfill.canceled_partitions) == (1, 1, 2)
    runs = {str(run.partition_key): run for run in repo.storage.get_runs()}
    assert runs["a"].status == "Success" and runs["b"].status == "Failure"
    assert repo.storage.get_run_monitor(runs["b"].run_id).end_reason == "process died"
    assert runs["b"].launched_by == rs.LaunchedBy.backfill(backfill.backfill_id)


def test_ctrl_c_in_a_backfill_cancels_the_interrupted_partitions_run() -> None:
    process = start_backfill(1)  # b runs in the main thread: Ctrl-C interrupts its step
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=30)
    assert process.returncode != 0 and "RunInterrupted" in err, (out, err)
    with rs.Storage.embedded("runs.db") as storage:
        runs = {str(run.partition_key): run for run in storage.get_runs()}
        assert runs["a"].status == "Success"
        assert runs["b"].status == "Canceled"  # not "success, 0 steps"
        assert storage.get_run_monitor(runs["b"].run_id).end_reason == "interrupted"
        assert [e.event_type for e in storage.get_events_for_run(runs["b"].run_id)] == ["StepNotRun"]
        assert "c" not in runs
        stored = load_backfill(storage, runs["b"].launched_by.backfill_id)
    assert stored.status == "Canceled" and stored.statuses == ["completed", "canceled", "canceled", "canceled"]


def test_ctrl_c_in_a_concurrent_backfill_lets_the_steps_in_threads_end_and_launches_no_more() -> None:
    process = start_backfill(2, "bc")  # b and c wait in launcher threads; d waits for a free slot
    process.send_signal(signal.SIGINT)
    time.sleep(0.3)
    Path("release").touch()  # a step in another thread cannot be interrupted: it ends, and is recorded so
    out, err = process.communicate(timeout=30)
    assert process.returncode != 0 and "RunInterrupted" in err, (out, err)
    with rs.Storage.embedded("runs.db") as storage:
        runs = {str(run.partition_key): run for run in storage.get_runs()}
        stored = load_backfill(storage, runs["b"].launched_by.backfill_id)
    assert runs["b"].status == runs["c"].status == "Success" and "d" not in runs
    assert stored.status == "Canceled" and stored.statuses == ["completed", "completed", "completed", "canceled"]


def test_the_owner_host_is_the_socket_host_name_without_importing_socket():
    import socket

    from rivers.storage.monitor import host_name
    from support import run_python

    assert host_name() == socket.gethostname()
    out = run_python("""
        import sys
        from rivers.storage.monitor import current_owner
        host, pid, started = current_owner()
        print("socket" in sys.modules, bool(host), started is not None)
        """)
    assert out.split() == ["False", "True", "True"]
