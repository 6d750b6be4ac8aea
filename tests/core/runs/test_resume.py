"""Crash and resume: SIGKILL the process running a pipeline mid-run, then resume the run.

The pipeline's third asset waits for a marker file, so the kill lands while
it runs; the first two have succeeded by then and must not run again.
"""

from __future__ import annotations

import collections
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

import parallel_support as ps
import rivers as rs
from support import wait_for_run_progress, wait_until_exists, write_crash_project

PIPELINE = """
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, {support!r})
import rivers as rs
import parallel_support as ps

IO = ps.Files(root=os.path.abspath("values"))


@rs.Asset(io_handler=IO)
def first() -> int:
    ps.bump("first")
    return 1


@rs.Asset(io_handler=IO)
def second(first: int) -> int:
    ps.bump("second")
    return first + 1


@rs.Asset(io_handler=IO)
def third(second: int) -> int:
    ps.bump("third")
    (ps.marks_dir() / "third-started").touch()
    while not (ps.marks_dir() / "release").exists():
        time.sleep(0.02)
    return second + 1


@rs.Asset(io_handler=IO)
def fourth(third: int) -> int:
    ps.bump("fourth")
    return third + 1


@rs.Asset(io_handler=IO)
def side() -> str:
    ps.bump("side")
    return "side"


executor = rs.Executor.parallel(max_workers=2) if os.environ["EXECUTOR"] == "parallel" else rs.Executor.in_process()
repo = rs.CodeRepository(assets=[first, second, third, fourth, side], default_executor=executor)

if __name__ == "__main__":
    repo.resolve(rs.Storage.embedded("runs.db"))
    result = repo.materialize(run_id_override=sys.argv[1], resume=len(sys.argv) > 2)
    print("success" if result.success else "failure")
"""


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return write_crash_project(tmp_path, monkeypatch, PIPELINE)


def start_and_kill(command: list[str], env: dict[str, str]) -> None:
    """Start ``command``, wait until the third asset runs, SIGKILL the process."""
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    wait_until_exists(process, ps.marks_dir() / "third-started", what="the third asset started", timeout=20)
    # what finished is in the store, and the owner is recorded (a reader can then tell that it died)
    wait_for_run_progress("runs.db", {"first", "second", "side"}, monitored=True)
    process.send_signal(signal.SIGKILL)
    process.wait(10)
    process.stdout.close()
    process.stderr.close()
    assert process.returncode == -signal.SIGKILL


def counts() -> dict[str, int]:
    return {name: int(ps.counter_path(name).read_text()) if ps.counter_path(name).exists() else 0
            for name in ("first", "second", "third", "fourth", "side")}


def check_resumed_run(run_id: str, killed_at: dict[str, int]) -> None:
    storage = rs.Storage.embedded("runs.db")
    run = storage.get_run(run_id)
    assert run.status == "Success"
    events = storage.get_events_for_run(run_id)
    materialized = collections.Counter(e.asset_key for e in events if e.event_type == "Materialization")
    succeeded = collections.Counter(e.asset_key for e in events if e.event_type == "StepSuccess")
    assert materialized == succeeded == {name: 1 for name in ("first", "second", "third", "fourth", "side")}
    assert len({e.id for e in events}) == len(events)
    # steps that had finished before the kill did not run again; the rest ran once more
    after = counts()
    assert after["first"] == after["second"] == 1
    assert after["third"] == 2 and after["fourth"] == 1
    assert after["side"] == killed_at["side"] == 1
    # the interrupted step's first attempt left no events; values were reused from files
    assert [e.event_type for e in events if e.asset_key == "third"] == ["StepStart", "Materialization", "StepSuccess"]
    assert ps.Files(root="values").load_input(rs.InputContext("fourth", "test")) == 4
    storage.close()


@pytest.mark.parametrize("executor", ["parallel", "in_process"])
def test_materialize_resume_after_the_controller_was_killed(project: Path, executor: str) -> None:
    env = {**os.environ, "EXECUTOR": executor}
    run_id = "0f0e0d0c-aaaa-4bbb-8ccc-123456789abc"
    start_and_kill([sys.executable, "pipeline.py", run_id], env)
    killed_at = counts()
    assert killed_at == {"first": 1, "second": 1, "third": 1, "fourth": 0, "side": 1}
    storage = rs.Storage.embedded("runs.db")
    # the next reader finds the owner dead: failed, "process died", its completed steps kept
    assert storage.get_run(run_id).status == "Failure"
    assert storage.get_run_monitor(run_id).end_reason == "process died"
    assert storage._completed_steps(run_id) == {"first", "second", "side"}
    storage.close()

    (ps.marks_dir() / "release").touch()
    resumed = subprocess.run([sys.executable, "pipeline.py", run_id, "resume"], env=env, capture_output=True,
                             text=True, timeout=60, check=False)
    assert resumed.returncode == 0 and resumed.stdout.strip() == "success", resumed.stderr
    check_resumed_run(run_id, killed_at)


def test_rivers_resume_finishes_a_killed_cli_run(project: Path) -> None:
    env = {**os.environ, "EXECUTOR": "parallel"}
    start_and_kill([sys.executable, "-m", "rivers.cli", "materialize", "pipeline.py"], env)
    killed_at = counts()
    storage = rs.Storage.embedded("runs.db")
    (run,) = storage.get_runs()
    assert run.status == "Failure" and storage.get_run_monitor(run.run_id).end_reason == "process died"
    storage.close()

    (ps.marks_dir() / "release").touch()
    resumed = subprocess.run([sys.executable, "-m", "rivers.cli", "resume", run.run_id[:8]], env=env,
                             capture_output=True, text=True, timeout=60, check=False)
    assert resumed.returncode == 0, resumed.stderr
    assert f"Run {run.run_id}: success" in resumed.stdout
    check_resumed_run(run.run_id, killed_at)

    again = subprocess.run([sys.executable, "-m", "rivers.cli", "resume", run.run_id], env=env,
                           capture_output=True, text=True, timeout=60, check=False)
    assert again.returncode == 0 and "already succeeded" in again.stdout


def test_rivers_resume_needs_a_target_for_runs_started_from_python(project: Path) -> None:
    repo = rs.CodeRepository(assets=[ps.source], default_executor=rs.Executor.in_process())
    repo.resolve(rs.Storage.embedded("runs.db"))
    run_id = repo.materialize(raise_on_error=False).run_id
    repo.storage._update_run(run_id, status="Failure")
    repo.storage.close()
    resumed = subprocess.run([sys.executable, "-m", "rivers.cli", "resume", run_id], capture_output=True, text=True,
                             timeout=60, check=False)
    assert resumed.returncode != 0
    assert "was not started by `rivers materialize`; pass its TARGET" in resumed.stderr
