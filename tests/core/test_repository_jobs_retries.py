"""``CodeRepository``: jobs and retries."""

from __future__ import annotations

import pytest
import rivers as rs
from rivers.exceptions import ConfigurationError, ExecutionError, GraphValidationError, NodeNotFoundError
from support import Recorder, make_repo
from repository_support import diamond, kinds, run_events


# =================================================================== jobs
def test_job_execute_via_get_job():
    raw, a, b, c, x = diamond()
    job = rs.Job("nightly", assets=[raw, a], executor=rs.Executor.in_process())
    assert job.name == "nightly"
    repo = rs.CodeRepository(assets=[raw, a, b, c, x], jobs=[job])
    result = repo.get_job("nightly").execute(tags=[("rivers/priority", "5")])
    assert result.success
    assert result.materialized_assets == ["raw", "a"]
    record = repo.storage.get_run(result.run_id)
    assert record.job_name == "nightly"
    assert record.priority == 5


def test_job_execute_directly_after_resolve():
    raw, a, b, c, x = diamond()
    job = rs.Job("j", assets=[x])
    repo = make_repo(raw, a, b, c, x, jobs=[job])
    assert repo.get_job("j") is job
    assert job.execute().materialized_assets == ["x"]


def test_job_not_resolved_by_a_repository():
    raw, a, b, c, x = diamond()
    job = rs.Job("j", assets=[x])
    with pytest.raises(ExecutionError, match="Job has not been validated."):
        job.execute()
    rs.CodeRepository(assets=[raw, a, b, c, x], jobs=[job])  # constructed, never resolved
    with pytest.raises(ExecutionError, match="not been validated"):
        job.execute()


def test_unknown_job():
    raw, a, b, c, x = diamond()
    repo = make_repo(raw, a, b, c, x)
    with pytest.raises(NodeNotFoundError, match="Job 'nope' not found"):
        repo.get_job("nope")


def test_duplicate_job_names():
    raw, a, b, c, x = diamond()
    repo = rs.CodeRepository(assets=[raw, a, b, c, x], jobs=[rs.Job("j", assets=[x]), rs.Job("j", assets=[raw])])
    with pytest.raises(GraphValidationError, match="Duplicate job name: 'j'"):
        repo.validate()


def test_job_member_not_in_repository():
    raw, a, b, c, x = diamond()

    @rs.Asset
    def stranger():
        return 1

    repo = rs.CodeRepository(assets=[raw, a, b, c, x], jobs=[rs.Job("j", assets=[stranger])])
    with pytest.raises(NodeNotFoundError, match="Job 'j': node 'stranger' not found in repository"):
        repo.validate()


@pytest.mark.parametrize("bad", [42, object(), rs.RetryPolicy(1), "not_an_asset"])
def test_job_members_must_be_assets_or_tasks(bad):
    with pytest.raises(GraphValidationError, match="Job assets must be Asset, Task, or BashTask instances"):
        rs.Job("j", assets=[bad])


def test_incomplete_job_is_rejected_at_validate():
    raw, a, b, c, x = diamond()
    repo = rs.CodeRepository(assets=[raw, a, b, c, x], jobs=[rs.Job("j", assets=[a])])
    with pytest.raises(GraphValidationError,
                       match=r"Job 'j': node 'a' depends on 'raw' which is not in the job. Add it to the job or set "
                             r"allow_incomplete_deps=True"):
        repo.validate()


def test_incomplete_job_is_rejected_when_the_repository_resolves():
    raw, a, b, c, x = diamond()
    with pytest.raises(GraphValidationError, match="depends on 'raw' which is not in the job"):
        make_repo(raw, a, b, c, x, jobs=[rs.Job("j", assets=[a])])


def test_incomplete_job_with_flag_but_default_handler():
    raw, a, b, c, x = diamond()
    with pytest.raises(GraphValidationError, match="which is not in the job and has no io_handler"):
        make_repo(raw, a, b, c, x, jobs=[rs.Job("j", assets=[a], allow_incomplete_deps=True)])


def test_incomplete_job_with_flag_and_explicit_handler_runs():
    handler = Recorder()

    @rs.Asset(io_handler=handler)
    def up() -> int:
        return 2

    @rs.Asset
    def down(up: int) -> int:
        return up * 3

    repo = make_repo(up, down, jobs=[rs.Job("j", assets=[down], allow_incomplete_deps=True)])
    repo.materialize(selection=["up"])
    assert repo.get_job("j").execute().success
    assert repo.load_node("down") == 6


def test_job_with_external_upstream_is_complete():
    ext = rs.Asset.external(name="ext", io_handler=Recorder())
    ext.io_handler.values["ext"] = 1

    @rs.Asset
    def down(ext: int) -> int:
        return ext

    repo = make_repo(ext, down, jobs=[rs.Job("j", assets=[down])])
    assert repo.get_job("j").execute().success


def test_job_failure_and_raise_on_error():
    @rs.Asset
    def bad():
        raise ValueError("job boom")

    repo = make_repo(bad, jobs=[rs.Job("j", assets=[bad])])
    with pytest.raises(ValueError, match="job boom"):
        repo.get_job("j").execute()
    result = repo.get_job("j").execute(raise_on_error=False)
    assert result.failed_assets == [("bad", "ValueError: job boom")]
    assert repo.storage.get_run(result.run_id).status == "Failure"


def test_job_config_is_passed_to_steps():
    pydantic = pytest.importorskip("pydantic")

    class Cfg(pydantic.BaseModel):
        n: int = 0

    @rs.Asset
    def a(context: rs.AssetExecutionContext[Cfg]) -> int:
        return context.config.n

    repo = make_repo(a, jobs=[rs.Job("j", assets=[a])])
    repo.get_job("j").execute(config={"a": {"n": 4}})
    assert repo.load_node("a") == 4


def test_job_retry_default_applies_to_its_steps():
    attempts = []

    @rs.Asset
    def flaky() -> int:
        attempts.append(1)
        if len(attempts) < 2:
            raise ValueError("again")
        return 1

    repo = make_repo(flaky, jobs=[rs.Job("j", assets=[flaky], retry=rs.RetryPolicy(1))])
    assert repo.get_job("j").execute().success
    assert len(attempts) == 2


# ================================================================== retries
def test_retry_policy_retries_until_success():
    calls = {"n": 0}

    @rs.Asset(retry=rs.RetryPolicy(2, backoff=rs.Backoff.constant(0.01), retry_on=[ConnectionError]))
    def flaky() -> int:
        calls["n"] += 1
        if calls["n"] < 3:
            raise ConnectionResetError("again")  # subclass of ConnectionError
        return calls["n"]

    repo = make_repo(flaky)
    result = repo.materialize()
    assert result.success
    assert repo.load_node("flaky") == 3
    assert kinds(repo, result.run_id, "flaky") == ["StepStart", "StepRetry", "StepRetry", "Materialization",
                                                   "StepSuccess"]
    retries = [e for e in repo.storage.get_events_for_asset("flaky") if e.event_type == "StepRetry"]
    assert len(retries) == 2


def test_step_retry_event_metadata():
    calls = {"n": 0}

    @rs.Asset(retry=rs.RetryPolicy(2, backoff=rs.Backoff.constant(0.01)))
    def flaky() -> int:
        calls["n"] += 1
        if calls["n"] < 3:
            raise ValueError("again")
        return 1

    repo = make_repo(flaky)
    result = repo.materialize()
    retries = [dict(e.metadata) for e in run_events(repo, result.run_id, "flaky") if e.event_type == "StepRetry"]
    assert retries == [
        {"rivers/attempt": "1", "rivers/failure_reason": "error", "rivers/next_delay_ms": "10"},
        {"rivers/attempt": "2", "rivers/failure_reason": "error", "rivers/next_delay_ms": "10"},
    ]


def test_retry_without_backoff_has_zero_delay():
    calls = {"n": 0}

    @rs.Asset(retry=rs.RetryPolicy(1))
    def flaky() -> int:
        calls["n"] += 1
        if calls["n"] < 2:
            raise ValueError("again")
        return 1

    repo = make_repo(flaky)
    result = repo.materialize()
    (retry,) = [e for e in run_events(repo, result.run_id, "flaky") if e.event_type == "StepRetry"]
    assert dict(retry.metadata)["rivers/next_delay_ms"] == "0"


def test_retries_exhausted_fail_the_step_once():
    calls = {"n": 0}

    @rs.Asset(retry=rs.RetryPolicy(2))
    def always() -> int:
        calls["n"] += 1
        raise ValueError(f"attempt {calls['n']}")

    repo = make_repo(always)
    result = repo.materialize(raise_on_error=False)
    assert calls["n"] == 3
    assert result.failed_assets == [("always", "ValueError: attempt 3")]
    assert kinds(repo, result.run_id, "always") == ["StepStart", "StepRetry", "StepRetry", "StepFailure"]


def test_retry_on_filters_exception_types():
    calls = {"n": 0}

    @rs.Asset(retry=rs.RetryPolicy(3, retry_on=[ConnectionError]))
    def picky() -> int:
        calls["n"] += 1
        raise ValueError("not retriable")

    result = make_repo(picky).materialize(raise_on_error=False)
    assert calls["n"] == 1
    assert not result.success


def test_retry_policy_zero_retries():
    calls = {"n": 0}

    @rs.Asset(retry=rs.RetryPolicy(0))
    def once() -> int:
        calls["n"] += 1
        raise ValueError("x")

    make_repo(once).materialize(raise_on_error=False)
    assert calls["n"] == 1


def test_named_retry_policy():
    calls = {"n": 0}

    @rs.Asset(retry="twice")
    def flaky() -> int:
        calls["n"] += 1
        if calls["n"] < 3:
            raise ValueError("again")
        return 1

    repo = make_repo(flaky, retries={"twice": rs.RetryPolicy(2)})
    assert repo.materialize().success
    assert calls["n"] == 3


def test_unknown_named_retry_policy_fails_at_resolve_not_validate():
    @rs.Asset(retry="nope")
    def a():
        return 1

    repo = rs.CodeRepository(assets=[a], retries={"fast": rs.RetryPolicy(1)})
    repo.validate()
    with pytest.raises(ConfigurationError,
                       match=r"unknown retry policy 'nope' referenced by asset 'a'; registered: \['fast'\]"):
        repo.resolve(rs.Storage.memory())


def test_unknown_default_retry_policy_name():
    @rs.Asset
    def a():
        return 1

    repo = rs.CodeRepository(assets=[a], default_retry_policy="nope")
    with pytest.raises(ConfigurationError, match="unknown retry policy 'nope'"):
        repo.resolve(rs.Storage.memory())


def test_default_retry_policy_applies_when_nothing_closer_is_set():
    calls = {"n": 0}

    @rs.Asset
    def flaky() -> int:
        calls["n"] += 1
        if calls["n"] < 2:
            raise ValueError("again")
        return 1

    repo = make_repo(flaky, default_retry_policy=rs.RetryPolicy(1))
    assert repo.materialize().success


def test_run_level_retry_and_asset_level_precedence():
    counts = {"own": 0, "run": 0}

    @rs.Asset(retry=rs.RetryPolicy(0))
    def own() -> int:
        counts["own"] += 1
        raise ValueError("x")

    @rs.Asset
    def run_level() -> int:
        counts["run"] += 1
        if counts["run"] < 3:
            raise ValueError("x")
        return 1

    repo = make_repo(own, run_level, default_retry_policy=rs.RetryPolicy(5))
    result = repo.materialize(retry=rs.RetryPolicy(2), raise_on_error=False)
    assert counts == {"own": 1, "run": 3}
    assert [name for name, _ in result.failed_assets] == ["own"]


def test_run_level_retry_by_name():
    calls = {"n": 0}

    @rs.Asset
    def flaky() -> int:
        calls["n"] += 1
        if calls["n"] < 2:
            raise ValueError("again")
        return 1

    repo = make_repo(flaky, retries={"once": rs.RetryPolicy(1)})
    assert repo.materialize(retry="once").success


def test_downstream_runs_after_a_successful_retry():
    calls = {"n": 0}

    @rs.Asset(retry=rs.RetryPolicy(1))
    def flaky() -> int:
        calls["n"] += 1
        if calls["n"] < 2:
            raise ValueError("again")
        return 5

    @rs.Asset
    def down(flaky: int) -> int:
        return flaky + 1

    repo = make_repo(flaky, down)
    assert repo.materialize().success
    assert repo.load_node("down") == 6
