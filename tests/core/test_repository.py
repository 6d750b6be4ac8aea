"""``CodeRepository``: lifecycle, materialize, results, storage records, jobs, retries, errors.

Spec: repository.md §1-§3, §5; execution.md §1, §2, §5-§6; storage.md §2.
"""

import asyncio
import json

import pytest

import rivers as rs
from rivers.exceptions import (
    AssetDefinitionError,
    AssetNotFoundError,
    AssetOutputValidationError,
    ConfigurationError,
    ExecutionError,
    GraphValidationError,
    NodeNotFoundError,
    PartitionValidationError,
)
from support import Recorder, make_repo


def run_events(repo, run_id, asset=None):
    return [e for e in repo.storage.get_events_for_run(run_id) if asset is None or e.asset_key == asset]


def kinds(repo, run_id, asset):
    return [e.event_type for e in run_events(repo, run_id, asset)]


def diamond():
    """raw (group raw) -> a, b -> c; plus independent x."""

    @rs.Asset(group="raw", tags=["etl"])
    def raw() -> int:
        return 1

    @rs.Asset(group="mid")
    def a(raw: int) -> int:
        return raw + 1

    @rs.Asset(group="mid", kinds="table")
    def b(raw: int) -> int:
        return raw + 2

    @rs.Asset
    def c(a: int, b: int) -> int:
        return a + b

    @rs.Asset(group="raw")
    def x() -> int:
        return 100

    return raw, a, b, c, x


# ============================================================== lifecycle
def test_constructor_validates_nothing():
    @rs.Asset
    def broken(missing):
        return missing

    repo = rs.CodeRepository(assets=[broken])  # no error yet
    with pytest.raises(GraphValidationError, match="unresolved input 'missing'"):
        repo.validate()
    with pytest.raises(GraphValidationError):
        repo.resolve(rs.Storage.memory())


def test_validate_is_rerun_on_every_call():
    @rs.Asset
    def broken(missing):
        return missing

    repo = rs.CodeRepository(assets=[broken])
    for _ in range(2):
        with pytest.raises(GraphValidationError):
            repo.validate()


def test_resolve_is_idempotent_and_ignores_another_storage():
    first, second = rs.Storage.memory(), rs.Storage.memory()

    @rs.Asset
    def a():
        return 1

    repo = rs.CodeRepository(assets=[a])
    repo.resolve(first)
    repo.resolve(second)
    assert repo.storage is first


def test_default_storage_is_sqlite_under_dot_rivers_of_the_working_directory(tmp_path):
    @rs.Asset
    def a():
        return 1

    repo = rs.CodeRepository(assets=[a])
    result = repo.materialize()
    assert (tmp_path / ".rivers" / "rivers.db").is_file()
    assert repo.storage.get_run(result.run_id).status == "Success"


def test_materialize_with_defaults_succeeds():
    raw, a, b, c, x = diamond()
    repo = rs.CodeRepository(assets=[raw, a, b, c, x])
    result = repo.materialize()
    assert result.success
    assert repo.load_node("c") == 5


def test_assets_property_auto_resolves():
    raw, a, b, c, x = diamond()
    repo = rs.CodeRepository(assets=[raw, a, b, c, x])
    assert set(repo.assets) == {"raw", "a", "b", "c", "x"}
    assert repo.assets["c"] is c


def test_asset_records_exist_after_resolve():
    raw, a, b, c, x = diamond()
    repo = make_repo(raw, a, b, c, x)
    record = repo.storage.get_asset_record("b")
    assert record is not None
    assert (record.group, record.kinds) == ("mid", ["table"])
    assert record.last_run_id is None
    assert {r.asset_key for r in repo.storage.get_assets_by_group("raw")} == {"raw", "x"}


def test_empty_repository_materializes_successfully():
    repo = rs.CodeRepository(assets=[])
    result = repo.materialize()
    assert result.success is True
    assert result.materialized_assets == []


# ============================================================== selection
def test_selection_by_names():
    raw, a, b, c, x = diamond()
    repo = make_repo(raw, a, b, c, x)
    result = repo.materialize(selection=["x"])
    assert result.materialized_assets == ["x"]
    assert result.success


def test_selection_by_asset_objects():
    raw, a, b, c, x = diamond()
    repo = make_repo(raw, a, b, c, x)
    assert repo.materialize(selection=[x]).materialized_assets == ["x"]


def test_selection_by_group_expression():
    raw, a, b, c, x = diamond()
    repo = make_repo(raw, a, b, c, x)
    assert set(repo.materialize(selection="group:raw").materialized_assets) == {"raw", "x"}


def test_selection_with_parents_expression():
    raw, a, b, c, x = diamond()
    repo = make_repo(raw, a, b, c, x)
    repo.materialize(selection=["raw"])
    # "+a": a and its parents (raw)
    assert repo.materialize(selection="+a").materialized_assets == ["raw", "a"]


def test_selection_with_descendants_expression():
    raw, a, b, c, x = diamond()
    repo = make_repo(raw, a, b, c, x)
    # "raw*": raw and all its descendants, in topological order
    result = repo.materialize(selection="raw*")
    assert set(result.materialized_assets) == {"raw", "a", "b", "c"}
    assert result.materialized_assets[0] == "raw"
    assert result.materialized_assets[-1] == "c"


def test_selection_star_wildcard_selects_everything():
    raw, a, b, c, x = diamond()
    repo = make_repo(raw, a, b, c, x)
    assert set(repo.materialize(selection="*").materialized_assets) == {"raw", "a", "b", "c", "x"}


def test_include_upstream_adds_the_upstream_closure():
    raw, a, b, c, x = diamond()
    repo = make_repo(raw, a, b, c, x)
    result = repo.materialize(selection=["c"], include_upstream=True)
    assert set(result.materialized_assets) == {"raw", "a", "b", "c"}
    assert repo.load_node("c") == 5


def test_include_upstream_without_selection_runs_everything():
    raw, a, b, c, x = diamond()
    repo = make_repo(raw, a, b, c, x)
    assert set(repo.materialize(include_upstream=True).materialized_assets) == {"raw", "a", "b", "c", "x"}


def test_unknown_selection_name():
    raw, a, b, c, x = diamond()
    repo = make_repo(raw, a, b, c, x)
    with pytest.raises(AssetNotFoundError, match="Selection contains unknown asset: 'nope'"):
        repo.materialize(selection=["nope"])


def test_upstream_not_selected_with_default_handler_is_rejected():
    raw, a, b, c, x = diamond()
    repo = make_repo(raw, a, b, c, x)
    with pytest.raises(
        GraphValidationError,
        match=r"Job '<materialize>': node 'a' depends on 'raw' which is not in the job and has no io_handler",
    ):
        repo.materialize(selection=["a"])


def test_upstream_not_selected_with_an_explicit_handler_is_loaded():
    handler = Recorder()

    @rs.Asset(io_handler=handler)
    def up() -> int:
        return 3

    @rs.Asset
    def down(up: int) -> int:
        return up * 2

    repo = make_repo(up, down)
    repo.materialize(selection=["up"])
    result = repo.materialize(selection=["down"])
    assert result.materialized_assets == ["down"]
    assert repo.load_node("down") == 6


# ======================================================== results and failures
def test_run_result_fields_and_repr():
    raw, a, b, c, x = diamond()
    repo = make_repo(raw, a, b, c, x)
    result = repo.materialize(selection=["x", "raw"])
    assert isinstance(result, rs.RunResult)
    assert result.success is True
    assert isinstance(result.run_id, str) and result.run_id
    assert set(result.materialized_assets) == {"x", "raw"}
    assert result.failed_assets == []
    assert repr(result) == f"RunResult(success=true, run_id='{result.run_id}', materialized=2, failed=0)"


def test_run_result_is_read_only():
    @rs.Asset
    def a():
        return 1

    result = make_repo(a).materialize()
    with pytest.raises(AttributeError):
        result.success = False


def failing_repo():
    @rs.Asset
    def ok() -> int:
        return 1

    @rs.Asset
    def bad(ok: int) -> int:
        raise ValueError("boom")

    @rs.Asset
    def after_bad(bad: int) -> int:
        return bad

    @rs.Asset
    def after_after(after_bad: int) -> int:
        return after_bad

    @rs.Asset
    def independent() -> int:
        return 42

    return make_repo(ok, bad, after_bad, after_after, independent)


def test_failed_step_skips_dependants_and_keeps_other_branches():
    repo = failing_repo()
    result = repo.materialize(raise_on_error=False)
    assert result.success is False
    assert result.failed_assets == [
        ("bad", "ValueError: boom"),
        ("after_bad", "ExecutionError: Skipped: upstream dependency failed"),
        ("after_after", "ExecutionError: Skipped: upstream dependency failed"),
    ]
    assert set(result.materialized_assets) == {"ok", "bad", "after_bad", "after_after", "independent"}
    assert repo.load_node("independent") == 42
    assert repo.load_node("ok") == 1
    assert kinds(repo, result.run_id, "ok") == ["StepStart", "Materialization", "StepSuccess"]
    assert repr(result).endswith("materialized=5, failed=3)")
    assert "success=false" in repr(result)


def test_skipped_steps_get_a_step_failure_without_step_start():
    repo = failing_repo()
    result = repo.materialize(raise_on_error=False)
    assert kinds(repo, result.run_id, "bad") == ["StepStart", "StepFailure"]
    assert kinds(repo, result.run_id, "after_bad") == ["StepFailure"]
    skipped = run_events(repo, result.run_id, "after_bad")[0]
    assert dict(skipped.metadata)["error"] == "ExecutionError: Skipped: upstream dependency failed"


def test_step_failure_metadata():
    repo = failing_repo()
    result = repo.materialize(raise_on_error=False)
    (failure,) = [e for e in run_events(repo, result.run_id, "bad") if e.event_type == "StepFailure"]
    metadata = dict(failure.metadata)
    assert {"error", "rivers/failure_reason", "rivers/exc_type"} <= set(metadata)
    assert metadata["error"] == "ValueError: boom"
    assert metadata["rivers/failure_reason"] == "error"
    assert json.loads(metadata["rivers/exc_type"]) == [
        "builtins.ValueError", "builtins.Exception", "builtins.BaseException", "builtins.object",
    ]


def test_failure_reason_classification_in_step_failure():
    @rs.Asset
    def slow():
        raise TimeoutError("too slow")

    repo = make_repo(slow)
    result = repo.materialize(raise_on_error=False)
    (failure,) = [e for e in run_events(repo, result.run_id, "slow") if e.event_type == "StepFailure"]
    assert dict(failure.metadata)["rivers/failure_reason"] == "timeout"


def test_traceback_is_stored_in_the_run_logs():
    repo = failing_repo()
    result = repo.materialize(raise_on_error=False)
    logs = repo.storage.get_run_logs(result.run_id)
    texts = [" ".join(v for v in (log.stdout, log.stderr, log.logs, getattr(log, "traceback", None)) if v)
             for log in logs if log.step_key == "bad"]
    assert any("Traceback (most recent call last)" in t and "ValueError: boom" in t for t in texts), logs
    assert all("Traceback" not in value for _, value in
               [m for e in run_events(repo, result.run_id, "bad") for m in e.metadata])


def test_captured_stdout_is_stored_in_the_run_logs():
    @rs.Asset
    def chatty() -> int:
        print("hello from stdout")
        return 1

    repo = make_repo(chatty)
    result = repo.materialize()
    logs = [log for log in repo.storage.get_run_logs(result.run_id) if log.step_key == "chatty"]
    assert any("hello from stdout" in (log.stdout or "") for log in logs), logs


def test_event_order_per_successful_step():
    raw, a, b, c, x = diamond()
    repo = make_repo(raw, a, b, c, x)
    result = repo.materialize()
    for name in ("raw", "a", "b", "c", "x"):
        assert kinds(repo, result.run_id, name) == ["StepStart", "Materialization", "StepSuccess"]
    assert all(e.run_id == result.run_id for e in run_events(repo, result.run_id))


def test_materialization_event_fields():
    @rs.Asset(code_version="v3")
    def up() -> int:
        return 1

    @rs.Asset
    def down(up: int) -> int:
        return up

    repo = make_repo(up, down)
    result = repo.materialize()
    (up_event,) = [e for e in run_events(repo, result.run_id, "up") if e.event_type == "Materialization"]
    (down_event,) = [e for e in run_events(repo, result.run_id, "down") if e.event_type == "Materialization"]
    assert up_event.code_version == "v3"
    assert up_event.data_version
    assert down_event.input_data_versions == [("up", up_event.data_version)]
    assert repo.storage.get_latest_materialization("up").data_version == up_event.data_version


def test_run_record_of_a_materialize_run():
    raw, a, b, c, x = diamond()
    repo = make_repo(raw, a, b, c, x)
    result = repo.materialize(tags=[("team", "data"), ("rivers/priority", "5")])
    record = repo.storage.get_run(result.run_id)
    assert record.job_name is None
    assert record.status == "Success"
    assert record.launched_by == rs.LaunchedBy.manual()
    assert set(record.node_names) == {"raw", "a", "b", "c", "x"}
    assert record.tags == [("team", "data"), ("rivers/priority", "5")]
    assert record.priority == 5
    assert record.end_time is not None and record.end_time >= record.start_time


def test_run_id_override_is_used():
    @rs.Asset
    def a():
        return 1

    repo = make_repo(a)
    assert repo.materialize(run_id_override="my-run").run_id == "my-run"
    assert repo.storage.get_run("my-run").status == "Success"


def test_raise_on_error_reraises_the_original_exception_after_storing_the_run():
    @rs.Asset
    def a():
        raise KeyError("missing thing")

    @rs.Asset
    def b(a):
        return a

    repo = make_repo(a, b)
    with pytest.raises(KeyError, match="missing thing"):
        repo.materialize(run_id_override="r1")
    record = repo.storage.get_run("r1")
    assert record.status == "Failure"
    assert [e.event_type for e in repo.storage.get_events_for_run("r1")] == ["StepStart", "StepFailure",
                                                                           "StepFailure"]


def test_raise_on_error_reraises_the_first_real_failure():
    @rs.Asset
    def first():
        raise ValueError("first")

    @rs.Asset
    def after(first):
        return first

    @rs.Asset
    def second():
        raise TypeError("second")

    with pytest.raises(ValueError, match="first"):
        make_repo(first, after, second).materialize()


def test_raise_on_error_keeps_rivers_exception_types():
    @rs.Asset
    def typed() -> int:
        return "x"

    with pytest.raises(AssetOutputValidationError):
        make_repo(typed).materialize()


def test_failed_run_status_without_raise():
    repo = failing_repo()
    result = repo.materialize(raise_on_error=False)
    assert repo.storage.get_run(result.run_id).status == "Failure"


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


# ======================================================= handlers and load_node
def test_io_handler_for_output_uses_the_node_handler_or_the_shared_default():
    handler = Recorder()

    @rs.Asset(io_handler=handler)
    def own():
        return 1

    @rs.Asset
    def d1():
        return 1

    @rs.Asset
    def d2():
        return 1

    repo = make_repo(own, d1, d2)
    assert repo.io_handler_for_output("own") is handler
    default = repo.io_handler_for_output("d1")
    assert isinstance(default, rs.InMemoryIOHandler)
    assert repo.io_handler_for_output("d2") is default


def test_default_handler_is_fresh_per_repository():
    @rs.Asset
    def a():
        return 1

    one, two = make_repo(a), make_repo(a)
    assert one.io_handler_for_output("a") is not two.io_handler_for_output("a")
    one.materialize()
    with pytest.raises(KeyError):
        two.load_node("a")


def test_io_handler_for_unknown_node():
    @rs.Asset
    def a():
        return 1

    with pytest.raises(NodeNotFoundError, match="Node 'zzz' not found in repository"):
        make_repo(a).io_handler_for_output("zzz")


def test_string_io_handler_reference_is_resolved_at_resolve_not_validate():
    @rs.Asset(io_handler="files")
    def a():
        return 1

    repo = rs.CodeRepository(assets=[a])
    repo.validate()
    with pytest.raises(AssetDefinitionError,
                       match="Asset 'a': io_handler references resource 'files' which is not in resources"):
        repo.resolve(rs.Storage.memory())


def test_string_io_handler_reference_to_a_non_handler_resource():
    class Api(rs.Resource):
        url: str = "x"

    @rs.Asset(io_handler="api")
    def a():
        return 1

    repo = rs.CodeRepository(assets=[a], resources={"api": Api()})
    with pytest.raises(AssetDefinitionError,
                       match=r"does not implement the IOHandler protocol \(handle_output \+ load_input\)"):
        repo.resolve(rs.Storage.memory())


def test_load_node_passes_a_load_node_input_context():
    handler = Recorder()

    @rs.Asset(io_handler=handler, metadata={"k": "v"})
    def a() -> list:
        return [1]

    repo = make_repo(a)
    repo.materialize()
    assert repo.load_node("a", type_hint=list) == [1]
    ctx = handler.loads[-1]
    assert (ctx.asset_name, ctx.downstream_asset, ctx.asset_metadata, ctx.partition, ctx.type_hint) == (
        "a", "__load_node__", {"k": "v"}, None, list)


def test_load_node_errors():
    @rs.Asset
    def a():
        return 1

    repo = make_repo(a)
    with pytest.raises(NodeNotFoundError):
        repo.load_node("nope")
    with pytest.raises(KeyError):
        repo.load_node("a")  # nothing stored yet: the in-memory handler's KeyError propagates raw
    with pytest.raises(PartitionValidationError,
                       match="Node 'a' is not partitioned, but a partition_key was provided"):
        repo.load_node("a", partition_key="2024-01-01")


def test_values_survive_across_runs_of_the_same_repository():
    @rs.Asset
    def a():
        return {"x": 1}

    repo = make_repo(a)
    repo.materialize()
    value = repo.load_node("a")
    assert value == {"x": 1}
    assert repo.load_node("a") is value  # no copies


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


# ============================================================ async assets
def test_async_assets_are_awaited():
    @rs.Asset
    async def fetch() -> int:
        await asyncio.sleep(0)
        return 3

    @rs.Asset
    async def double(fetch: int) -> int:
        return fetch * 2

    @rs.Asset
    def sync_after(double: int) -> int:
        return double + 1

    repo = make_repo(fetch, double, sync_after)
    assert fetch.is_async
    result = repo.materialize()
    assert result.success
    assert repo.load_node("fetch") == 3
    assert repo.load_node("sync_after") == 7


def test_async_asset_failure_propagates_its_type():
    @rs.Asset
    async def broken() -> int:
        raise LookupError("async boom")

    with pytest.raises(LookupError, match="async boom"):
        make_repo(broken).materialize()


def test_async_asset_return_annotation_is_checked():
    @rs.Asset
    async def wrong() -> int:
        return "x"

    with pytest.raises(AssetOutputValidationError):
        make_repo(wrong).materialize()


def test_async_asset_with_context_and_output():
    @rs.Asset
    async def a(context: rs.AssetExecutionContext):
        context.add_output_metadata({"n": 1})
        return rs.Output(9, data_version="av")

    repo = make_repo(a)
    result = repo.materialize()
    (event,) = [e for e in run_events(repo, result.run_id, "a") if e.event_type == "Materialization"]
    assert event.data_version == "av"
    assert repo.load_node("a") == 9


def test_materialize_works_inside_a_running_event_loop():
    @rs.Asset
    async def a() -> int:
        return 1

    repo = make_repo(a)

    async def main():
        return repo.materialize()

    assert asyncio.run(main()).success


# ===================================================== resources at construction
@pytest.mark.parametrize("bad", [5, "x", None, [1]])
def test_bad_resource_value_fails_at_construction(bad):
    with pytest.raises(ConfigurationError, match="Expected a Pydantic BaseModel/BaseSettings subclass, Resource "
                                                 "instance or BaseIOHandler, got"):
        rs.CodeRepository(assets=[], resources={"r": bad})


# ========================================================= error catalogue
def test_unknown_upstream_name_suggests_a_close_name():
    @rs.Asset
    def orders():
        return 1

    @rs.Asset
    def revenue(ordrs):
        return ordrs

    with pytest.raises(GraphValidationError) as info:
        rs.CodeRepository(assets=[orders, revenue]).validate()
    message = str(info.value)
    assert "Asset 'revenue': unresolved input 'ordrs'" in message
    assert "orders" in message


def test_two_asset_cycle_message_shows_the_path():
    @rs.Asset
    def a(b):
        return b

    @rs.Asset
    def b(a):
        return a

    with pytest.raises(GraphValidationError, match="Cycle detected in asset graph: b -> a -> b"):
        rs.CodeRepository(assets=[a, b]).validate()


def test_three_asset_cycle_message_follows_the_data_flow():
    @rs.Asset
    def random(x: int) -> int:
        return x + 1

    @rs.Asset
    def x(z: int) -> int:
        return z

    @rs.Asset
    def y(x: int) -> int:
        return x

    @rs.Asset
    def z(y: int) -> int:
        return y

    with pytest.raises(GraphValidationError, match="Cycle detected in asset graph: y -> z -> x -> y"):
        rs.CodeRepository(assets=[x, y, z, random]).validate()


def test_cycle_message_does_not_name_non_cyclic_nodes():
    @rs.Asset
    def root() -> int:
        return 1

    @rs.Asset
    def a(b: int, root: int) -> int:
        return b

    @rs.Asset
    def b(a: int) -> int:
        return a

    with pytest.raises(GraphValidationError, match="Cycle detected in asset graph: b -> a -> b") as info:
        rs.CodeRepository(assets=[root, a, b]).resolve(rs.Storage.memory())
    assert "root" not in str(info.value)


def test_three_asset_cycle_message_is_a_real_cycle():
    @rs.Asset
    def a(c):
        return c

    @rs.Asset
    def b(a):
        return a

    @rs.Asset
    def c(b):
        return b

    @rs.Asset
    def outside():
        return 1

    with pytest.raises(GraphValidationError, match="Cycle detected in asset graph: ") as info:
        rs.CodeRepository(assets=[outside, a, b, c]).validate()
    path = str(info.value).split("Cycle detected in asset graph: ", 1)[1].split(".")[0].split(" -> ")
    assert path[0] == path[-1]
    assert sorted(path[:-1]) == ["a", "b", "c"]
    upstream_of = {"a": "c", "b": "a", "c": "b"}
    # each step of the path follows one dependency edge (in one consistent direction)
    forward = all(upstream_of[path[i + 1]] == path[i] for i in range(len(path) - 1))
    backward = all(upstream_of[path[i]] == path[i + 1] for i in range(len(path) - 1))
    assert forward or backward


def test_cycle_through_a_lineage_dep():
    @rs.Asset(deps=[rs.AssetDef.dep("b")])
    def a():
        return 1

    @rs.Asset
    def b(a):
        return a

    with pytest.raises(GraphValidationError, match="Cycle detected in asset graph"):
        rs.CodeRepository(assets=[a, b]).validate()


def test_unbound_asset_in_a_repository():
    with pytest.raises(AssetDefinitionError, match="not bound to a function"):
        rs.CodeRepository(assets=[rs.Asset(name="x")]).validate()


def test_task_passed_as_an_asset():
    @rs.Task
    def t() -> int:
        return 1

    with pytest.raises(AssetDefinitionError, match=r"tasks=\[\.\.\.\]"):
        rs.CodeRepository(assets=[t]).validate()


def test_duplicate_asset_names():
    @rs.Asset(name="x")
    def first():
        return 1

    @rs.Asset(name="x")
    def second():
        return 2

    with pytest.raises(AssetDefinitionError, match="duplicate asset name 'x': two definitions register under it"):
        rs.CodeRepository(assets=[first, second]).validate()


def test_same_asset_object_twice_is_a_duplicate():
    @rs.Asset
    def a():
        return 1

    with pytest.raises(AssetDefinitionError, match="duplicate asset name 'a'"):
        rs.CodeRepository(assets=[a, a]).validate()


def test_asset_and_standalone_task_with_the_same_name():
    @rs.Asset
    def same():
        return 1

    @rs.Task(name="same")
    def task():
        return 2

    with pytest.raises(AssetDefinitionError, match="duplicate asset name 'same'"):
        rs.CodeRepository(assets=[same], tasks=[task]).validate()


def test_context_not_first_parameter():
    @rs.Asset
    def up():
        return 1

    @rs.Asset
    def a(up: int, context: rs.AssetExecutionContext):
        return up

    with pytest.raises(ExecutionError, match="Context must be the first parameter of 'a'"):
        make_repo(up, a).materialize()


def test_self_without_annotation():
    @rs.Asset
    def me(self):
        return 1

    with pytest.raises(ExecutionError, match=r"`self` parameter requires a `SelfDependency\[T\]` annotation"):
        make_repo(me).materialize()


def test_materialization_consumed_downstream_in_the_same_run_fails_the_load():
    # Decision (lead, commit eaa2420): within one run the engine knows the upstream returned
    # rs.Materialization and fails the load with a specific ExecutionError instead of the
    # handler's KeyError.
    @rs.Asset
    def push() -> rs.Materialization:
        return rs.Materialization(metadata={"status": 200})

    @rs.Asset
    def consumer(push):
        return push

    repo = make_repo(push, consumer)
    result = repo.materialize(raise_on_error=False)
    assert kinds(repo, result.run_id, "push") == ["StepStart", "Materialization", "StepSuccess"]
    assert [name for name, _ in result.failed_assets] == ["consumer"]
    assert result.failed_assets[0][1].startswith("ExecutionError: Asset 'consumer' loads 'push'")
    with pytest.raises(ExecutionError, match="rs.Materialization"):
        repo.materialize()


def test_materialization_consumed_in_a_later_run_fails_in_the_handler():
    @rs.Asset(io_handler=rs.InMemoryIOHandler())
    def push() -> rs.Materialization:
        return rs.Materialization(metadata={"status": 200})

    @rs.Asset
    def consumer(push):
        return push

    repo = make_repo(push, consumer)
    assert repo.materialize(selection=["push"]).success
    with pytest.raises(KeyError):  # the in-memory handler never stored a value
        repo.materialize(selection=["consumer"])


def test_non_str_static_metadata_is_a_type_error():
    with pytest.raises(TypeError):
        @rs.Asset(metadata={"rows": 5})
        def a():
            return 1


def test_io_handler_not_a_base_io_handler():
    class NotAHandler:
        def handle_output(self, context, obj):
            pass

        def load_input(self, context):
            pass

    with pytest.raises(AssetDefinitionError, match="io_handler must be a BaseIOHandler subclass instance"):
        @rs.Asset(io_handler=NotAHandler())
        def a():
            return 1


def test_return_annotation_mismatch():
    @rs.Asset
    def count() -> int:
        return "three"

    with pytest.raises(AssetOutputValidationError,
                       match="Asset 'count' returned value of type 'str' but expected 'int'"):
        make_repo(count).materialize()


def test_handler_errors_propagate_with_their_type():
    class Failing(rs.BaseIOHandler):
        def handle_output(self, context, obj):
            raise RuntimeError("disk full")

        def load_input(self, context):
            raise RuntimeError("unused")

    @rs.Asset(io_handler=Failing())
    def a():
        return 1

    repo = make_repo(a)
    with pytest.raises(RuntimeError, match="disk full"):
        repo.materialize()
    result = repo.materialize(raise_on_error=False)
    assert result.failed_assets == [("a", "RuntimeError: disk full")]


def test_load_input_errors_propagate_with_their_type():
    class FailingInput(rs.BaseIOHandler):
        def handle_output(self, context, obj):
            pass

        def load_input(self, context):
            raise RuntimeError("load_input exploded")

    @rs.Asset(io_handler=FailingInput())
    def upstream() -> int:
        return 1

    @rs.Asset
    def downstream(upstream: int) -> int:
        return upstream + 1

    job = rs.Job("test", assets=[downstream], allow_incomplete_deps=True)
    repo = make_repo(upstream, downstream, jobs=[job])
    with pytest.raises(RuntimeError, match="load_input exploded"):
        repo.get_job("test").execute()


def test_standalone_bash_task_failure_propagates():
    task = rs.BashTask(name="fail_task", command="exit 1")
    repo = rs.CodeRepository(assets=[], tasks=[task])
    repo.resolve(rs.Storage.memory())
    with pytest.raises(OSError, match="Command failed"):
        repo.materialize()


def test_bash_task_with_a_missing_binary_is_an_os_error():
    with pytest.raises(OSError):
        rs.BashTask(name="bad_cmd", command=["nonexistent_binary_xyz_123"])()


def test_exceptions_module_classes():
    import rivers.exceptions as exc

    names = ["AssetDefinitionError", "AssetNotFoundError", "AssetOutputValidationError", "ConfigurationError",
             "ExecutionError", "GraphValidationError", "InvalidMetadataError", "NodeNotFoundError",
             "PartitionDefinitionError", "PartitionValidationError", "ResultDefinitionError",
             "ScheduleDefinitionError", "SchemaMigrationNeededError", "SensorDefinitionError", "StorageError",
             "TaskDefinitionError"]
    for name in names:
        cls = getattr(exc, name)
        assert issubclass(cls, Exception)
    assert issubclass(exc.SchemaMigrationNeededError, exc.StorageError)
