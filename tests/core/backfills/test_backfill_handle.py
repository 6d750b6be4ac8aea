"""``backfill(block=False)`` returns a ``BackfillHandle``: followed from storage, executed by a daemon or by ``start()``.

Real components only: the repository's SQLite file in the working directory,
the real ``AutomationDaemon`` (in this process and in another one), worker
processes racing for one requested backfill.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path
from typing import Any

import pytest

import rivers as rs
from rivers._core import AutomationDaemon
from rivers.exceptions import BackfillTimeoutError, BackfillUnattendedError
from backfills_support import LETTERS, PRIORITY, letter_asset, letters, repo_of, statuses


def wait_until(condition: Any, what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)


class Tracker:
    """Counts the steps of ``letter`` running at once; each waits for ``gate`` (open unless closed)."""

    def __init__(self, pause: float = 0.0) -> None:
        self.pause = pause
        self.lock = threading.Lock()
        self.running = 0
        self.peak = 0
        self.calls: list[str] = []
        self.gate = threading.Event()
        self.gate.set()

    def asset(self) -> Any:
        @rs.Asset(partitions_def=letters())
        def letter(context: rs.AssetExecutionContext) -> str:
            with self.lock:
                self.running += 1
                self.peak = max(self.peak, self.running)
                self.calls.append(str(context.partition.key))
            try:
                assert self.gate.wait(30)
                time.sleep(self.pause)
            finally:
                with self.lock:
                    self.running -= 1
            return str(context.partition.key)

        return letter


# --------------------------------------------------------------------------- what block=False returns
def test_block_false_returns_a_handle_that_reads_as_the_published_result() -> None:
    calls: list[str] = []
    repo = repo_of(letter_asset(calls))
    handle = repo.backfill(partition_range=rs.PartitionKeyRange.single("a", "c"), block=False)

    assert isinstance(handle, rs.BackfillHandle)
    # every field of the published BackfillResult, with the values the spec gives for block=False
    assert (handle.status, handle.run_ids, handle.num_runs, handle.num_partitions) == ("Requested", [], 3, 3)
    assert (handle.completed, handle.failed, handle.canceled, handle.is_dry_run) == (0, 0, 0, False)
    assert [str(k) for k in handle.partition_keys] == ["a", "b", "c"] and not handle.success
    assert set(statuses(handle).values()) == {"pending"}
    assert isinstance(handle.requested, rs.BackfillResult) and handle.requested.status == "Requested"
    assert handle.snapshot() == handle.requested
    assert repr(handle) == f"BackfillHandle(id='{handle.backfill_id}', status='Requested', completed=0, failed=0, " \
                           "canceled=0)"
    progress = handle.progress
    assert (progress.status, progress.remaining_partitions, progress.tags) == ("Requested", 3, [PRIORITY])
    assert not handle.done() and calls == [] and repo.storage.get_runs() == []
    # a dry run still returns a plain result
    assert type(repo.backfill(partition_keys=["a"], block=False, dry_run=True)) is rs.BackfillResult


# --------------------------------------------------------------------------- executed by a daemon
def test_the_daemon_of_this_process_executes_it_while_the_handle_waits() -> None:
    calls: list[str] = []
    repo = repo_of(letter_asset(calls))
    handle = repo.backfill(partition_keys=["a", "b", "c"], block=False)
    daemon = AutomationDaemon(repo, poll_interval=0.05)
    daemon.start()
    try:
        result = handle.wait(timeout=60)
    finally:
        daemon.stop()
    assert (result.status, result.completed, result.num_runs) == ("CompletedSuccess", 3, 3)
    assert sorted(calls) == ["a", "b", "c"]
    assert handle.done() and handle.status == "CompletedSuccess" and handle.future.result(5) == result
    assert [repo.storage.get_run(run_id).launched_by for run_id in result.run_ids] == \
        [rs.LaunchedBy.backfill(handle.backfill_id)] * 3


#: the letters of ``letter_asset`` in another process, each execution appended to ``executions.txt``
LETTERS_ELSEWHERE = """
    import os, sys, time
    from pathlib import Path
    import rivers as rs

    @rs.Asset(partitions_def=rs.PartitionsDefinition.static_(["a", "b", "c", "d", "e"]))
    def letter(context: rs.AssetExecutionContext) -> str:
        with open("executions.txt", "a") as out:
            out.write(f"{context.partition.key} {os.getpid()}\\n")
        return str(context.partition.key)

    repo = rs.CodeRepository(assets=[letter], default_executor=rs.Executor.in_process())
    repo.resolve(rs.Storage.embedded(".rivers/rivers.db"))
"""

DAEMON = LETTERS_ELSEWHERE + """
    from rivers._core import AutomationDaemon

    daemon = AutomationDaemon(repo, poll_interval=0.05)
    daemon.start()
    deadline = time.monotonic() + 120
    while not Path("stop").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    daemon.stop()
"""


def executions() -> list[tuple[str, int]]:
    """``(key, pid)`` of every execution of ``letter`` recorded in ``executions.txt``."""
    lines = Path("executions.txt").read_text().split() if Path("executions.txt").exists() else []
    return [(key, int(pid)) for key, pid in zip(lines[::2], lines[1::2])]


def test_a_daemon_in_another_process_executes_it_while_the_handle_waits() -> None:
    repo = repo_of(letter_asset([]))
    handle = repo.backfill(partition_keys=["a", "b"], block=False)
    daemon = subprocess.Popen([sys.executable, "-c", textwrap.dedent(DAEMON)], stderr=subprocess.PIPE, text=True)
    try:
        result = handle.wait(timeout=90)
    finally:
        Path("stop").touch()
        _, errors = daemon.communicate(timeout=60)
    assert daemon.returncode == 0, errors
    assert (result.status, result.completed, result.failed) == ("CompletedSuccess", 2, 0)
    # executed once per key, by the other process
    assert sorted(executions()) == [("a", daemon.pid), ("b", daemon.pid)]
    assert handle.progress.launched_by == rs.LaunchedBy.manual()


# --------------------------------------------------------------------------- executed here: start()
def test_start_runs_it_in_the_background_through_the_run_queue() -> None:
    tracker = Tracker(pause=0.05)
    tracker.gate.clear()
    repo = repo_of(tracker.asset(), run_queue=rs.RunQueueConfig(max_concurrent_runs=2))
    handle = repo.backfill(partition_keys=LETTERS, block=False, max_concurrency=3)

    assert handle.start() is True
    assert handle.start() is True  # started already: nothing more
    wait_until(lambda: tracker.running == 2, "two runs going")
    assert handle.status == "InProgress" and not handle.done()
    # max_concurrency=3 launches three runs; the run queue lets two of them go, the third waits as Queued
    wait_until(lambda: len(repo.storage.get_runs(status="Queued")) == 1, "a queued run")
    tracker.gate.set()
    result = handle.wait(timeout=60)

    assert (result.status, result.completed, result.num_runs) == ("CompletedSuccess", 5, 5)
    assert tracker.peak == 2 and sorted(tracker.calls) == LETTERS
    assert handle.future.result(5) == result and handle.done()
    assert all(PRIORITY in repo.storage.get_run(run_id).tags for run_id in result.run_ids)


def test_start_honours_max_concurrency() -> None:
    tracker = Tracker(pause=0.15)
    repo = repo_of(tracker.asset())
    handle = repo.backfill(partition_keys=LETTERS, block=False, max_concurrency=2)
    assert handle.start()
    result = handle.wait(timeout=60)
    assert result.status == "CompletedSuccess" and tracker.peak == 2


def test_a_progress_callback_follows_a_started_backfill() -> None:
    seen: list[tuple[str, int]] = []

    class Progress:
        def started(self, record: Any) -> None:
            seen.append(("started", 0))

        def __call__(self, record: Any) -> None:
            seen.append((record.status, record.count("completed")))

    repo = repo_of(letter_asset([]))
    handle = repo.backfill(partition_keys=["a", "b"], block=False, max_concurrency=1, progress=Progress())
    assert seen == []  # nothing runs before start()
    handle.start()
    handle.wait(timeout=60)
    assert seen == [("started", 0), ("InProgress", 1), ("InProgress", 2)]


# --------------------------------------------------------------------------- cancel, timeout, nobody executing
def test_cancel_through_the_handle_stops_launching_and_drops_queued_runs() -> None:
    tracker = Tracker()
    tracker.gate.clear()
    repo = repo_of(tracker.asset(), run_queue=rs.RunQueueConfig(max_concurrent_runs=1))
    handle = repo.backfill(partition_keys=LETTERS, block=False, max_concurrency=2)
    handle.start()
    wait_until(lambda: tracker.running == 1 and len(repo.storage.get_runs(status="Queued")) == 1,
               "one run going and one queued")

    assert handle.cancel() is True
    tracker.gate.set()
    result = handle.wait(timeout=60)

    assert tracker.calls == ["a"]  # the queued run never started
    assert (result.status, result.completed, result.canceled) == ("Canceled", 1, 4)
    assert sorted(run.status for run in repo.storage.get_runs()) == ["Canceled", "Success"]
    assert handle.cancel() is False  # finished already
    assert repo.get_backfill(handle.backfill_id).status == "Canceled"


def test_cancel_a_requested_backfill_through_the_handle() -> None:
    calls: list[str] = []
    repo = repo_of(letter_asset(calls))
    handle = repo.backfill(partition_keys=["a", "b"], block=False)
    assert handle.cancel() is True
    assert handle.start() is False  # nothing left to claim
    result = handle.wait(timeout=5)
    assert (result.status, result.canceled, result.run_ids, calls) == ("Canceled", 2, [], [])


def test_wait_with_a_timeout_raises_an_error_naming_the_backfill() -> None:
    tracker = Tracker()
    tracker.gate.clear()
    repo = repo_of(tracker.asset())
    handle = repo.backfill(partition_keys=["a", "b"], block=False, max_concurrency=1)
    handle.start()
    wait_until(lambda: tracker.running == 1, "the first run")
    begun = time.monotonic()
    with pytest.raises(BackfillTimeoutError, match=f"backfill '{handle.backfill_id}' still InProgress after 0.3s "
                       r"\(0 completed, 0 failed, 0 canceled of 2 partitions\)") as raised:
        handle.wait(timeout=0.3)
    assert time.monotonic() - begun >= 0.3
    assert isinstance(raised.value, TimeoutError) and not isinstance(raised.value, BackfillUnattendedError)
    tracker.gate.set()
    assert handle.wait(timeout=60).status == "CompletedSuccess"  # it went on


def test_wait_says_so_when_nothing_executes_a_requested_backfill() -> None:
    repo = repo_of(letter_asset([]))
    handle = repo.backfill(partition_keys=["a"], block=False)
    with pytest.raises(BackfillUnattendedError, match=rf"backfill '{handle.backfill_id}' is still Requested after "
                       r"0\.\ds and nothing executes it: no automation daemon leads this storage .*`rivers daemon`.*"
                       r"handle\.start\(\)"):
        handle.wait(unattended=0.2)
    # a daemon leading the storage (here: holding the leader lease, busy elsewhere) will get to it: a plain timeout
    from rivers.automation.leadership import LEASE_NAME

    assert repo.storage.acquire_lease(LEASE_NAME, "another-daemon", 30) is not None
    with pytest.raises(BackfillTimeoutError) as raised:
        handle.wait(timeout=0.5, unattended=0.1)
    assert not isinstance(raised.value, BackfillUnattendedError)
    assert handle.status == "Requested"


# --------------------------------------------------------------------------- executed once, whoever reaches for it
CONTENDER = LETTERS_ELSEWHERE + """
    from rivers.backfills.service import run_requested_backfill

    state = repo.resolved
    time.sleep(max(0.0, float(sys.argv[2]) - time.time()))  # every contender at once
    record = run_requested_backfill(state, sys.argv[1], executor=repo.default_executor)
    print("claimed" if record is not None else "not claimed")
"""


def test_two_processes_and_a_handle_racing_for_a_requested_backfill_execute_it_once() -> None:
    repo = repo_of(letter_asset([]))
    handle = repo.backfill(partition_keys=LETTERS, block=False, max_concurrency=2)
    start_at = str(time.time() + 3.0)
    contenders = [subprocess.Popen([sys.executable, "-c", textwrap.dedent(CONTENDER), handle.backfill_id, start_at],
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    time.sleep(max(0.0, float(start_at) - time.time()))
    claimed_here = handle.start()
    replies = []
    for process in contenders:
        out, errors = process.communicate(timeout=120)
        assert process.returncode == 0, errors
        replies.append(out.strip())
    result = handle.wait(timeout=60)

    assert sorted([*replies, "claimed" if claimed_here else "not claimed"]) == ["claimed", "not claimed",
                                                                                "not claimed"]
    assert (result.status, result.completed, result.num_runs) == ("CompletedSuccess", 5, 5)
    ran = executions() if Path("executions.txt").exists() else []
    if claimed_here:  # this process ran them (its asset records in memory, not in the file)
        assert ran == []
    else:
        assert sorted(key for key, _ in ran) == LETTERS and len({pid for _, pid in ran}) == 1
    assert len(repo.storage.get_runs(limit=100)) == 5


def test_threads_claiming_one_backfill_get_it_once() -> None:
    from rivers.backfills.state import claim_backfill

    repo = repo_of(letter_asset([]))
    handle = repo.backfill(partition_keys=["a"], block=False)
    claims: list[Any] = []
    barrier = threading.Barrier(8)

    def contend() -> None:
        barrier.wait()
        claims.append(claim_backfill(repo.storage, handle.backfill_id))

    threads = [threading.Thread(target=contend) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    won = [claim for claim in claims if claim is not None]
    assert len(won) == 1 and won[0].status == "InProgress" and won[0].owner[1] == os.getpid()
    assert handle.status == "InProgress"
    assert claim_backfill(repo.storage, handle.backfill_id) is None


DIES_AFTER_CLAIMING = """
    import os, sys
    import rivers as rs
    import rivers.backfills.state as state

    storage = rs.Storage.embedded(".rivers/rivers.db")
    # the process dies right after its claim, before it could mark the backfill InProgress
    state.save_backfill = lambda *args, **kwargs: os._exit(0)
    state.claim_backfill(storage, sys.argv[1])
    os._exit(3)
"""


def test_a_claim_whose_process_died_before_starting_the_backfill_is_taken_over() -> None:
    calls: list[str] = []
    repo = repo_of(letter_asset(calls))
    handle = repo.backfill(partition_keys=["a", "b"], block=False)
    died = subprocess.run([sys.executable, "-c", textwrap.dedent(DIES_AFTER_CLAIMING), handle.backfill_id],
                          capture_output=True, text=True, timeout=60)
    assert died.returncode == 0, died.stderr  # it claimed (and died in the save that follows)
    assert handle.status == "Requested"
    assert handle.start() is True
    assert handle.wait(timeout=60).status == "CompletedSuccess" and sorted(calls) == ["a", "b"]


def test_a_blocking_backfill_is_never_requested() -> None:
    # a blocking backfill is stored InProgress (owned by this process) from the start: no daemon picks it up too
    seen: list[str] = []

    class Progress:
        def started(self, record: Any) -> None:
            seen.append(repo.get_backfill(record.backfill_id).status)

        def __call__(self, record: Any) -> None:
            pass

    repo = repo_of(letter_asset([]))
    result = repo.backfill(partition_keys=["a"], progress=Progress())
    assert seen == ["InProgress"] and result.status == "CompletedSuccess"


def test_a_backfill_the_daemon_cannot_plan_fails_instead_of_staying_requested() -> None:
    handle = repo_of(letter_asset([])).backfill(["letter"], partition_keys=["a", "b"], block=False)

    @rs.Asset
    def other() -> int:
        return 1

    daemon = AutomationDaemon(repo_of(other), poll_interval=0.05)  # its code has no asset 'letter'
    daemon.start()
    try:
        result = handle.wait(timeout=30)
    finally:
        daemon.stop()
    assert (result.status, result.failed, result.run_ids) == ("CompletedFailed", 2, [])
    assert handle.progress.error.startswith("backfill could not start: ") and "letter" in handle.progress.error


# --------------------------------------------------------------------------- rerun_backfill(block=False)
def test_rerun_backfill_block_false_returns_a_handle_too() -> None:
    calls: list[str] = []
    broken = {"b"}
    repo = repo_of(letter_asset(calls, broken))
    first = repo.backfill(partition_keys=["a", "b", "c"])
    assert first.failed == 1
    broken.clear()

    handle = repo.rerun_backfill(first.backfill_id, block=False)
    assert isinstance(handle, rs.BackfillHandle)
    assert (handle.status, handle.num_partitions, handle.run_ids) == ("Requested", 1, [])
    assert handle.start()
    result = handle.wait(timeout=60)
    assert (result.status, result.completed, [str(k) for k in result.partition_keys]) == ("CompletedSuccess", 1, ["b"])
    assert ("rivers/rerun_of", first.backfill_id) in handle.progress.tags
    assert sorted(calls[:3]) == ["a", "b", "c"] and calls[3:] == ["b"]  # only the failed key ran again


def test_a_progress_object_failing_at_start_leaves_the_backfill_canceled_not_in_progress() -> None:
    class Progress:
        def started(self, record: Any) -> None:
            raise RuntimeError("no terminal")

        def __call__(self, record: Any) -> None:
            pass

    calls: list[str] = []
    repo = repo_of(letter_asset(calls))
    handle = repo.backfill(partition_keys=["a"], block=False, progress=Progress())
    assert handle.start()
    with pytest.raises(RuntimeError, match="no terminal"):
        handle.wait(timeout=30)
    assert (handle.status, handle.canceled, calls) == ("Canceled", 1, [])
    assert "no terminal" in handle.progress.error
