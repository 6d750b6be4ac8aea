"""Runs in a PostgreSQL store whose process died: SIGKILL a real ``rivers materialize``, reconcile, resume.

``extract`` is quick, ``transform`` waits for a release file (so the kill
lands while it runs), ``load`` comes last; every asset appends its name to
a side-effect log, so the test proves that nothing ran twice.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import rivers as rs

PIPELINE = '''
import os
import pickle
import time
from pathlib import Path

import rivers as rs

MARKS = Path(os.environ["RIVERS_TEST_MARKS"])


class Files(rs.BaseIOHandler):
    def _path(self, name):
        return Path("values") / f"{name}.pkl"

    def handle_output(self, context, obj):
        path = self._path(context.asset_name)
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(pickle.dumps(obj))

    def load_input(self, context):
        return pickle.loads(self._path(context.asset_name).read_bytes())


def log(name):
    with open(MARKS / "side.log", "a") as side:
        side.write(name + "\\n")


@rs.Asset(io_handler=Files())
def extract() -> int:
    log("extract")
    return 1


@rs.Asset(io_handler=Files())
def transform(extract: int) -> int:
    log("transform started")
    (MARKS / "transform-started").touch()
    while not (MARKS / "release").exists():
        time.sleep(0.02)
    log("transform")
    return extract + 1


@rs.Asset(io_handler=Files())
def load(transform: int) -> int:
    log("load")
    return transform + 1


repo = rs.CodeRepository(assets=[extract, transform, load], default_executor=rs.Executor.in_process())
'''


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, pg_url: str, pg_schema: str) -> Path:
    marks = tmp_path / "marks"
    marks.mkdir()
    monkeypatch.setenv("RIVERS_TEST_MARKS", str(marks))
    (tmp_path / "pipeline.py").write_text(PIPELINE)
    (tmp_path / "rivers.toml").write_text(f'[storage]\nurl = "{pg_url}"\nschema = "{pg_schema}"\n')
    return tmp_path


def _rivers(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "rivers.cli", *args], capture_output=True, text=True, timeout=120,
                          check=False)


def _side_log(project: Path) -> list[str]:
    path = project / "marks" / "side.log"
    return path.read_text().splitlines() if path.exists() else []


def _wait_for_owner(storage: rs.Storage, process: subprocess.Popen[str], project: Path) -> rs.RunRecord:
    """Wait until transform runs and the run's owner and extract's events are in the store."""
    deadline = time.monotonic() + 60
    while True:
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "the run never recorded its owner while transform ran"
        runs = storage.get_runs(limit=1)
        if runs and (project / "marks" / "transform-started").exists():
            run = runs[0]
            if storage.get_run_monitor(run.run_id) is not None and storage._completed_steps(run.run_id) == {"extract"}:
                return run
        time.sleep(0.05)


def test_sigkill_of_a_run_on_postgres_is_reconciled_and_resumed(project: Path, pg_url: str, pg_schema: str) -> None:
    storage = rs.Storage.connect(pg_url, schema=pg_schema)
    try:
        process = subprocess.Popen([sys.executable, "-m", "rivers.cli", "materialize", "pipeline.py"],
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        run = _wait_for_owner(storage, process, project)
        assert run.status == "Started"  # alive: another reader does not touch it
        monitor = storage.get_run_monitor(run.run_id)
        assert monitor is not None and monitor.pid == process.pid
        assert storage.reconcile_runs() == []
        process.send_signal(signal.SIGKILL)
        process.communicate(timeout=30)
        assert process.returncode == -signal.SIGKILL

        reconciled = _rivers("runs", "--reconcile")
        assert reconciled.returncode == 0, reconciled.stderr
        assert "failure (process died)" in reconciled.stdout and "started" not in reconciled.stdout, reconciled.stdout
        dead = storage.get_run(run.run_id)
        assert dead is not None and dead.status == "Failure" and dead.end_time is not None
        assert storage.get_run_monitor(run.run_id).end_reason == "process died"  # type: ignore[union-attr]
        assert storage._completed_steps(run.run_id) == {"extract"}
        assert storage.reconcile_runs() == []  # once

        (project / "marks" / "release").touch()
        resumed = _rivers("resume", run.run_id[:8])
        assert resumed.returncode == 0, resumed.stderr
        assert f"Run {run.run_id}: success" in resumed.stdout
        log = _side_log(project)
        assert log.count("extract") == 1 and log.count("transform") == 1 and log.count("load") == 1, log
        final = storage.get_run(run.run_id)
        assert final is not None and final.status == "Success"
        monitor = storage.get_run_monitor(run.run_id)
        assert monitor is not None and len(monitor.attempts) == 1 and monitor.end_reason is None
    finally:
        storage.close()


def test_a_reader_of_another_connection_sees_a_dead_run_failed(pg_url: str, pg_schema: str) -> None:
    from rivers.storage.records import RunRecord
    from rivers.testing._storage_monitoring import dead_owner

    writer = rs.Storage.connect(pg_url, schema=pg_schema)
    reader = rs.Storage.connect(pg_url, schema=pg_schema, pool=False)  # pgBouncer mode: no session state
    try:
        now = time.time_ns()
        writer._create_run(RunRecord("r", status="Started", start_time=now - 10, node_names=["a"]))
        writer._put_run_monitor(dead_owner("r", heartbeat=now))
        assert [record.status for record in reader.get_runs()] == ["Failure"]
        assert writer.get_run("r").end_time == now  # type: ignore[union-attr]
    finally:
        writer.close()
        reader.close()


def test_a_run_of_this_live_process_is_not_reconciled(pg_url: str, pg_schema: str) -> None:
    from rivers.storage.monitor import RunMonitor, current_owner
    from rivers.storage.records import RunRecord

    with rs.Storage.connect(pg_url, schema=pg_schema) as storage:
        storage._create_run(RunRecord("mine", status="Started", start_time=time.time_ns(), node_names=["a"]))
        host, pid, started = current_owner()
        assert pid == os.getpid()
        storage._put_run_monitor(RunMonitor("mine", host, pid, started, heartbeat=time.time_ns()))
        assert storage.reconcile_runs() == [] and storage.get_run("mine").status == "Started"  # type: ignore[union-attr]
