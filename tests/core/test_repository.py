"""``CodeRepository``: lifecycle, selection, results and failures, handlers, async assets, resources."""

from __future__ import annotations

import asyncio
import json
import pytest
import rivers as rs
from rivers.exceptions import (
    AssetDefinitionError,
    AssetNotFoundError,
    AssetOutputValidationError,
    ConfigurationError,
    GraphValidationError,
    NodeNotFoundError,
    PartitionValidationError,
)
from support import Recorder, make_repo
from repository_support import diamond, kinds, run_events


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


def test_runs_one_after_another_capture_stdout_and_write_it_to_the_stream_of_the_moment(monkeypatch):
    import io
    import sys

    @rs.Asset
    def chatty() -> int:
        print("line of the run")
        return 1

    repo = make_repo(chatty)
    first_stream, second_stream = io.StringIO(), io.StringIO()
    monkeypatch.setattr(sys, "stdout", first_stream)
    first = repo.materialize()
    again = repo.materialize()  # the streams are held and released per run: the second run puts them back
    assert sys.stdout is first_stream  # released after each run
    monkeypatch.setattr(sys, "stdout", second_stream)  # e.g. a test framework swapping the stream
    third = repo.materialize()
    assert sys.stdout is second_stream
    assert first_stream.getvalue() == "line of the run\n" * 2
    assert second_stream.getvalue() == "line of the run\n"  # not written to the stream swapped out
    for result in (first, again, third):
        logs = [log for log in repo.storage.get_run_logs(result.run_id) if log.step_key == "chatty"]
        assert [log.stdout for log in logs] == ["line of the run\n"], logs

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
