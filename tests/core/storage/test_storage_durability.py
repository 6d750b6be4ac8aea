"""Progress is durable: a finished step's events are committed within commit_delay, whatever runs next.

A run whose quick first step is followed by a long one used to commit
nothing until the run ended, so killing its process lost the finished step.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

import rivers as rs

_SCRIPT = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    import rivers as rs

    database, marker = sys.argv[1], Path(sys.argv[2])

    @rs.Asset
    def quick() -> int:
        return 1

    @rs.Asset
    def slow(quick: int) -> int:
        marker.write_text("started")
        time.sleep(120)
        return quick

    repo = rs.CodeRepository(assets=[quick, slow], default_executor=rs.Executor.in_process())
    repo.resolve(rs.Storage.embedded(database))
    repo.materialize()
""")


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="no SIGKILL on this platform")
def test_a_finished_step_survives_sigkill_during_the_next_long_step(tmp_path: Path) -> None:
    script, database, marker = tmp_path / "run.py", tmp_path / "runs.db", tmp_path / "marker"
    script.write_text(_SCRIPT)
    child = subprocess.Popen([sys.executable, str(script), str(database), str(marker)])
    try:
        deadline = time.monotonic() + 60
        while not marker.exists() and time.monotonic() < deadline and child.poll() is None:
            time.sleep(0.01)
        assert marker.exists(), "the long step never started"
        # the default commit_delay is 0.05 s: the quick step's events must be committed well within this
        storage = rs.Storage.embedded(database)
        try:
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                runs = storage.get_runs()
                if runs and len(storage.get_events_for_run(runs[0].run_id)) >= 3:
                    break
                time.sleep(0.02)
        finally:
            storage.close()
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait(30)
    storage = rs.Storage.embedded(database)
    try:
        [run] = storage.get_runs()
        assert run.status == "Started"  # the process died; the run was never closed
        events = [(e.event_type, e.asset_key) for e in storage.get_events_for_run(run.run_id)]
        assert events[:3] == [("StepStart", "quick"), ("Materialization", "quick"), ("StepSuccess", "quick")]
        assert storage.get_latest_materialization("quick") is not None
        assert storage._completed_steps(run.run_id) == {"quick"}  # a resume would skip it
    finally:
        storage.close()


def test_a_finished_step_is_visible_to_another_process_during_the_next_step(tmp_path: Path) -> None:
    """The same through a second storage object while the run goes on (no kill)."""
    import threading

    database = tmp_path / "live.db"
    release = threading.Event()
    seen: list[list[str]] = []

    @rs.Asset
    def first() -> int:
        return 1

    @rs.Asset
    def second(first: int) -> int:
        observer = rs.Storage.embedded(database)  # another object: reads only what was committed or published
        try:
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                conn_events = _committed_events(database)
                if len(conn_events) >= 3:
                    break
                time.sleep(0.01)
            seen.append(conn_events)
        finally:
            observer.close()
        release.set()
        return first

    repo = rs.CodeRepository(assets=[first, second], default_executor=rs.Executor.in_process())
    repo.resolve(rs.Storage.embedded(database))
    assert repo.materialize().success
    assert seen and seen[0][:3] == ["StepStart", "Materialization", "StepSuccess"]


def _committed_events(database: Path) -> list[str]:
    """Event types as a plain connection (another process) reads them."""
    import sqlite3

    conn = sqlite3.connect(database)
    try:
        return [row[0] for row in conn.execute("SELECT event_type FROM events ORDER BY seq")]
    finally:
        conn.close()


@pytest.mark.parametrize("background", [True, False])
def test_a_background_writer_writes_a_long_runs_queue_itself(tmp_path: Path, background: bool) -> None:
    """A run's event writer thread writes what is queued once there is enough; other threads leave it queued.

    The records of a run whose record is still queued wait for the run's
    group commit (``commit_delay``, here far away); a thread marked as a
    run's background writer commits them itself at 500 records, so its writes
    overlap the steps that follow instead of landing on the run's end.
    """
    import threading

    from rivers.storage.records import RunRecord, StoredEvent
    from rivers.storage.writer_threads import is_background_writer, mark_background_writer

    database = tmp_path / "queue.db"
    storage = rs.Storage.embedded(database, commit_delay=60)
    try:
        storage.start_run(RunRecord(run_id="r1", job_name=None, status="Started", start_time=time.time_ns()))
        events = [StoredEvent(f"e{i}", "StepSuccess", f"a{i}", "r1") for i in range(499)]

        def write() -> None:
            if background:
                mark_background_writer()
            storage.append_events(events)
            storage.append_events([StoredEvent("last", "StepSuccess", "last", "r1")])

        writer = threading.Thread(target=write)
        writer.start()
        writer.join(30)
        assert not is_background_writer()  # the mark is the thread's own
        assert len(_committed_events(database)) == (500 if background else 0)
        assert len(storage.get_events_for_run("r1")) == 500  # the writing object sees everything either way
    finally:
        storage.close()
    assert len(_committed_events(database)) == 500
