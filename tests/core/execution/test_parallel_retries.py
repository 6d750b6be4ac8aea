"""Retries: precedence of policies, attempts recorded in storage and shown by the CLI, retries in workers."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

import parallel_support as ps
import rivers as rs
from rivers.exceptions import ConfigurationError


@pytest.fixture(autouse=True)
def _marks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "marks"
    monkeypatch.setenv("RIVERS_TEST_MARKS", str(path))
    return path


def retry_events(repo: rs.CodeRepository, run_id: str, key: str) -> list[dict[str, str]]:
    return [dict(e.metadata) for e in repo.storage.get_events_for_run(run_id)
            if e.event_type == "StepRetry" and e.asset_key == key]


def attempts_of(executor: rs.Executor, **repo_kwargs: object) -> int:
    """How many attempts ``no_policy`` (always raising ConnectionError) gets under the given configuration."""
    run_retry = repo_kwargs.pop("run_retry", None)
    asset = repo_kwargs.pop("asset", ps.no_policy)
    jobs = repo_kwargs.pop("jobs", None)
    repo = rs.CodeRepository(assets=[asset], default_executor=executor, jobs=jobs, **repo_kwargs)
    repo.resolve(rs.Storage.memory())
    counter = ps.counter_path(asset.name)
    counter.unlink(missing_ok=True)
    if jobs:
        result = repo.get_job(jobs[0].name).execute(raise_on_error=False)
    else:
        result = repo.materialize(raise_on_error=False, retry=run_retry)
    assert not result.success
    count = int(counter.read_text())
    assert len(retry_events(repo, result.run_id, asset.name)) == count - 1
    return count


# ----------------------------------------------------------------- precedence
@pytest.mark.parametrize("executor", [rs.Executor.in_process(), rs.Executor.parallel(max_workers=1)],
                         ids=["in_process", "parallel"])
def test_policy_precedence_asset_over_job_over_run_over_repository(executor: rs.Executor) -> None:
    policy = rs.RetryPolicy
    assert attempts_of(executor) == 1
    assert attempts_of(executor, default_retry_policy=policy(1)) == 2
    assert attempts_of(executor, default_retry_policy=policy(1), run_retry=policy(2)) == 3
    own = rs.Asset(io_handler=ps.IO, name="own_policy", retry=policy(0))(_raiser("own_policy"))
    assert attempts_of(executor, asset=own, default_retry_policy=policy(1), run_retry=policy(2)) == 1
    job = rs.Job("nightly", assets=[ps.no_policy], retry=policy(3))
    assert attempts_of(executor, default_retry_policy=policy(1), jobs=[job]) == 4
    named = rs.Job("named", assets=[ps.no_policy], retry="twice")
    assert attempts_of(executor, retries={"twice": policy(2)}, jobs=[named]) == 3
    assert attempts_of(executor, retries={"once": policy(1)}, default_retry_policy="once") == 2


def _raiser(name: str):  # noqa: ANN202
    namespace = {"bump": ps.bump}
    exec(f"def {name}():\n    bump({name!r})\n    raise ConnectionError('down')\n", namespace)  # noqa: S102
    return namespace[name]


def test_unknown_job_retry_name_fails_at_resolve_naming_the_job() -> None:
    job = rs.Job("nightly", assets=[ps.no_policy], retry="nope")
    repo = rs.CodeRepository(assets=[ps.no_policy], jobs=[job], retries={"twice": rs.RetryPolicy(2)})
    with pytest.raises(ConfigurationError, match=r"unknown retry policy 'nope' referenced by job 'nightly'"):
        repo.resolve(rs.Storage.memory())


# ------------------------------------------------------------------ in workers
def test_retries_run_in_the_worker_and_every_attempt_is_recorded() -> None:
    repo = ps.repo_of([ps.flaky], workers=1)
    result = repo.materialize()
    assert result.success and repo.load_node("flaky") == 3
    retries = retry_events(repo, result.run_id, "flaky")
    assert [(r["rivers/attempt"], r["rivers/failure_reason"], r["rivers/next_delay_ms"]) for r in retries] == [
        ("1", "error", "10"), ("2", "error", "10")]
    types = [e.event_type for e in repo.storage.get_events_for_run(result.run_id)]
    assert types == ["StepStart", "StepRetry", "StepRetry", "Materialization", "StepSuccess"]
    logs = {log.id: log for log in repo.storage.get_run_logs(result.run_id)}
    for attempt in (1, 2):
        text = logs[f"{result.run_id}:flaky:attempt-{attempt}"].stderr
        assert f"ConnectionResetError: attempt {attempt}" in text


def test_a_worker_death_is_retried_when_the_policy_admits_infrastructure_failures() -> None:
    repo = rs.CodeRepository(assets=[ps.dies_once], default_executor=rs.Executor.parallel(max_workers=1))
    repo.resolve(rs.Storage.memory())
    result = repo.materialize()
    assert result.success and repo.load_node("dies_once") != os.getpid()
    events = [(e.event_type, dict(e.metadata)) for e in repo.storage.get_events_for_run(result.run_id)]
    assert [t for t, _ in events] == ["StepStart", "StepRetry", "Materialization", "StepSuccess"]
    assert events[1][1]["rivers/failure_reason"] == "infrastructure"


# ------------------------------------------------------------ exhausted + CLI
EXHAUSTED_PIPELINE = """
import sys
sys.path.insert(0, {support!r})
import rivers as rs
import parallel_support as ps

repo = rs.CodeRepository(assets=[ps.always_fails, ps.flaky],
                         default_executor=rs.Executor.parallel(max_workers=2))
"""


def test_exhausted_retries_fail_the_step_and_the_cli_shows_every_attempt(tmp_path: Path) -> None:
    support = str(Path(ps.__file__).parent)
    (tmp_path / "pipeline.py").write_text(EXHAUSTED_PIPELINE.format(support=support))

    def cli(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "rivers.cli", *args], capture_output=True, text=True,
                              timeout=60, check=False)

    materialized = cli("materialize", "pipeline.py")
    assert materialized.returncode == 1, materialized.stderr
    assert int(ps.counter_path("always_fails").read_text()) == 2
    runs = cli("runs")
    assert "always_fails (2 attempts)" in runs.stdout, runs.stdout
    run_id = [line for line in runs.stdout.splitlines() if "failure" in line][0].split()[0]
    shown = cli("run", run_id)
    assert shown.returncode == 0, shown.stderr
    steps = shown.stdout.split("Retried attempts:")[0]
    assert "RuntimeError: never works (after 2 attempts)" in steps
    attempts = shown.stdout.split("Retried attempts:")[1].split("---")[0]
    rows = [line.split() for line in attempts.strip().splitlines()[1:]]
    assert sorted((row[0], row[1], row[2]) for row in rows) == [
        ("always_fails", "1", "error"), ("flaky", "1", "error"), ("flaky", "2", "error")]
    assert "RuntimeError: never works" in attempts and "ConnectionResetError: attempt 2" in attempts


# ------------------------------------------------------------ cancellation
@pytest.mark.parametrize("executor", [rs.Executor.in_process(), rs.Executor.parallel(max_workers=1)],
                         ids=["in_process", "parallel"])
def test_cancelling_a_run_interrupts_a_retry_backoff(executor: rs.Executor) -> None:
    slow_retry = rs.RetryPolicy(5, backoff=rs.Backoff.constant(30.0))
    asset = rs.Asset(io_handler=ps.IO, name="backs_off", retry=slow_retry)(_raiser("backs_off"))
    repo = ps.repo_of([asset], executor=executor)

    def cancel_soon() -> None:
        time.sleep(0.3)
        (run,) = repo.storage.get_runs(limit=1)
        repo.storage.request_cancellation(run.run_id)

    threading.Thread(target=cancel_soon, daemon=True).start()
    started = time.monotonic()
    result = repo.materialize(raise_on_error=False)
    assert time.monotonic() - started < 5
    assert not result.success
    assert int(ps.counter_path("backs_off").read_text()) == 1
    assert repo.storage.get_run(result.run_id).status == "Canceled"
