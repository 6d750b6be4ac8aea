"""The record never lies: SIGINT, SIGTERM and SIGKILL of a real ``rivers materialize``, then ``rivers resume``.

The pipeline is the one of the bug report: ``extract`` is quick, ``transform``
waits for a release file (so the signal lands while it runs), ``load`` comes
last. Every asset appends its name to a side-effect log when it runs, so the
tests can prove that nothing ran twice across the attempts.
"""

from __future__ import annotations

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


def log(name):
    with open(os.path.join(os.environ["RIVERS_TEST_MARKS"], "side.log"), "a") as side:
        side.write(name + "\\n")


@rs.Asset(io_handler=IO, group="etl")
def extract() -> int:
    log("extract")
    return 1


@rs.Asset(io_handler=IO, group="etl")
def transform(extract: int) -> int:
    log("transform started")
    (ps.marks_dir() / "transform-started").touch()
    while not (ps.marks_dir() / "release").exists():
        time.sleep(0.02)
    log("transform")
    return extract + 1


@rs.Asset(io_handler=IO, group="etl", tags=["daily"])
def load(transform: int) -> int:
    log("load")
    return transform + 1


executor = rs.Executor.parallel(max_workers=2) if os.environ["EXECUTOR"] == "parallel" else rs.Executor.in_process()
repo = rs.CodeRepository(assets=[extract, transform, load], default_executor=executor)
"""


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return write_crash_project(tmp_path, monkeypatch, PIPELINE)


def rivers(*args: str, executor: str = "in_process", timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "rivers.cli", *args], env={**os.environ, "EXECUTOR": executor},
                          capture_output=True, text=True, timeout=timeout, check=False)


def start_materialize(executor: str) -> subprocess.Popen[str]:
    """Start ``rivers materialize pipeline.py`` and wait until ``transform`` runs.

    Whatever the worker start method, a worker dies with a SIGKILLed
    controller (its lifeline), so no orphan finishes ``transform`` later:
    the side-effect log would show it twice.
    """
    env = {**os.environ, "EXECUTOR": executor}
    process = subprocess.Popen([sys.executable, "-m", "rivers.cli", "materialize", "pipeline.py"], env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wait_until_exists(process, ps.marks_dir() / "transform-started", what="transform started")
    wait_for_run_progress("runs.db", {"extract"}, monitored=True)  # extract is stored, the owner recorded
    return process


def kill_hard(process: subprocess.Popen[str]) -> None:
    """SIGKILL the controller (its worker processes die with it; they may hold its pipes a moment longer)."""
    process.send_signal(signal.SIGKILL)
    process.wait(30)
    process.stdout.close()
    process.stderr.close()
    assert process.returncode == -signal.SIGKILL


def side_log() -> list[str]:
    path = ps.marks_dir() / "side.log"
    return path.read_text().splitlines() if path.exists() else []


def only_run() -> rs.RunRecord:
    with rs.Storage.embedded("runs.db") as storage:
        (run,) = storage.get_runs()
        return run


def step_events(run_id: str) -> dict[str, list[str]]:
    with rs.Storage.embedded("runs.db") as storage:
        steps: dict[str, list[str]] = {}
        for event in storage.get_events_for_run(run_id):
            if event.event_type.startswith("Step"):
                steps.setdefault(event.asset_key, []).append(event.event_type)
        return steps


def step_rows(shown: str) -> dict[str, str]:
    """The rows of the Steps section of ``rivers run`` by step name."""
    lines = shown.splitlines()
    start = lines.index("Steps:") + 2  # after the header row
    rows = {}
    for line in lines[start:]:
        if not line.strip():
            break
        rows[line.split()[0]] = line
    return rows


def resume_and_check(run: rs.RunRecord, executor: str) -> None:
    """Release transform, resume the run: only transform and load run again; extract stays at one run."""
    (ps.marks_dir() / "release").touch()
    resumed = rivers("resume", run.run_id[:8], executor=executor)
    assert resumed.returncode == 0, resumed.stderr
    assert f"Run {run.run_id}: success" in resumed.stdout
    assert side_log().count("extract") == 1  # finished before the stop: never run again
    assert side_log().count("transform") == 1 and side_log().count("load") == 1
    with rs.Storage.embedded("runs.db") as storage:
        record = storage.get_run(run.run_id)
        assert record.status == "Success" and record.launched_by == run.launched_by
        events = storage.get_events_for_run(run.run_id)
        assert [e.asset_key for e in events if e.event_type == "StepSuccess"].count("extract") == 1
        monitor = storage.get_run_monitor(run.run_id)
        assert len(monitor.attempts) == 1 and monitor.end_reason is None
    shown = rivers("run", run.run_id[:8])
    assert shown.returncode == 0, shown.stderr
    assert "Attempts:" in shown.stdout and "gap between attempts" in shown.stdout
    # no step shows an old attempt's state: all three succeeded
    rows = step_rows(shown.stdout)
    assert sorted(rows) == ["extract", "load", "transform"], shown.stdout
    for line in rows.values():
        assert "success" in line and "interrupted" not in line and "terminated" not in line, line


@pytest.mark.parametrize("executor", ["in_process", "parallel"])
def test_ctrl_c_records_the_run_canceled_and_resume_runs_only_the_rest(project: Path, executor: str) -> None:
    process = start_materialize(executor)
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=30)
    assert process.returncode == 130, (out, err)
    assert "interrupted" in err

    run = only_run()
    assert run.status == "Canceled"
    with rs.Storage.embedded("runs.db") as storage:
        assert storage.get_run_monitor(run.run_id).end_reason == "interrupted"
    steps = step_events(run.run_id)
    assert steps["extract"] == ["StepStart", "StepSuccess"]
    assert steps["transform"][-1] == "StepNotRun" and steps["load"] == ["StepNotRun"]
    assert "StepSuccess" not in steps["transform"]
    listed = rivers("runs")
    assert "canceled (interrupted)" in listed.stdout, listed.stdout
    resume_and_check(run, executor)


@pytest.mark.parametrize("executor", ["in_process", "parallel"])
def test_sigterm_records_the_run_canceled_terminated_and_exits_143(project: Path, executor: str) -> None:
    process = start_materialize(executor)
    process.send_signal(signal.SIGTERM)
    out, err = process.communicate(timeout=30)
    assert process.returncode == 143, (out, err)
    assert "terminated" in err

    run = only_run()
    assert run.status == "Canceled"
    with rs.Storage.embedded("runs.db") as storage:
        assert storage.get_run_monitor(run.run_id).end_reason == "terminated"
    assert step_events(run.run_id)["load"] == ["StepNotRun"]
    resume_and_check(run, executor)


@pytest.mark.parametrize("executor", ["in_process", "parallel"])
def test_after_sigkill_readers_see_a_dead_run_and_resume_runs_only_what_did_not_finish(
    project: Path, executor: str
) -> None:
    process = start_materialize(executor)
    # another process reading the shared storage file meanwhile sees the run going
    listed = rivers("runs")
    assert "started" in listed.stdout and "running" in listed.stdout, listed.stdout
    kill_hard(process)

    # the daemon's call (and `rivers runs --reconcile`) finds the dead owner
    reconciled = rivers("runs", "--reconcile")
    assert reconciled.returncode == 0, reconciled.stderr
    assert "failure (process died)" in reconciled.stdout and "started" not in reconciled.stdout
    run = only_run()
    assert run.status == "Failure" and run.end_time is not None
    with rs.Storage.embedded("runs.db") as storage:
        assert storage.get_run_monitor(run.run_id).end_reason == "process died"
        assert storage._completed_steps(run.run_id) == {"extract"}  # extract's events reached the store
        assert storage.reconcile_runs() == []  # nothing left to reconcile
    resume_and_check(run, executor)


def test_rivers_runs_never_shows_a_dead_run_as_running(project: Path) -> None:
    process = start_materialize("in_process")
    kill_hard(process)
    listed = rivers("runs")  # no --reconcile: reading is enough
    assert listed.returncode == 0, listed.stderr
    assert "failure (process died)" in listed.stdout and "running" not in listed.stdout, listed.stdout
    shown = rivers("run", only_run().run_id[:8])
    assert "process died" in shown.stdout
    assert "not run" in step_rows(shown.stdout)["transform"]


def test_an_empty_selection_is_an_error_naming_the_groups_and_tags(project: Path) -> None:
    done = rivers("materialize", "pipeline.py", "-s", "group:nope")
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert "group:nope" in done.stderr and "etl" in done.stderr and "daily" in done.stderr
    assert not Path("runs.db").exists() or rivers("runs").stdout.strip().startswith("no runs")
