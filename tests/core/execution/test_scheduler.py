"""The step scheduler's stop API, routing by executor name, and what it records."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

import rivers as rs
from rivers.execution.coordinator import RunCoordinator
from rivers.execution.scheduler import RunEnd, StopReason, execute_run
from rivers.testing import executors as kit


@pytest.fixture
def kit_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("RIVERS_KIT_MARKS", str(tmp_path / "marks"))
    monkeypatch.chdir(tmp_path)
    return tmp_path


def gated_run(kit_dir: Path, executor: rs.Executor) -> tuple[rs.CodeRepository, RunCoordinator]:
    repo = rs.CodeRepository(assets=[kit.kit_source, kit.kit_gate, kit.kit_after_gate],
                             default_executor=executor,
                             resources={kit.IO: kit.KitFiles(root=str(kit_dir / "values"))})
    repo.resolve(rs.Storage.embedded(str(kit_dir / "runs.db")))
    plan = repo.resolved.plan("<test>", None, allow_incomplete=False)
    return repo, RunCoordinator(plan, repo.storage, run_id="stopped-run")


def stop_when_the_gate_runs(run: RunCoordinator, kit_dir: Path, reason: str, release: bool) -> threading.Thread:
    def stop() -> None:
        deadline = time.monotonic() + 30
        while not (kit_dir / "marks" / "gate-started").exists() and time.monotonic() < deadline:
            time.sleep(0.01)
        run.request_stop(reason)
        if release:
            time.sleep(0.3)
            (kit_dir / "marks" / "release").touch()

    thread = threading.Thread(target=stop)
    thread.start()
    return thread


def not_run(repo: rs.CodeRepository, run_id: str) -> dict[str, str]:
    return {e.asset_key: dict(e.metadata)["rivers/reason"] for e in repo.storage.get_events_for_run(run_id)
            if e.event_type == "StepNotRun"}


def test_an_interrupt_terminates_the_step_running_in_a_worker(kit_dir: Path) -> None:
    repo, run = gated_run(kit_dir, rs.Executor.parallel(max_workers=2))
    run.start()
    thread = stop_when_the_gate_runs(run, kit_dir, "interrupted", release=False)
    started = time.monotonic()
    try:
        end = execute_run(run, rs.Executor.parallel(max_workers=2))
    finally:
        thread.join()
        result = run.finish()
    assert time.monotonic() - started < 10, "the scheduler waited for the gate instead of terminating it"
    assert isinstance(end, RunEnd) and end.stopped == StopReason.INTERRUPTED
    assert end.terminated == ("kit_gate",) and "kit_after_gate" not in end.terminated
    assert not result.success and repo.storage.get_run("stopped-run").status == "Canceled"
    assert not_run(repo, "stopped-run") == {"kit_gate": "interrupted", "kit_after_gate": "interrupted"}
    assert not (kit_dir / "values" / "kit_gate.pkl").exists(), "the terminated worker wrote its value"
    assert repo.load_node("kit_source") == 1


def test_a_cancel_lets_the_steps_in_flight_finish_and_starts_nothing_more(kit_dir: Path) -> None:
    repo, run = gated_run(kit_dir, rs.Executor.parallel(max_workers=2))
    run.start()
    thread = stop_when_the_gate_runs(run, kit_dir, "canceled", release=True)
    try:
        end = execute_run(run, rs.Executor.parallel(max_workers=2))
    finally:
        thread.join()
        run.finish()
    assert end.stopped == StopReason.CANCELED and end.terminated == ()
    assert repo.load_node("kit_gate") == 2  # finished
    assert not_run(repo, "stopped-run") == {"kit_after_gate": "canceled"}
    assert repo.storage.get_run("stopped-run").status == "Canceled"


def test_a_stop_of_an_in_process_run_takes_effect_after_the_step_in_the_calling_thread(kit_dir: Path) -> None:
    repo, run = gated_run(kit_dir, rs.Executor.in_process())
    run.start()
    thread = stop_when_the_gate_runs(run, kit_dir, "terminated", release=True)
    try:
        end = execute_run(run, rs.Executor.in_process())
    finally:
        thread.join()
        run.finish()
    assert end.stopped == StopReason.TERMINATED
    assert "kit_after_gate" in not_run(repo, "stopped-run")
    assert repo.load_node("kit_gate") == 2


def test_an_unknown_stop_reason_is_refused_and_stops_nothing(kit_dir: Path) -> None:
    repo, run = gated_run(kit_dir, rs.Executor.in_process())
    with pytest.raises(rs.exceptions.ExecutionError, match="Unknown stop reason 'cancelled'.*'canceled'"):
        run.request_stop("cancelled")
    assert run.stop_reason is None and not run.cancel_requested()
    with pytest.raises(rs.exceptions.ExecutionError, match="Unknown stop reason 'halt'"):
        repo.launcher.stop_all("halt")
    run.request_stop(StopReason.TERMINATED)
    assert run.stop_reason == StopReason.TERMINATED and run.cancel_requested()


def test_a_stop_after_every_step_succeeded_leaves_the_run_successful(kit_dir: Path) -> None:
    repo, run = gated_run(kit_dir, rs.Executor.in_process())
    (kit_dir / "marks").mkdir(parents=True, exist_ok=True)
    (kit_dir / "marks" / "release").touch()
    run.start()
    end = execute_run(run, rs.Executor.in_process())
    run.request_stop("interrupted")
    result = run.finish()
    assert end.stopped is None and end.not_run == () and result.success
    assert repo.storage.get_run("stopped-run").status == "Success"


def test_unknown_executor_names_are_plugin_errors_naming_the_asset() -> None:
    @rs.Asset(metadata={"rivers/executor": "no_such_executor"})
    def odd() -> int:
        return 1

    repo = rs.CodeRepository(assets=[odd])
    repo.resolve(rs.Storage.memory())
    with pytest.raises(rs.exceptions.PluginNotFoundError, match="asset 'odd'") as caught:
        repo.materialize()
    assert "'no_such_executor'" in str(caught.value) and "'in_process'" in str(caught.value)


def test_async_steps_of_one_level_overlap_under_the_in_process_executor() -> None:
    import asyncio

    spans = {}

    def sleepy(name: str) -> rs.Asset:
        async def body() -> str:
            start = time.perf_counter()
            await asyncio.sleep(0.5)
            spans[name] = (start, time.perf_counter())
            return name

        body.__name__ = name
        return rs.Asset(body)

    repo = rs.CodeRepository(assets=[sleepy(f"s{i}") for i in range(4)], default_executor=rs.Executor.in_process())
    repo.resolve(rs.Storage.memory())
    started = time.perf_counter()
    assert repo.materialize().success
    assert time.perf_counter() - started < 1.5
    assert min(end for _, end in spans.values()) > max(start for start, _ in spans.values())


def test_a_resumed_run_offers_started_steps_to_the_launcher_for_adoption() -> None:
    from rivers.execution.launcher import StepLauncher
    from rivers.execution.local_launchers import InlineLauncher

    calls = {"n": 0}

    @rs.Asset
    def flaky_once() -> int:
        calls["n"] += 1
        if calls["n"] == 1:
            raise ValueError("first run fails")
        return calls["n"]

    adopted = []

    class Adopting(InlineLauncher):
        def adopt(self, attempt) -> bool:  # the runner of the crashed controller "still runs"
            adopted.append((attempt.key, attempt.announce))
            self.context.report(attempt, self.context.run_in_this_process(attempt))
            return True

    class AdoptingExecutor(rs.Executor):
        def launcher(self) -> StepLauncher:
            return Adopting()

    repo = rs.CodeRepository(assets=[flaky_once])
    repo.resolve(rs.Storage.memory())
    first = repo.materialize(raise_on_error=False, run_id_override="crashed")
    assert not first.success
    plan = repo.resolved.plan("<test>", None, allow_incomplete=False)
    run = RunCoordinator(plan, repo.storage, run_id="crashed", resume=True)
    run.start()
    try:
        execute_run(run, AdoptingExecutor())
    finally:
        result = run.finish()
    assert result.success and adopted == [("flaky_once", False)]
    kinds = [e.event_type for e in repo.storage.get_events_for_run("crashed") if e.asset_key == "flaky_once"]
    assert kinds.count("StepStart") == 1 and kinds[-1] == "StepSuccess"


def test_a_generator_multi_asset_with_a_retry_policy_is_not_retried_and_fails_on_a_missing_output() -> None:
    attempts = []

    @rs.Asset.from_multi(output_defs=[rs.AssetDef("g_a"), rs.AssetDef("g_b")], retry=rs.RetryPolicy(3))
    def gen():
        attempts.append(1)
        yield rs.Output(1, output_name="g_a")

    repo = rs.CodeRepository(assets=[gen])
    repo.resolve(rs.Storage.memory())
    result = repo.materialize(raise_on_error=False)
    assert not result.success and len(attempts) == 1
    assert "did not yield output 'g_b'" in dict(result.failed_assets)["g_b"]
    kinds = [e.event_type for e in repo.storage.get_events_for_run(result.run_id) if e.asset_key == "gen"]
    assert kinds == ["StepStart", "StepFailure"]


def test_a_lost_attempt_keeps_the_reason_its_launcher_gives_for_the_retry_policy() -> None:
    from rivers.execution.launcher import StepLauncher
    from rivers.execution.local_launchers import InlineLauncher
    from rivers.definitions.failures import FailureReason

    class LosesTheFirstAttempt(InlineLauncher):
        def launch(self, attempt) -> None:
            if attempt.attempt == 1:  # e.g. a pod OOMKilled: no report from the runner
                self.context.report_lost(attempt, MemoryError("pod OOMKilled"), FailureReason.OUT_OF_MEMORY)
                return
            super().launch(attempt)

    class Losing(rs.Executor):
        def launcher(self) -> StepLauncher:
            return LosesTheFirstAttempt()

    @rs.Asset(retry=rs.RetryPolicy(1, retry_on=rs.RetryOn.TRANSIENT))
    def hungry() -> int:
        return 7

    @rs.Asset(retry=rs.RetryPolicy(1, retry_on=[FailureReason.TIMEOUT]))
    def strict() -> int:
        return 8

    repo = rs.CodeRepository(assets=[hungry, strict], default_executor=Losing())
    repo.resolve(rs.Storage.memory())
    result = repo.materialize(raise_on_error=False)
    assert repo.load_node("hungry") == 7
    events = repo.storage.get_events_for_run(result.run_id)
    retry, = [dict(e.metadata) for e in events if e.event_type == "StepRetry"]
    assert retry["rivers/failure_reason"] == "out_of_memory"
    failure, = [dict(e.metadata) for e in events if e.event_type == "StepFailure"]
    assert failure["rivers/failure_reason"] == "out_of_memory"  # strict: an OOM is not a timeout
    assert [e.event_type for e in events if e.asset_key == "strict"] == ["StepStart", "StepFailure"]


def test_a_launcher_that_cannot_start_a_step_fails_only_that_step() -> None:
    from rivers.execution.launcher import StepLauncher
    from rivers.execution.local_launchers import InlineLauncher

    class Refusing(InlineLauncher):
        def launch(self, attempt) -> None:
            if attempt.key == "refused" and attempt.attempt == 1:
                raise RuntimeError("the cluster refused the Job")
            super().launch(attempt)

    class RefusingExecutor(rs.Executor):
        def launcher(self) -> StepLauncher:
            return Refusing()

    @rs.Asset
    def refused() -> int:
        return 1

    @rs.Asset
    def after_refused(refused: int) -> int:
        return refused

    @rs.Asset
    def fine() -> int:
        return 2

    @rs.Asset(retry=rs.RetryPolicy(1, retry_on=rs.RetryOn.TRANSIENT))
    def refused_then_retried() -> int:
        return 3

    repo = rs.CodeRepository(assets=[refused, after_refused, fine], default_executor=RefusingExecutor())
    repo.resolve(rs.Storage.memory())
    result = repo.materialize(raise_on_error=False)
    failed = dict(result.failed_assets)
    assert failed["refused"] == "RuntimeError: the cluster refused the Job"
    assert failed["after_refused"] == "ExecutionError: Skipped: upstream dependency failed"
    assert "fine" not in failed and repo.load_node("fine") == 2
    failure, = [dict(e.metadata) for e in repo.storage.get_events_for_run(result.run_id)
                if e.event_type == "StepFailure" and e.asset_key == "refused"]
    assert failure["rivers/failure_reason"] == "infrastructure"

    class RefusesOnce(InlineLauncher):
        def launch(self, attempt) -> None:
            if attempt.attempt == 1:
                raise RuntimeError("API server unavailable")
            super().launch(attempt)

    class RefusesOnceExecutor(rs.Executor):
        def launcher(self) -> StepLauncher:
            return RefusesOnce()

    retried = rs.CodeRepository(assets=[refused_then_retried], default_executor=RefusesOnceExecutor())
    retried.resolve(rs.Storage.memory())
    assert retried.materialize().success and retried.load_node("refused_then_retried") == 3
