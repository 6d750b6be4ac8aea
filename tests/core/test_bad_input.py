"""Each user mistake of the foundation issue gets a specific, helpful error."""

from __future__ import annotations

import pytest
from support import hide_installed_plugins

import rivers as rs
from rivers.exceptions import (
    AssetDefinitionError,
    ExecutionError,
    GraphValidationError,
    PluginNotFoundError,
    ProjectConfigError,
)


def _repo(*assets, **kwargs):
    repo = rs.CodeRepository(assets=list(assets), **kwargs)
    repo.resolve(rs.Storage.memory())
    return repo


def test_unknown_upstream_suggests_close_names():
    @rs.Asset
    def orders():
        return 1

    @rs.Asset
    def revenue(order):
        return order

    with pytest.raises(GraphValidationError) as info:
        rs.CodeRepository(assets=[orders, revenue]).validate()
    message = str(info.value)
    assert "Asset 'revenue': unresolved input 'order'" in message
    assert "'orders'" in message


def test_cycle_shows_the_path():
    def a(b):
        return b

    def b(a):
        return a

    with pytest.raises(GraphValidationError) as info:
        rs.CodeRepository(assets=[rs.Asset(a), rs.Asset(b)]).validate()
    assert "Cycle detected in asset graph:" in str(info.value)
    assert "a -> b -> a" in str(info.value) or "b -> a -> b" in str(info.value)


def test_duplicate_names_name_the_asset():
    with pytest.raises(AssetDefinitionError, match="duplicate asset name 'x'"):
        rs.CodeRepository(assets=[rs.Asset(lambda: 1, name="x"), rs.Asset(lambda: 2, name="x")]).validate()


def test_context_must_be_first():
    @rs.Asset
    def a():
        return 1

    @rs.Asset
    def b(a, context: rs.AssetExecutionContext):
        return a

    with pytest.raises(ExecutionError, match="Context must be the first parameter of 'b'"):
        _repo(a, b).materialize()


def test_self_parameter_needs_self_dependency_annotation():
    @rs.Asset
    def grows(self):
        return 1

    with pytest.raises(ExecutionError, match="requires a `SelfDependency\\[T\\]` annotation"):
        _repo(grows).materialize()


def test_materialization_consumed_downstream_names_both_assets():
    @rs.Asset
    def pushed() -> rs.Materialization:
        return rs.Materialization(metadata={"rows": 3})

    @rs.Asset
    def reader(pushed):
        return pushed

    repo = _repo(pushed, reader)
    result = repo.materialize(raise_on_error=False)
    assert not result.success
    (name, message), = result.failed_assets
    assert name == "reader"
    assert "'reader' loads 'pushed'" in message and "rs.Materialization" in message
    # the upstream's own event is kept
    types = [e.event_type for e in repo.storage.get_events_for_asset("pushed")]
    assert "Materialization" in types


def test_non_string_static_metadata_is_rejected():
    with pytest.raises(TypeError, match="static metadata values must be str"):
        rs.Asset(lambda: 1, name="a", metadata={"rows": 3})


def test_io_handler_must_be_a_base_io_handler():
    class DuckTyped:
        def handle_output(self, context, obj): ...

        def load_input(self, context): ...

    with pytest.raises(AssetDefinitionError, match="must subclass rivers.BaseIOHandler"):
        rs.Asset(lambda: 1, name="a", io_handler=DuckTyped())


def test_unknown_plugin_name_lists_available_and_distribution(monkeypatch, request):
    hide_installed_plugins(monkeypatch, request)  # rivers-io-s3 is installed in the test environment
    with pytest.raises(PluginNotFoundError) as info:
        rs.io_handler("s3", bucket="b")
    message = str(info.value)
    assert "'s3'" in message and "memory" in message and "rivers-io-s3" in message


def test_malformed_rivers_toml_names_the_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "rivers.toml").write_text("[storage\nurl = 1\n")

    @rs.Asset
    def a():
        return 1

    with pytest.raises(ProjectConfigError, match="rivers.toml"):
        rs.CodeRepository(assets=[a]).materialize()


def test_failing_step_keeps_upstream_and_skips_dependants():
    calls = []

    @rs.Asset
    def source():
        return 2

    @rs.Asset
    def broken(source):
        raise ValueError("boom")

    @rs.Asset
    def after(broken):
        calls.append("after")

    @rs.Asset
    def independent(source):
        return source * 10

    repo = _repo(source, broken, after, independent)
    with pytest.raises(ValueError, match="boom"):
        repo.materialize()
    run = repo.storage.get_runs(limit=1)[0]
    assert run.status == "Failure"
    assert repo.load_node("source") == 2 and repo.load_node("independent") == 20
    assert calls == []
    events = repo.storage.get_events_for_run(run.run_id)
    failures = {e.asset_key: dict(e.metadata) for e in events if e.event_type == "StepFailure"}
    assert failures["broken"]["error"] == "ValueError: boom"
    assert failures["after"]["error"] == "ExecutionError: Skipped: upstream dependency failed"
    logs = repo.storage.get_run_logs(run.run_id)
    assert any(log.step_key == "broken" and "ValueError: boom" in (log.stderr or "") for log in logs)
