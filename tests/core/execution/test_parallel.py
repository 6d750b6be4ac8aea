"""The parallel executor: worker processes for sync steps, the controller's loop for async ones."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

import parallel_support as ps
import rivers as rs
from rivers.exceptions import ExecutionError


@pytest.fixture(autouse=True)
def _marks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Workers inherit the environment: point them at this test's marks directory."""
    path = tmp_path / "marks"
    monkeypatch.setenv("RIVERS_TEST_MARKS", str(path))
    return path


def events_of(repo: rs.CodeRepository, run_id: str) -> list[tuple[str, str]]:
    return [(e.event_type, e.asset_key) for e in repo.storage.get_events_for_run(run_id)]


# ------------------------------------------------------------------ the type
def test_factory_variant_repr_and_limits() -> None:
    executor = rs.Executor.parallel(max_workers=2, max_async_concurrent=3)
    assert isinstance(executor, rs.Executor.Parallel) and isinstance(executor, rs.Executor)
    assert repr(executor) == "Executor.Parallel(max_workers=2, max_async_concurrent=3)"
    assert (executor.max_workers, executor.max_async_concurrent) == (2, 3)
    assert rs.Executor.parallel().max_workers == len(os.sched_getaffinity(0))
    assert rs.Executor.parallel().max_async_concurrent is None
    with pytest.raises(OverflowError):
        rs.Executor.parallel(max_workers=-1)
    with pytest.raises(OverflowError):
        rs.Executor.parallel(max_async_concurrent=-2)
    with pytest.raises(TypeError):
        rs.Executor.parallel(max_workers="2")  # type: ignore[arg-type]


def test_registered_as_the_parallel_plugin() -> None:
    executor = rs.Executor.from_plugin("parallel", max_workers=3)
    assert isinstance(executor, rs.Executor.Parallel) and executor.max_workers == 3


# --------------------------------------------------------------- where steps run
def test_sync_steps_run_in_worker_processes_and_values_stay_in_files() -> None:
    repo = ps.repo_of(ps.DIAMOND)
    result = repo.materialize()
    assert result.success
    assert repo.load_node("joined") == 112
    assert Path("values/joined.pkl").exists()
    pids = {m["pid"] for name in ("source", "left", "right", "joined") for m in ps.marks(name)}
    assert os.getpid() not in pids
    events = events_of(repo, result.run_id)
    for name in ("source", "left", "right", "joined"):
        assert [t for t, key in events if key == name] == ["StepStart", "Materialization", "StepSuccess"]
    ids = [e.id for e in repo.storage.get_events_for_run(result.run_id)]
    assert len(ids) == len(set(ids))
    # the order respects dependencies
    order = [key for t, key in events if t == "StepSuccess"]
    assert order[0] == "source" and order[-1] == "joined"
    # data lineage crossed the process boundary
    joined = repo.storage.get_latest_materialization("joined")
    versions = dict(joined.input_data_versions)
    assert versions["left"] == repo.storage.get_latest_materialization("left").data_version


def test_workers_are_reused_across_steps_and_runs() -> None:
    repo = ps.repo_of([ps.pid_a, ps.pid_b], workers=1)
    assert repo.materialize().success
    first = {repo.load_node("pid_a"), repo.load_node("pid_b")}
    assert repo.materialize().success
    second = {repo.load_node("pid_a"), repo.load_node("pid_b")}
    assert len(first) == 1 and first == second and os.getpid() not in first


def test_a_step_starts_as_soon_as_its_own_dependencies_are_done() -> None:
    repo = ps.repo_of([ps.slow_root, ps.fast_root, ps.fast_child])
    assert repo.materialize().success
    (slow,) = ps.marks("slow_root")
    (child,) = ps.marks("fast_child")
    # level by level, fast_child would wait for slow_root (1 s)
    assert child["start"] < slow["end"] - 0.5


def test_steps_overlap_up_to_max_workers_and_never_beyond() -> None:
    repo = ps.repo_of(ps.NAPS, workers=2)
    assert repo.materialize().success
    spans = [(m["start"], m["end"]) for i in range(4) for m in ps.marks(f"nap{i}")]
    assert len(spans) == 4

    def running_at(t: float) -> int:
        return sum(1 for start, end in spans if start <= t < end)

    peak = max(running_at(start) for start, _ in spans)
    assert peak == 2


# ------------------------------------------------------------------ in-memory
def test_default_in_memory_assets_run_in_the_controller_with_one_warning() -> None:
    @rs.Asset
    def numbers() -> list:
        return [1, 2, os.getpid()]

    @rs.Asset
    def total(numbers: list) -> int:
        return sum(numbers[:2]) + numbers[2]

    repo = rs.CodeRepository(assets=[numbers, total], default_executor=rs.Executor.parallel(max_workers=2))
    repo.resolve(rs.Storage.memory())
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = repo.materialize()
    assert result.success and repo.load_node("total") == 3 + os.getpid()
    relevant = [w for w in caught if "in-memory IO handler" in str(w.message)]
    assert len(relevant) == 1
    assert "'numbers'" in str(relevant[0].message) and "'total'" in str(relevant[0].message)


def test_rivers_executor_metadata_keeps_a_step_in_the_controller_without_warning() -> None:
    @rs.Asset(io_handler=ps.IO, metadata={"rivers/executor": "in_process"})
    def here() -> int:
        return os.getpid()

    repo = ps.repo_of([here, ps.pid_a])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert repo.materialize().success
    assert repo.load_node("here") == os.getpid()
    assert repo.load_node("pid_a") != os.getpid()


def test_unknown_executor_metadata_is_a_configuration_error() -> None:
    @rs.Asset(io_handler=ps.IO, metadata={"rivers/executor": "threads"})
    def odd() -> int:
        return 1

    with pytest.raises(rs.exceptions.ConfigurationError, match="Unknown executor"):
        ps.repo_of([odd]).materialize()


# ---------------------------------------------------------------------- async
def test_async_steps_run_concurrently_in_the_controller() -> None:
    stdout = sys.stdout
    repo = ps.repo_of([ps.async_one, ps.async_two, ps.async_three])
    result = repo.materialize()
    assert result.success
    found = [ps.marks(name)[0] for name in ("async_one", "async_two", "async_three")]
    assert {m["pid"] for m in found} == {os.getpid()}
    assert [m["peak"] for m in found] == [3, 3, 3]  # all three were running at once
    # each step kept its own output, and the streams were given back
    outputs = {log.step_key: log.stdout for log in repo.storage.get_run_logs(result.run_id)}
    assert outputs == {name: f"output of {name}\n" for name in ("async_one", "async_two", "async_three")}
    assert sys.stdout is stdout


def test_output_of_worker_steps_is_kept_with_the_run() -> None:
    repo = ps.repo_of([ps.chatty])
    result = repo.materialize()
    (log,) = [log for log in repo.storage.get_run_logs(result.run_id) if log.step_key == "chatty"]
    assert (log.stdout, log.stderr) == ("hello from a worker\n", "to stderr\n")


def test_max_async_concurrent_bounds_async_steps() -> None:
    executor = rs.Executor.parallel(max_workers=1, max_async_concurrent=1)
    repo = ps.repo_of([ps.async_one, ps.async_two], executor=executor)
    assert repo.materialize().success
    assert [ps.marks(name)[0]["peak"] for name in ("async_one", "async_two")] == [1, 1]


# ------------------------------------------------------------- sending steps
def test_closures_are_sent_by_value() -> None:
    offset = 41

    @rs.Asset(io_handler=ps.IO)
    def local_closure() -> tuple:
        return offset + 1, os.getpid()

    repo = ps.repo_of([local_closure])
    assert repo.materialize().success
    value, pid = repo.load_node("local_closure")
    assert value == 42 and pid != os.getpid()


def test_a_step_that_cannot_be_sent_fails_with_an_error_naming_it() -> None:
    import threading

    lock = threading.Lock()

    @rs.Asset(io_handler=ps.IO)
    def holds_a_lock() -> bool:
        return lock.locked()

    repo = ps.repo_of([holds_a_lock, ps.independent])
    result = repo.materialize(raise_on_error=False)
    assert not result.success
    (failed,) = result.failed_assets
    assert failed[0] == "holds_a_lock"
    assert failed[1].startswith("ExecutionError: Asset 'holds_a_lock' cannot be sent to a worker process")
    assert ps.marks("independent")
    with pytest.raises(ExecutionError, match="holds_a_lock"):
        repo.materialize()


def test_resources_are_set_up_and_torn_down_around_each_worker_call() -> None:
    repo = ps.repo_of([ps.uses_resource], resources={"counter": ps.Counter(label="w")})
    assert [m["pid"] for m in ps.marks("setup-w")] == [os.getpid()]  # resolve() sets it up in the controller
    assert repo.materialize().success
    label, pid = repo.load_node("uses_resource").split(":")
    assert label == "w" and int(pid) != os.getpid()
    assert sorted(m["pid"] for m in ps.marks("setup-w")) == sorted([os.getpid(), int(pid)])
    assert [m["pid"] for m in ps.marks("teardown-w")] == [int(pid)]


# ------------------------------------------------------------ rivers.worker
def test_python_m_rivers_worker_runs_one_serialised_step(tmp_path: Path) -> None:
    from rivers.execution.coordinator import RunCoordinator
    from rivers.execution.wire import StepReport, decode, outcome_of, report_from_json, step_request

    repo = ps.repo_of(ps.DIAMOND)
    assert repo.materialize(selection=["source"]).success
    state = repo.resolved
    plan = state.plan("<materialize>", ["left"], allow_incomplete=True)
    coordinator = RunCoordinator(plan, repo.storage)
    (planned,) = plan.steps
    request = step_request(planned, coordinator.state).encode()
    (tmp_path / "payload.bin").write_bytes(request)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(ps.__file__).parent), *sys.path])}
    completed = subprocess.run(
        [sys.executable, "-m", "rivers.worker", "payload.bin", "--format", "json", "--output", "result.json"],
        capture_output=True, env=env, timeout=60, check=False,
    )
    assert completed.returncode == 0, completed.stderr.decode()
    report = report_from_json(json.loads((tmp_path / "result.json").read_text()))
    outcome = outcome_of(report)
    assert outcome.status == "success" and report.pid != os.getpid()
    assert [e.event_type for e in outcome.events] == ["StepStart", "Materialization", "StepSuccess"]
    assert repo.load_node("left") == 11  # written by the worker, through the handler

    # pickle on stdout is the default
    completed = subprocess.run([sys.executable, "-m", "rivers.worker"], input=request,
                               capture_output=True, env=env, timeout=60, check=False)
    assert completed.returncode == 0, completed.stderr.decode()
    assert outcome_of(decode(completed.stdout, StepReport)).status == "success"

    # a pod gets its request base64-encoded in an environment variable and prints the report as JSON
    import base64

    completed = subprocess.run(
        [sys.executable, "-m", "rivers.worker", "--request-env", "RIVERS_STEP_REQUEST", "--format", "json"],
        env={**env, "RIVERS_STEP_REQUEST": base64.b64encode(request).decode("ascii")},
        capture_output=True, timeout=60, check=False,
    )
    assert completed.returncode == 0, completed.stderr.decode()
    assert outcome_of(report_from_json(json.loads(completed.stdout))).status == "success"
    coordinator.state.close()


def test_python_m_rivers_worker_runs_a_bundle_in_order_each_step_seeing_the_versions_before_it(
    tmp_path: Path,
) -> None:
    import base64

    from rivers.execution.coordinator import RunCoordinator
    from rivers.execution.wire import outcome_of, report_from_json, step_request

    repo = ps.repo_of([*ps.DIAMOND, ps.boom])
    state = repo.resolved
    plan = state.plan("<materialize>", ["source", "left", "boom"], allow_incomplete=True)
    coordinator = RunCoordinator(plan, repo.storage)
    steps = plan.by_key
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(ps.__file__).parent), *sys.path])}

    def run(*keys: str) -> list:
        command = [sys.executable, "-m", "rivers.worker", "--format", "json"]
        for position, key in enumerate(keys):
            # built before any of them ran, as a pod's requests are: the worker passes the versions along
            request = step_request(steps[key], coordinator.state).encode()
            env[f"REQUEST_{position}"] = base64.b64encode(request).decode("ascii")
            command += ["--request-env", f"REQUEST_{position}"]
        completed = subprocess.run(command, env=env, capture_output=True, timeout=60, check=False)
        assert completed.returncode == 0, completed.stderr.decode()
        return [report_from_json(json.loads(line)) for line in completed.stdout.splitlines()]

    first, second = run("source", "left")
    assert (first.key, first.status, second.key, second.status) == ("source", "success", "left", "success")
    materialized = next(e for e in outcome_of(second).events if e.event_type == "Materialization")
    assert dict(materialized.input_data_versions)["source"] == first.data_versions["source"]
    assert repo.load_node("left") == 11
    # the chain stops after the first step that did not succeed
    (failed,) = run("boom", "left")
    assert (failed.key, failed.status) == ("boom", "failure")
    coordinator.state.close()


def test_python_m_rivers_worker_reports_an_undecodable_payload() -> None:
    completed = subprocess.run([sys.executable, "-m", "rivers.worker", "--format", "json"], input=b"garbage",
                               capture_output=True, timeout=60, check=False)
    assert completed.returncode == 2
    assert json.loads(completed.stdout)["status"] == "load_error"


def test_a_request_of_another_wire_version_is_refused_naming_both_versions() -> None:
    import pickle

    from rivers.execution.wire import WIRE_VERSION, StepReport, decode, report_error

    request = pickle.dumps((WIRE_VERSION + 7, "step_request"))
    completed = subprocess.run([sys.executable, "-m", "rivers.worker"], input=request, capture_output=True,
                               timeout=60, check=False)
    assert completed.returncode == 2
    error = report_error(decode(completed.stdout, StepReport))
    assert type(error).__name__ == "WireVersionError"
    assert f"version {WIRE_VERSION}" in str(error) and f"version {WIRE_VERSION + 7}" in str(error)


def test_rivers_executor_parallel_metadata_sends_a_step_to_a_worker_under_the_in_process_executor() -> None:
    @rs.Asset(io_handler=ps.IO, metadata={"rivers/executor": "parallel"})
    def elsewhere() -> int:
        return os.getpid()

    @rs.Asset(io_handler=ps.IO)
    def here(elsewhere: int) -> tuple:
        return elsewhere, os.getpid()

    repo = ps.repo_of([elsewhere, here], executor=rs.Executor.in_process())
    assert repo.materialize().success
    worker_pid, controller_pid = repo.load_node("here")
    assert controller_pid == os.getpid() and worker_pid != os.getpid()


def test_graph_internal_tasks_follow_rivers_node_executor() -> None:
    repo = ps.repo_of([ps.GRAPH_IN_WORKERS, ps.GRAPH_INTERNALS_HERE], tasks=[ps.task_pid, ps.task_pair])
    assert repo.materialize().success
    first, second = repo.load_node("graph_in_workers")
    assert first != os.getpid() and second != os.getpid()
    assert repo.load_node("graph_internals_here") == (os.getpid(), os.getpid())


INTERACTIVE_SESSION = """
import os, sys
sys.path.insert(0, {support!r})
import rivers as rs
import parallel_support as ps

FACTOR = 3
def helper(x):
    return x * FACTOR
def fib(n):
    return n if n < 2 else fib(n - 1) + fib(n - 2)

@rs.Asset(io_handler=ps.IO)
def interactive():
    return helper(fib(10)), os.getpid()

repo = rs.CodeRepository(assets=[interactive], default_executor=rs.Executor.parallel(max_workers=1))
repo.resolve(rs.Storage.memory())
assert repo.materialize().success
value, pid = repo.load_node("interactive")
assert pid != os.getpid()
print(value)
def helper(x):  # a notebook cell redefines it
    return x * 100
assert repo.materialize().success
print(repo.load_node("interactive")[0])
"""


@pytest.mark.parametrize("start_method", ["fork", "spawn"])
def test_functions_of_an_interactive_session_travel_by_value(start_method: str) -> None:
    code = INTERACTIVE_SESSION.format(support=str(Path(ps.__file__).parent))
    env = {**os.environ, "RIVERS_WORKER_START_METHOD": start_method}
    completed = subprocess.run([sys.executable, "-"], input=code, capture_output=True, text=True, env=env,
                               timeout=60, check=False)
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.split() == ["165", "5500"]


AFTER_AN_EMBEDDED_RUN = """
import sys, threading
sys.path.insert(0, {support!r})
import rivers as rs
import parallel_support as ps
from rivers.execution.worker_pool import choose_start_method

@rs.Asset(io_handler=ps.IO)
def inherited():
    return getattr(sys, "set_by_the_controller", None)  # a forked worker has the controller's memory

repo = rs.CodeRepository(assets=[inherited], default_executor=rs.Executor.parallel(max_workers=1))
repo.resolve(rs.Storage.embedded("runs.db"))
assert repo.materialize(executor=rs.Executor.in_process()).success  # leaves the store's publisher thread
assert any(thread.name == "rivers-run-publisher" for thread in threading.enumerate())
print(choose_start_method())
sys.set_by_the_controller = "fork"
assert repo.materialize().success
print(repo.load_node("inherited"))
"""


def test_workers_are_forked_while_the_embedded_stores_publisher_thread_runs() -> None:
    # the publisher writes under a lock every fork takes (a child never inherits a half-done write), so the
    # pool may fork: no forkserver start (hundreds of ms) before a parallel run after an embedded-store write
    code = AFTER_AN_EMBEDDED_RUN.format(support=str(Path(ps.__file__).parent))
    env = {key: value for key, value in os.environ.items() if key != "RIVERS_WORKER_START_METHOD"}
    completed = subprocess.run([sys.executable, "-"], input=code, capture_output=True, text=True, env=env,
                               timeout=60, check=False)
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.split() == ["fork", "fork"]
