"""Failures under the parallel executor: user errors, unpicklable errors, dying workers."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

import parallel_support as ps
import rivers as rs
from rivers.exceptions import ExecutionError
from rivers.execution.wire import RemoteTraceback
from rivers.execution.worker_pool import WorkerLostError, get_pool


@pytest.fixture(autouse=True)
def _marks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "marks"
    monkeypatch.setenv("RIVERS_TEST_MARKS", str(path))
    return path


def failure_metadata(repo: rs.CodeRepository, run_id: str, key: str) -> dict[str, str]:
    (event,) = [e for e in repo.storage.get_events_for_run(run_id)
                if e.event_type == "StepFailure" and e.asset_key == key]
    return dict(event.metadata)


def test_a_failing_step_skips_its_dependants_and_independent_branches_run_on() -> None:
    repo = ps.repo_of([ps.boom, ps.after_boom, ps.independent])
    result = repo.materialize(raise_on_error=False)
    assert not result.success
    assert dict(result.failed_assets) == {
        "boom": "ValueError: boom in a worker",
        "after_boom": "ExecutionError: Skipped: upstream dependency failed",
    }
    assert repo.load_node("independent") == "still ran"
    metadata = failure_metadata(repo, result.run_id, "boom")
    assert metadata["rivers/failure_reason"] == "error"
    assert json.loads(metadata["rivers/exc_type"])[0] == "builtins.ValueError"
    assert failure_metadata(repo, result.run_id, "after_boom")["rivers/skipped_because"] == "boom"
    logs = [log for log in repo.storage.get_run_logs(result.run_id) if log.step_key == "boom"]
    assert any(log.stderr and "boom in a worker" in log.stderr and "parallel_support.py" in log.stderr for log in logs)
    assert repo.storage.get_run(result.run_id).status == "Failure"


def test_raise_on_error_reraises_the_original_exception_type_with_the_remote_traceback() -> None:
    repo = ps.repo_of([ps.raises_custom, ps.independent])
    with pytest.raises(ps.CustomError, match="custom failure") as caught:
        repo.materialize()
    assert isinstance(caught.value.__cause__, RemoteTraceback)
    assert "raises_custom" in str(caught.value.__cause__)
    assert ps.marks("independent")  # the run finished before raising
    (run,) = repo.storage.get_runs()
    assert run.status == "Failure"


def test_an_unpicklable_exception_becomes_an_execution_error_with_the_remote_traceback() -> None:
    repo = ps.repo_of([ps.raises_unpicklable])
    with pytest.raises(ExecutionError) as caught:
        repo.materialize()
    message = str(caught.value)
    assert message.startswith("Unpicklable: x/y")
    assert "Traceback" in message and "raises_unpicklable" in message


@pytest.mark.parametrize(
    ("asset", "how"),
    [(ps.exits, "exited with status 3"), (ps.sigkilled, "was killed by SIGKILL"),
     (ps.segfaults, "was killed by SIGSEGV")],
    ids=["os_exit", "sigkill", "segfault"],
)
def test_a_dying_worker_fails_only_its_step(asset: rs.Asset, how: str) -> None:
    downstream = rs.Asset(io_handler=ps.IO, name=f"after_{asset.name}")(_passthrough(asset.name))
    repo = ps.repo_of([asset, downstream, ps.independent, ps.pid_a], workers=2)
    started = time.monotonic()
    result = repo.materialize(raise_on_error=False)
    assert time.monotonic() - started < 8
    assert not result.success
    failed = dict(result.failed_assets)
    assert set(failed) == {asset.name, downstream.name}
    assert failed[asset.name].startswith("WorkerLostError: worker process ")
    assert how in failed[asset.name]
    assert failed[downstream.name] == "ExecutionError: Skipped: upstream dependency failed"
    assert repo.load_node("independent") == "still ran"
    metadata = failure_metadata(repo, result.run_id, asset.name)
    assert metadata["rivers/failure_reason"] == "infrastructure"
    assert "rivers.execution.worker_pool.WorkerLostError" in metadata["rivers/exc_type"]
    types = [e.event_type for e in repo.storage.get_events_for_run(result.run_id) if e.asset_key == asset.name]
    assert types == ["StepStart", "StepFailure"]
    # the pool replaced the worker: the next run works and runs in live workers
    assert repo.materialize(selection=["pid_a"]).success
    with pytest.raises(WorkerLostError):
        repo.materialize(selection=[asset.name])


def _passthrough(upstream: str):  # noqa: ANN202 - builds a one-parameter function named after its upstream
    namespace: dict = {}
    exec(f"def after({upstream}):\n    return {upstream}\n", namespace)  # noqa: S102
    return namespace["after"]


def test_dead_workers_are_not_returned_to_the_pool() -> None:
    repo = ps.repo_of([ps.exits], workers=1)
    assert not repo.materialize(raise_on_error=False).success
    for pid in get_pool().idle_pids():
        os.kill(pid, 0)  # every idle worker is alive


ORPHAN_PIPELINE = """
import os, sys, time
from pathlib import Path
sys.path.insert(0, {support!r})
import rivers as rs
import parallel_support as ps

@rs.Asset(io_handler=ps.Files(root=os.path.abspath("values")))
def lingering() -> int:
    Path("worker.pid").write_text(str(os.getpid()))
    time.sleep(3)
    Path("finished").touch()
    return 1

if __name__ == "__main__":
    repo = rs.CodeRepository(assets=[lingering], default_executor=rs.Executor.parallel(max_workers=1))
    repo.resolve(rs.Storage.embedded("runs.db"))
    repo.materialize()
"""


@pytest.mark.parametrize("start_method", ["fork", "forkserver"])
def test_workers_die_with_a_killed_controller_whatever_their_start_method(tmp_path, start_method) -> None:
    import signal
    import subprocess
    import sys
    import time
    from pathlib import Path

    (tmp_path / "pipeline.py").write_text(ORPHAN_PIPELINE.format(support=str(Path(ps.__file__).parent)))
    env = {**os.environ, "RIVERS_WORKER_START_METHOD": start_method}
    controller = subprocess.Popen([sys.executable, "pipeline.py"], cwd=tmp_path, env=env)
    try:
        deadline = time.monotonic() + 30
        while not (tmp_path / "worker.pid").exists():
            assert time.monotonic() < deadline and controller.poll() is None, "the step never started"
            time.sleep(0.02)
        worker = int((tmp_path / "worker.pid").read_text())
        controller.send_signal(signal.SIGKILL)
        controller.wait(10)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            try:
                os.kill(worker, 0)
            except ProcessLookupError:
                break
            time.sleep(0.05)
        else:
            pytest.fail(f"worker {worker} outlived its killed controller ({start_method})")
        time.sleep(3.2)
        assert not (tmp_path / "finished").exists(), "an orphaned worker finished its step"
    finally:
        if controller.poll() is None:
            controller.kill()
