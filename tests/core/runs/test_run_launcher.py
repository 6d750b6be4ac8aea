"""The run launcher: handles, the run queue (max concurrent runs, tag limits, priority), resume bookkeeping."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

import rivers as rs
from rivers.exceptions import AssetNotFoundError, ConfigurationError, ExecutionError
from support import make_repo


class Gate:
    """Steps that wait until the test opens them, recording when each of them ran."""

    def __init__(self) -> None:
        self.opened = threading.Event()
        self.started: list[str] = []
        self.running = 0
        self.most_at_once = 0
        self.lock = threading.Lock()

    def step(self, name: str) -> None:
        with self.lock:
            self.started.append(name)
            self.running += 1
            self.most_at_once = max(self.most_at_once, self.running)
        try:
            assert self.opened.wait(30)
        finally:
            with self.lock:
                self.running -= 1

    def wait_started(self, count: int) -> None:
        deadline = time.monotonic() + 30
        while len(self.started) < count:
            assert time.monotonic() < deadline, f"only {self.started} started"
            time.sleep(0.01)


def tagged_repo(gate: Gate, **kwargs: Any) -> rs.CodeRepository:
    names = iter(range(1000))

    @rs.Asset()
    def slow() -> int:
        gate.step(str(next(names)))
        return 1

    return make_repo(slow, **kwargs)


def test_materialize_block_false_returns_a_handle() -> None:
    gate = Gate()
    repo = tagged_repo(gate)
    handle = repo.materialize(block=False)
    assert isinstance(handle, rs.RunHandle) and repr(handle) == f"RunHandle(run_id={handle.run_id!r})"
    gate.wait_started(1)
    assert handle.status == "Started" and not handle.done()
    with pytest.raises(TimeoutError, match="still started"):
        handle.wait(timeout=0.05)
    gate.opened.set()
    result = handle.wait(timeout=30)
    assert result.success and result.run_id == handle.run_id and handle.status == "Success"
    assert handle.cancel() is False  # it has ended


def test_cancelling_a_running_handle_records_the_rest_as_not_run() -> None:
    gate = Gate()
    calls: list[str] = []

    @rs.Asset()
    def first() -> int:
        gate.step("first")
        return 1

    @rs.Asset()
    def second(first: int) -> int:
        calls.append("second")
        return first

    repo = make_repo(first, second)
    handle = repo.materialize(block=False)
    gate.wait_started(1)
    assert handle.cancel() is True
    gate.opened.set()
    result = handle.wait(timeout=30)
    assert not result.success and handle.status == "Canceled" and calls == []
    not_run = [(e.asset_key, dict(e.metadata)["rivers/reason"]) for e in repo.storage.get_events_for_run(handle.run_id)
               if e.event_type == "StepNotRun"]
    assert not_run == [("second", "canceled")]
    assert repo.storage.get_run_monitor(handle.run_id).end_reason == "canceled"


def test_wait_raises_the_first_failure_unless_raise_on_error_is_false() -> None:
    @rs.Asset()
    def broken() -> int:
        raise ValueError("bad row")

    repo = make_repo(broken)
    with pytest.raises(ValueError, match="bad row"):
        repo.materialize(block=False).wait(30)
    result = repo.materialize(block=False, raise_on_error=False).wait(30)
    assert not result.success and result.failed_assets[0][0] == "broken"


def test_job_execute_block_false() -> None:
    @rs.Asset()
    def one() -> int:
        return 1

    repo = rs.CodeRepository(assets=[one], jobs=[rs.Job("nightly", [one])])
    repo.resolve(rs.Storage.memory())
    handle = repo.get_job("nightly").execute(block=False)
    assert handle.wait(30).success
    assert repo.storage.get_run(handle.run_id).job_name == "nightly"


def test_max_concurrent_runs_queues_the_rest_as_queued() -> None:
    gate = Gate()
    repo = tagged_repo(gate, run_queue=rs.RunQueueConfig(max_concurrent_runs=2, dequeue_interval="10ms"))
    handles = [repo.materialize(block=False) for _ in range(4)]
    gate.wait_started(2)
    time.sleep(0.2)
    assert len(gate.started) == 2  # the queue holds the other two back
    statuses = sorted(handle.status for handle in handles)
    assert statuses == ["Queued", "Queued", "Started", "Started"]
    gate.opened.set()
    assert all(handle.wait(30).success for handle in handles)
    assert gate.most_at_once == 2 and len(gate.started) == 4


def test_queued_runs_start_by_priority() -> None:
    gate = Gate()
    order: list[str] = []

    @rs.Asset()
    def work(context: rs.AssetExecutionContext) -> int:
        run = context_run(repo, context)
        order.append(dict(run.tags).get("who", "?"))
        if dict(run.tags).get("who") == "blocker":
            gate.step("blocker")
        return 1

    repo = make_repo(work, run_queue=rs.RunQueueConfig(max_concurrent_runs=1, dequeue_interval="10ms"))
    blocker = repo.materialize(block=False, tags=[("who", "blocker")])
    gate.wait_started(1)
    low = repo.materialize(block=False, tags=[("who", "low"), ("rivers/priority", "-5")])
    high = repo.materialize(block=False, tags=[("who", "high"), ("rivers/priority", "5")])
    plain = repo.materialize(block=False, tags=[("who", "plain")])
    gate.opened.set()
    for handle in (blocker, low, high, plain):
        assert handle.wait(30).success
    assert order == ["blocker", "high", "plain", "low"]


def context_run(repo: rs.CodeRepository, context: rs.AssetExecutionContext) -> rs.RunRecord:
    return repo.storage.get_run(context.run_id)


def test_tag_concurrency_limits_per_unique_value() -> None:
    gate = Gate()
    limit = rs.TagConcurrencyLimit("team", 1, per_unique_value=True)
    repo = tagged_repo(gate, run_queue=rs.RunQueueConfig(tag_concurrency_limits=[limit], dequeue_interval="10ms"))
    a1 = repo.materialize(block=False, tags=[("team", "a")])
    a2 = repo.materialize(block=False, tags=[("team", "a")])
    b1 = repo.materialize(block=False, tags=[("team", "b")])
    untagged = repo.materialize(block=False)
    gate.wait_started(3)
    time.sleep(0.2)
    assert len(gate.started) == 3 and a2.status == "Queued"  # one team=a run at a time; b and the rest go
    gate.opened.set()
    assert all(handle.wait(30).success for handle in (a1, a2, b1, untagged))


def test_a_tag_limit_on_one_value() -> None:
    from rivers.runs.queue import admissible

    config = rs.RunQueueConfig(tag_concurrency_limits=[rs.TagConcurrencyLimit("env", 1, value="prod")])
    running = [[("env", "prod")]]
    queued = [(0, [("env", "prod")]), (0, [("env", "dev")]), (0, [])]
    assert admissible(config, running, queued) == [1, 2]
    assert admissible(rs.RunQueueConfig(max_concurrent_runs=2), running, queued) == [0]
    assert admissible(None, running, queued) == [0, 1, 2]


def test_run_queue_config_reprs_and_validation() -> None:
    assert repr(rs.RunQueueConfig()) == (
        "RunQueueConfig(max_concurrent_runs=10, tag_concurrency_limits=[...0], dequeue_interval='250ms', "
        "start_timeout='180s')"
    )
    assert repr(rs.TagConcurrencyLimit("team", 2, per_unique_value=True)) == \
        "TagConcurrencyLimit(key='team', per_unique_value=True, limit=2)"
    with pytest.raises(ValueError, match="invalid duration for 'dequeue_interval'"):
        rs.RunQueueConfig(dequeue_interval="soon")
    with pytest.raises(ValueError, match="max_concurrent_runs must be an int >= 1"):
        rs.RunQueueConfig(max_concurrent_runs=0)
    with pytest.raises(ValueError, match="takes TagConcurrencyLimit objects"):
        rs.RunQueueConfig(tag_concurrency_limits=[("team", 1)])
    with pytest.raises(ConfigurationError, match="run_queue must be a RunQueueConfig"):
        rs.RunLauncher(rs.Storage.memory(), queue={"max_concurrent_runs": 1})


def test_blocking_runs_ignore_the_queue() -> None:
    gate = Gate()
    repo = tagged_repo(gate, run_queue=rs.RunQueueConfig(max_concurrent_runs=1, dequeue_interval="10ms"))
    queued = repo.materialize(block=False)
    gate.wait_started(1)
    done = threading.Event()
    threading.Thread(target=lambda: (repo.materialize(), done.set())).start()
    gate.wait_started(2)  # materialize() started although the queue is full
    gate.opened.set()
    assert done.wait(30) and queued.wait(30).success


def test_resume_keeps_the_launcher_and_the_earlier_attempt() -> None:
    attempts = {"n": 0}

    @rs.Asset()
    def first() -> int:
        return 1

    @rs.Asset()
    def flaky(first: int) -> int:
        attempts["n"] += 1
        if attempts["n"] == 1:
            raise RuntimeError("first attempt fails")
        return first

    repo = make_repo(first, flaky)
    state = repo.resolved
    request = state.run_request(state.plan("<materialize>", None, allow_incomplete=True), executor=None,
                                partition_key=None, tags=[], config=None, run_id=None, raise_on_error=False,
                                resume=False, retry=None, launched_by=rs.LaunchedBy.schedule("daily"))
    failed = repo.launcher.run(request)
    assert not failed.success
    time.sleep(0.05)
    resumed = repo.materialize(run_id_override=failed.run_id, resume=True)
    assert resumed.success
    record = repo.storage.get_run(failed.run_id)
    assert record.launched_by == rs.LaunchedBy.schedule("daily")
    monitor = repo.storage.get_run_monitor(failed.run_id)
    assert len(monitor.attempts) == 1 and monitor.attempts[0][0] == record.start_time
    running = monitor.running_ns(record.start_time, record.end_time, 0)
    assert 0 < running < record.end_time - record.start_time  # the gap between the attempts is not running time


def test_a_monitored_runs_attempts_start_when_the_run_started(monkeypatch: pytest.MonkeyPatch) -> None:
    """A run going long enough to get its monitor record: its first attempt starts at the run's start time."""
    from rivers.runs.heartbeat import Heartbeat

    monkeypatch.setattr(Heartbeat, "owner_delay", 0.0)
    monkeypatch.setattr(Heartbeat, "tick", 0.005)
    attempts = {"n": 0}

    @rs.Asset()
    def slow_then_fails() -> int:
        attempts["n"] += 1
        if attempts["n"] == 1:
            time.sleep(0.2)  # several heartbeat ticks: the run is monitored
            raise RuntimeError("first attempt fails")
        return 1

    repo = make_repo(slow_then_fails)
    failed = repo.materialize(raise_on_error=False)
    assert not failed.success
    first = repo.storage.get_run_monitor(failed.run_id)
    record = repo.storage.get_run(failed.run_id)
    assert first is not None and first.attempt_start == record.start_time
    resumed = repo.materialize(run_id_override=failed.run_id, resume=True)
    assert resumed.success
    monitor = repo.storage.get_run_monitor(failed.run_id)
    assert monitor.attempts[0][0] == record.start_time
    assert monitor.attempt_start > record.start_time  # the resumed attempt started later


def test_resuming_a_run_that_still_runs_is_refused() -> None:
    gate = Gate()
    repo = tagged_repo(gate)
    handle = repo.materialize(block=False)
    gate.wait_started(1)
    with pytest.raises(ExecutionError, match="is still started"):
        repo.materialize(run_id_override=handle.run_id, resume=True)
    gate.opened.set()
    assert handle.wait(30).success


def test_an_empty_selection_names_the_expression_groups_and_tags() -> None:
    @rs.Asset(group="raw", tags=["etl"])
    def orders() -> int:
        return 1

    repo = make_repo(orders)
    for selection in ("group:nope", ["tag:zzz"]):
        with pytest.raises(AssetNotFoundError, match=r"selection '.*' matches no asset; groups: raw; tags: etl"):
            repo.materialize(selection=selection)
    assert repo.storage.get_runs() == []
    assert repo.materialize(selection=[]).success  # an explicitly empty list still selects nothing


@pytest.mark.parametrize("store", ["memory", "sqlite"])
def test_a_queued_run_claimed_by_another_process_is_not_started_here(tmp_path: Any, store: str) -> None:
    gate = Gate()
    repo = tagged_repo(gate, run_queue=rs.RunQueueConfig(max_concurrent_runs=1, dequeue_interval="10ms"))
    if store == "sqlite":
        repo.resolve(rs.Storage.embedded(tmp_path / "runs.db"))
    blocker = repo.materialize(block=False)
    gate.wait_started(1)
    taken, mine = repo.materialize(block=False), repo.materialize(block=False)
    deadline = time.monotonic() + 30
    while repo.storage.get_run(mine.run_id) is None:  # both are stored as Queued
        assert time.monotonic() < deadline
        time.sleep(0.01)
    # another process (here: another claimer of the same store) takes one of them from the shared queue
    assert [run.run_id for run in repo.storage.claim_queued_runs(1, run_ids=[taken.run_id])] == [taken.run_id]
    gate.opened.set()
    assert blocker.wait(30).success and mine.wait(30).success
    assert not taken.wait(30).success  # not started here: it belongs to its claimer
    assert len(gate.started) == 2
    assert repo.storage.get_run(taken.run_id).status == "Started"  # still the claimer's (alive: this process)
    assert repo.storage.get_run(mine.run_id).status == "Success"


_HOLD_LOCK = """
import sqlite3, sys, time
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("BEGIN IMMEDIATE")  # every other writer waits until this process commits
print("locked", flush=True)
time.sleep(float(sys.argv[2]))
conn.execute("COMMIT")
"""


def test_a_run_admitted_but_started_after_start_timeout_fails_with_run_launch_failed(tmp_path: Any) -> None:
    """start_timeout (spec execution.md §3): another process holds the store's write lock, so the admitted
    run cannot record its start in time; it then fails unexecuted, with a RunLaunchFailed event."""
    import subprocess
    import sys

    from rivers.exceptions import RunStartTimeoutError

    ran = tmp_path / "ran"

    @rs.Asset()
    def side_effect() -> int:
        ran.write_text("ran")
        return 1

    db = tmp_path / "runs.db"
    storage = rs.Storage.embedded(db, commit_delay=0)  # the run's start is a write, made at once
    repo = rs.CodeRepository(assets=[side_effect], run_queue=rs.RunQueueConfig(start_timeout="300ms"))
    repo.resolve(storage)
    holder = subprocess.Popen([sys.executable, "-c", _HOLD_LOCK, str(db), "1.5"], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        handle = repo.materialize(block=False)
        with pytest.raises(RunStartTimeoutError, match=r"start_timeout='300ms'.*raise start_timeout"):
            handle.wait(30)
    finally:
        holder.wait(30)
    assert not ran.exists()  # the step never ran
    run = storage.get_run(handle.run_id)
    assert run is not None and run.status == "Failure"
    failed = [event for event in storage.get_events_for_run(handle.run_id) if event.event_type == "RunLaunchFailed"]
    assert len(failed) == 1 and "did not start within" in dict(failed[0].metadata)["rivers/reason"]
    assert not [event for event in storage.get_events_for_run(handle.run_id) if event.event_type == "StepStart"]
    # a run that starts in time is not affected
    ran_in_time = repo.materialize(block=False).wait(30)
    assert ran_in_time.success and ran.read_text() == "ran"
    storage.close()


def test_start_timeout_is_a_duration() -> None:
    assert rs.RunQueueConfig(start_timeout="2m").start_timeout_s == 120.0
    with pytest.raises(ValueError, match="start_timeout"):
        rs.RunQueueConfig(start_timeout="soon")
