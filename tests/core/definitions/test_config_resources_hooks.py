"""Typed run config, resources as steps see them, and hooks."""

from __future__ import annotations

import dataclasses
import logging
import attrs
import pydantic
import pytest
import rivers as rs
from rivers.exceptions import AssetDefinitionError, ConfigurationError, GraphValidationError
from support import Recorder, make_repo


# ============================================================== typed config
class PydCfg(pydantic.BaseModel):
    top: int = 3
    label: str = "x"


@dataclasses.dataclass
class DcCfg:
    top: int = 3
    label: str = "x"


@attrs.define
class AttrsCfg:
    top: int = 3
    label: str = "x"


@pytest.mark.parametrize("cfg_cls", [PydCfg, DcCfg, AttrsCfg], ids=["pydantic", "dataclass", "attrs"])
def test_config_defaults_without_overrides(cfg_cls):
    got = []

    @rs.Asset
    def ranking(context: rs.AssetExecutionContext[cfg_cls]) -> list:
        got.append(context.config)
        return list(range(context.config.top))

    repo = make_repo(ranking)
    repo.materialize()
    assert isinstance(got[0], cfg_cls)
    assert (got[0].top, got[0].label) == (3, "x")
    assert repo.load_node("ranking") == [0, 1, 2]


@pytest.mark.parametrize("cfg_cls", [PydCfg, DcCfg, AttrsCfg], ids=["pydantic", "dataclass", "attrs"])
def test_config_overrides_per_step(cfg_cls):
    @rs.Asset
    def ranking(context: rs.AssetExecutionContext[cfg_cls]) -> list:
        return [context.config.label] * context.config.top

    repo = make_repo(ranking)
    repo.materialize(config={"ranking": {"top": 2, "label": "y"}, "unknown_step": {"zzz": 1}})
    assert repo.load_node("ranking") == ["y", "y"]
    # overrides are per run: the next run uses the defaults again
    repo.materialize()
    assert repo.load_node("ranking") == ["x", "x", "x"]


@pytest.mark.parametrize("cfg_cls", [PydCfg, DcCfg, AttrsCfg], ids=["pydantic", "dataclass", "attrs"])
def test_config_with_an_unknown_field_fails_the_step(cfg_cls):
    @rs.Asset
    def ranking(context: rs.AssetExecutionContext[cfg_cls]) -> int:
        return 1

    repo = make_repo(ranking)
    result = repo.materialize(config={"ranking": {"nope": 1}}, raise_on_error=False) \
        if cfg_cls is not PydCfg else repo.materialize(config={"ranking": {"top": "not an int"}},
                                                       raise_on_error=False)
    assert not result.success
    assert result.failed_assets[0][0] == "ranking"


def test_pydantic_validation_error_propagates_with_its_type():
    @rs.Asset
    def ranking(context: rs.AssetExecutionContext[PydCfg]) -> int:
        return 1

    with pytest.raises(pydantic.ValidationError):
        make_repo(ranking).materialize(config={"ranking": {"top": "many"}})


def test_pydantic_config_coerces_values():
    @rs.Asset
    def ranking(context: rs.AssetExecutionContext[PydCfg]) -> int:
        return context.config.top

    repo = make_repo(ranking)
    repo.materialize(config={"ranking": {"top": "5"}})
    assert repo.load_node("ranking") == 5


def test_config_with_pydantic_settings_reads_env_and_overrides_win(monkeypatch):
    pydantic_settings = pytest.importorskip("pydantic_settings")

    class Settings(pydantic_settings.BaseSettings):
        region: str = "eu"
        size: int = 1

    monkeypatch.setenv("REGION", "us")
    monkeypatch.setenv("SIZE", "4")

    @rs.Asset
    def where(context: rs.AssetExecutionContext[Settings]) -> tuple:
        return (context.config.region, context.config.size)

    repo = make_repo(where)
    repo.materialize()
    assert repo.load_node("where") == ("us", 4)
    repo.materialize(config={"where": {"size": 9}})
    assert repo.load_node("where") == ("us", 9)


def test_config_type_that_is_not_a_model_fails_with_configuration_error():
    @rs.Asset
    def a(context: rs.AssetExecutionContext[int]) -> int:
        return 1

    repo = make_repo(a)
    with pytest.raises(ConfigurationError, match="Expected a Pydantic BaseModel/BaseSettings subclass"):
        repo.materialize()


def test_config_is_none_without_generic_argument():
    got = []

    @rs.Asset
    def a(context: rs.AssetExecutionContext):
        got.append(context.config)
        return 1

    make_repo(a).materialize(config={"a": {"x": 1}})
    assert got == [None]


# ================================================================ resources
class Api(rs.Resource):
    base_url: str = "http://localhost"
    calls: int = 0

    def setup(self) -> None:
        self.calls += 1
        events_log.append(("setup", self.base_url))

    def teardown(self) -> None:
        events_log.append(("teardown", self.base_url))


events_log: list[tuple[str, str]] = []


@pytest.fixture(autouse=True)
def _clear_events_log():
    events_log.clear()


def test_resource_fields_come_from_keywords():
    api = Api(base_url="http://x")
    assert api.base_url == "http://x"
    assert Api().base_url == "http://localhost"
    with pytest.raises(TypeError):
        Api(unknown=1)


def test_resource_injected_by_parameter_name_same_instance_across_runs():
    api = Api(base_url="http://svc")
    seen = []

    @rs.Asset
    def fetch(api: Api) -> str:
        seen.append(api)
        return api.base_url

    repo = make_repo(fetch, resources={"api": api})
    repo.materialize()
    repo.materialize()
    assert seen == [api, api]
    assert seen[0] is api and seen[1] is api
    assert repo.load_node("fetch") == "http://svc"


def test_resource_setup_runs_once_at_resolve_not_at_validate():
    api = Api()

    @rs.Asset
    def fetch(api: Api) -> int:
        return 1

    repo = rs.CodeRepository(assets=[fetch], resources={"api": api})
    repo.validate()
    assert events_log == []
    repo.resolve(rs.Storage.memory())
    assert events_log == [("setup", "http://localhost")]
    repo.materialize()
    repo.materialize()
    repo.resolve(rs.Storage.memory())
    assert events_log == [("setup", "http://localhost")]


def test_resource_teardown_on_shutdown_and_context_exit():
    api = Api()

    @rs.Asset
    def fetch(api: Api) -> int:
        return 1

    with rs.CodeRepository(assets=[fetch], resources={"api": api}) as repo:
        repo.resolve(rs.Storage.memory())
        repo.materialize()
        assert events_log == [("setup", "http://localhost")]
    assert events_log == [("setup", "http://localhost"), ("teardown", "http://localhost")]


def test_shutdown_is_not_idempotent_and_repo_stays_usable():
    api = Api()

    @rs.Asset
    def fetch(api: Api) -> int:
        return 1

    repo = make_repo(fetch, resources={"api": api})
    repo.shutdown()
    repo.shutdown()
    assert events_log.count(("teardown", "http://localhost")) == 2
    assert repo.materialize().success
    assert events_log.count(("setup", "http://localhost")) == 1


def test_context_exit_does_not_swallow_exceptions():
    repo = rs.CodeRepository(assets=[])
    with pytest.raises(RuntimeError, match="inside"):
        with repo:
            raise RuntimeError("inside")
    assert repo.__exit__(None, None, None) is False


def test_teardown_errors_are_logged_not_raised(caplog):
    class Fragile(rs.Resource):
        def teardown(self) -> None:
            raise RuntimeError("teardown broke")

    repo = make_repo(resources={"fragile": Fragile()})
    with caplog.at_level(logging.ERROR):
        repo.shutdown()
    assert "teardown broke" in caplog.text or any("fragile" in r.getMessage() for r in caplog.records)


def test_pydantic_model_instance_and_class_are_injectable():
    class Settings(pydantic.BaseModel):
        n: int = 2

    instance = Settings(n=5)
    got = {}

    @rs.Asset
    def a(inst: Settings, klass) -> int:
        got["inst"], got["klass"] = inst, klass
        return inst.n

    repo = make_repo(a, resources={"inst": instance, "klass": Settings})
    repo.materialize()
    assert got["inst"] is instance
    assert got["klass"] is Settings


def test_dataclass_and_attrs_instances_are_accepted_resources():
    dc, at = DcCfg(top=1), AttrsCfg(top=2)

    @rs.Asset
    def a(dc, at) -> int:
        return dc.top + at.top

    repo = make_repo(a, resources={"dc": dc, "at": at})
    repo.materialize()
    assert repo.load_node("a") == 3


def test_io_handler_resource_is_injectable_and_usable_by_name():
    handler = Recorder()

    @rs.Asset(io_handler="files")
    def a() -> int:
        return 4

    repo = make_repo(a, resources={"files": handler})
    repo.materialize()
    assert handler.values == {"a": 4}
    assert repo.io_handler_for_output("a") is handler


@pytest.mark.parametrize("bad", [5, "text", object(), [1], int])
def test_bad_resource_values_are_rejected_at_construction(bad):
    with pytest.raises(ConfigurationError,
                       match="Expected a Pydantic BaseModel/BaseSettings subclass, Resource instance or "
                             "BaseIOHandler, got"):
        rs.CodeRepository(assets=[], resources={"bad": bad})


def test_resource_key_shadowing_an_asset_warns_and_the_asset_wins():
    @rs.Asset
    def api() -> str:
        return "asset value"

    @rs.Asset
    def reader(api) -> str:
        return api

    repo = rs.CodeRepository(assets=[api, reader], resources={"api": Api()})
    with pytest.warns(UserWarning, match="Resource key 'api' shadows an asset with the same name"):
        repo.resolve(rs.Storage.memory())
    repo.materialize()
    assert repo.load_node("reader") == "asset value"


def test_unknown_parameter_is_an_unresolved_input_graph_error():
    @rs.Asset
    def a(not_a_thing):
        return 1

    with pytest.raises(GraphValidationError, match="Asset 'a': unresolved input 'not_a_thing'"):
        rs.CodeRepository(assets=[a]).validate()


# =================================================================== hooks
def test_hook_factories_bare_and_named():
    @rs.Hook.success
    def on_ok(ctx):
        pass

    @rs.Hook.failure(name="pager")
    def on_fail(ctx):
        pass

    assert isinstance(on_ok, rs.Hook) and isinstance(on_ok, rs.Hook.Success)
    assert isinstance(on_fail, rs.Hook.Failure) and not isinstance(on_fail, rs.Hook.Success)
    assert on_ok.name == "on_ok"
    assert on_fail.name == "pager"
    assert repr(on_ok) == "Hook.Success(name='on_ok')"
    assert repr(on_fail) == "Hook.Failure(name='pager')"


def test_hook_base_is_not_instantiable():
    with pytest.raises(TypeError):
        rs.Hook()


def test_hook_already_bound_cannot_decorate_again():
    hook = rs.Hook.success(lambda ctx: None, name="h")
    with pytest.raises(AssetDefinitionError, match="already bound"):
        hook(lambda ctx: None)


def test_hook_with_wrong_arity_is_rejected():
    with pytest.raises(AssetDefinitionError):
        rs.Hook.success(lambda: None)
    with pytest.raises(AssetDefinitionError):
        rs.Hook.failure(lambda a, b: None)


def test_hook_with_a_non_callable_fails():
    with pytest.raises(AttributeError):
        rs.Hook.success(42)


def test_success_hook_runs_after_the_write_with_its_context():
    calls = []
    handler = Recorder()

    @rs.Hook.success
    def on_ok(ctx: rs.HookContext):
        calls.append((ctx.asset_name, ctx.run_id, ctx.hook_type, ctx.output, ctx.error, ctx.metadata,
                      list(handler.written_names)))

    @rs.Asset(hooks=[on_ok], io_handler=handler, metadata={"k": "v"})
    def a() -> int:
        return 41

    result = make_repo(a).materialize()
    assert calls == [("a", result.run_id, "success", 41, None, {"k": "v"}, ["a"])]


def test_failure_hook_receives_the_error():
    calls = []

    @rs.Hook.failure
    def on_fail(ctx):
        calls.append((ctx.asset_name, ctx.hook_type, ctx.error, ctx.output))

    @rs.Hook.success
    def on_ok(ctx):
        calls.append(("success should not run",))

    @rs.Asset(hooks=[on_ok, on_fail])
    def a():
        raise ValueError("boom")

    make_repo(a).materialize(raise_on_error=False)
    assert calls == [("a", "failure", "ValueError: boom", None)]


def test_hooks_run_in_list_order():
    order = []

    def make(i):
        return rs.Hook.success(lambda ctx: order.append(i), name=f"h{i}")

    @rs.Asset(hooks=[make(2), make(0), make(1)])
    def a():
        return 1

    make_repo(a).materialize()
    assert order == [2, 0, 1]


def test_raising_success_hook_does_not_fail_the_step():
    after = []

    @rs.Hook.success
    def broken(ctx):
        raise RuntimeError("hook broke")

    @rs.Hook.success
    def later(ctx):
        after.append(ctx.asset_name)

    @rs.Asset(hooks=[broken, later])
    def a():
        return 1

    @rs.Asset
    def b(a):
        return a + 1

    repo = make_repo(a, b)
    result = repo.materialize()
    assert result.success
    assert result.failed_assets == []
    assert after == ["a"]
    assert repo.load_node("b") == 2
    kinds = [e.event_type for e in repo.storage.get_events_for_run(result.run_id) if e.asset_key == "a"]
    assert kinds == ["StepStart", "Materialization", "StepSuccess"]


def test_raising_failure_hook_keeps_the_original_error():
    @rs.Hook.failure
    def broken(ctx):
        raise RuntimeError("hook broke")

    @rs.Asset(hooks=[broken])
    def a():
        raise KeyError("real")

    with pytest.raises(KeyError):
        make_repo(a).materialize()


def test_failure_hook_fires_once_after_the_final_retry():
    calls = []

    @rs.Hook.failure
    def on_fail(ctx):
        calls.append(ctx.error)

    @rs.Asset(hooks=[on_fail], retry=rs.RetryPolicy(2))
    def a():
        raise ValueError("always")

    make_repo(a).materialize(raise_on_error=False)
    assert calls == ["ValueError: always"]


def test_failure_hook_does_not_fire_when_a_retry_succeeds():
    calls = []
    attempts = []

    @rs.Hook.failure
    def on_fail(ctx):
        calls.append("failure")

    @rs.Hook.success
    def on_ok(ctx):
        calls.append("success")

    @rs.Asset(hooks=[on_fail, on_ok], retry=rs.RetryPolicy(1))
    def a():
        attempts.append(1)
        if len(attempts) == 1:
            raise ValueError("first")
        return 1

    assert make_repo(a).materialize().success
    assert calls == ["success"]


def test_skipped_step_does_not_fire_its_hooks():
    calls = []

    @rs.Hook.failure
    def on_fail(ctx):
        calls.append(ctx.asset_name)

    @rs.Asset
    def up():
        raise ValueError("x")

    @rs.Asset(hooks=[on_fail])
    def down(up):
        return up

    make_repo(up, down).materialize(raise_on_error=False)
    assert calls == []


def test_success_hook_gets_none_output_for_a_materialization_result():
    outputs = []

    @rs.Hook.success
    def on_ok(ctx):
        outputs.append((ctx.asset_name, ctx.output))

    @rs.Asset(hooks=[on_ok])
    def push():
        return rs.Materialization(metadata={"a": 1})

    make_repo(push).materialize()
    assert outputs == [("push", None)]


def test_success_hook_gets_the_unwrapped_output_value():
    outputs = []

    @rs.Hook.success
    def on_ok(ctx):
        outputs.append(ctx.output)

    @rs.Asset(hooks=[on_ok])
    def a():
        return rs.Output([1, 2], metadata={"n": 2})

    make_repo(a).materialize()
    assert outputs == [[1, 2]]


def test_success_hook_receives_the_step_config():
    got = []

    @rs.Hook.success
    def on_ok(ctx: rs.HookContext[PydCfg]):
        got.append(ctx.config)

    @rs.Asset(hooks=[on_ok])
    def a(context: rs.AssetExecutionContext[PydCfg]):
        return 1

    make_repo(a).materialize(config={"a": {"top": 7}})
    assert len(got) == 1
    assert isinstance(got[0], PydCfg) and got[0].top == 7


def test_failure_hook_receives_the_step_config():
    got = []

    @rs.Hook.failure
    def on_fail(ctx: rs.HookContext[PydCfg]):
        got.append(ctx.config)

    @rs.Asset(hooks=[on_fail])
    def b(context: rs.AssetExecutionContext[PydCfg]):
        raise ValueError("x")

    make_repo(b).materialize(config={"b": {"top": 8}}, raise_on_error=False)
    assert len(got) == 1
    assert isinstance(got[0], PydCfg) and got[0].top == 8


def test_hook_config_is_none_without_a_config_class():
    got = []

    @rs.Hook.success
    def on_ok(ctx):
        got.append(ctx.config)

    @rs.Asset(hooks=[on_ok])
    def a():
        return 1

    make_repo(a).materialize()
    assert got == [None]
