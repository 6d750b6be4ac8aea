"""Execution contexts, typed config, resources and hooks.

Spec: context.md §1, §2, §5; assets.md §4-§5; repository.md §5.
"""


import dataclasses
import json
import logging
import types
from typing import Any

import attrs
import pydantic
import pytest

import rivers as rs
from rivers.exceptions import (
    AssetDefinitionError,
    ConfigurationError,
    ExecutionError,
    GraphValidationError,
    PartitionValidationError,
)
from support import Recorder, make_repo


def materialization(repo: rs.CodeRepository, run_id: str, asset: str) -> Any:
    found = [e for e in repo.storage.get_events_for_run(run_id)
             if e.asset_key == asset and e.event_type == "Materialization"]
    assert len(found) == 1, found
    return found[0]


def meta(event: Any) -> dict[str, Any]:
    return {k: json.loads(v) for k, v in event.metadata}


# ============================================================ context objects
def test_asset_context_constructed_directly_has_defaults_and_repr():
    ctx = rs.AssetExecutionContext("a")
    assert ctx.asset_name == "a"
    assert ctx.tags is None
    assert ctx.kinds == []
    assert ctx.group is None
    assert ctx.code_version is None
    assert ctx.asset_metadata is None
    assert ctx.partition is None
    assert ctx.has_partition_key is False
    assert ctx.is_multi_asset is False
    assert ctx.output_selection == []
    assert ctx.config is None
    assert ctx.output_metadata is None
    assert ctx.partition_time_window is None
    assert ctx.run_id is None  # a hand-built context belongs to no run
    assert repr(ctx) == "AssetExecutionContext(asset_name='a')"


def test_asset_context_keeps_constructor_arguments():
    ctx = rs.AssetExecutionContext("a", tags=["t"], kinds=["table"], group="g", code_version="1",
                                   asset_metadata={"k": "v"}, is_multi_asset=True, output_selection=["x"],
                                   config={"c": 1})
    assert (ctx.tags, ctx.kinds, ctx.group, ctx.code_version, ctx.asset_metadata) == (
        ["t"], ["table"], "g", "1", {"k": "v"})
    assert ctx.is_multi_asset is True
    assert ctx.output_selection == ["x"]
    assert ctx.config == {"c": 1}


def test_partition_key_without_partition_raises_partition_validation_error():
    with pytest.raises(PartitionValidationError, match="No partition key available — asset is not partitioned"):
        _ = rs.AssetExecutionContext("a").partition_key
    with pytest.raises(PartitionValidationError, match="task is not partitioned"):
        _ = rs.TaskExecutionContext("t").partition_key


def test_context_subscript_returns_a_generic_alias():
    class Cfg(pydantic.BaseModel):
        x: int = 1

    for cls in (rs.AssetExecutionContext, rs.TaskExecutionContext, rs.HookContext):
        alias = cls[Cfg]
        assert isinstance(alias, types.GenericAlias)
        assert alias.__origin__ is cls
        assert alias.__args__ == (Cfg,)


def test_add_output_metadata_coerces_values():
    ctx = rs.AssetExecutionContext("t")
    ctx.add_output_metadata({"n": 3, "ok": True, "f": 1.5, "s": "x", "none": None,
                             "url": rs.MetadataValue.url("https://a.b")})
    assert ctx.output_metadata == {
        "n": rs.MetadataValue.int(3),
        "ok": rs.MetadataValue.bool_(True),
        "f": rs.MetadataValue.float_(1.5),
        "s": rs.MetadataValue.text("x"),
        "none": rs.MetadataValue.null(),
        "url": rs.MetadataValue.url("https://a.b"),
    }


def test_add_output_metadata_later_calls_overwrite_keys():
    ctx = rs.AssetExecutionContext("t")
    ctx.add_output_metadata({"a": 1, "b": 2})
    ctx.add_output_metadata({"b": 3})
    assert ctx.output_metadata == {"a": rs.MetadataValue.int(1), "b": rs.MetadataValue.int(3)}


def test_add_output_metadata_rejects_non_str_keys_and_uncoercible_values():
    ctx = rs.AssetExecutionContext("t")
    with pytest.raises(TypeError):
        ctx.add_output_metadata({1: "x"})
    with pytest.raises(TypeError, match="Cannot coerce"):
        ctx.add_output_metadata({"o": object()})


def test_output_metadata_is_none_when_empty():
    ctx = rs.AssetExecutionContext("t")
    ctx.add_output_metadata({})
    assert ctx.output_metadata is None


def test_register_and_drain_data_version():
    ctx = rs.AssetExecutionContext("t")
    assert ctx.drain_data_version() is None
    ctx.register_data_version("v1")
    ctx.register_data_version("v2")
    assert ctx.drain_data_version() == "v2"
    assert ctx.drain_data_version() is None


def test_mark_partition_failed_without_partition_raises():
    with pytest.raises(ExecutionError, match="not in this context's partition keys"):
        rs.AssetExecutionContext("t").mark_partition_failed("z", "boom")


def test_context_loggers_are_named_after_the_step():
    assert rs.AssetExecutionContext("a").log.name == "code-repo.assets.a"
    assert rs.TaskExecutionContext("g/t").log.name == "code-repo.tasks.g/t"
    assert isinstance(rs.AssetExecutionContext("a").log, logging.Logger)


def test_task_context_defaults_and_repr():
    ctx = rs.TaskExecutionContext("t")
    assert ctx.task_name == "t"
    assert ctx.tags is None
    assert ctx.partition is None
    assert ctx.has_partition_key is False
    assert ctx.config is None
    assert repr(ctx) == "TaskExecutionContext(task_name='t')"
    assert not hasattr(ctx, "add_output_metadata")
    assert not hasattr(ctx, "register_data_version")


def test_io_contexts_constructed_directly():
    out = rs.OutputContext("a", asset_metadata={"k": "v"}, type_hint=int)
    assert (out.asset_name, out.asset_metadata, out.partition, out.type_hint) == ("a", {"k": "v"}, None, int)
    assert out.output_metadata is None
    assert repr(out) == "OutputContext(asset_name='a')"
    inp = rs.InputContext("up", "down", asset_metadata={"k": "v"}, type_hint=list)
    assert (inp.asset_name, inp.downstream_asset, inp.asset_metadata, inp.partition, inp.type_hint) == (
        "up", "down", {"k": "v"}, None, list)
    assert repr(inp) == "InputContext(asset_name='up', downstream_asset='down')"


@pytest.mark.parametrize(
    ("ctx", "attribute"),
    [
        (rs.AssetExecutionContext("a"), "asset_name"),
        (rs.AssetExecutionContext("a"), "config"),
        (rs.AssetExecutionContext("a"), "output_selection"),
        (rs.AssetExecutionContext("a"), "output_metadata"),
        (rs.TaskExecutionContext("t"), "task_name"),
        (rs.TaskExecutionContext("t"), "partition"),
        (rs.OutputContext("a"), "asset_name"),
        (rs.OutputContext("a"), "type_hint"),
        (rs.InputContext("a", "b"), "downstream_asset"),
        (rs.InputContext("a", "b"), "asset_metadata"),
    ],
)
def test_context_attributes_are_read_only(ctx, attribute):
    before = getattr(ctx, attribute)
    with pytest.raises(AttributeError):
        setattr(ctx, attribute, "changed")
    assert getattr(ctx, attribute) == before


def test_hook_context_attributes_are_read_only():
    seen = []

    @rs.Hook.success
    def on_ok(ctx):
        try:
            ctx.asset_name = "other"
        except AttributeError:
            seen.append("read-only")

    @rs.Asset(hooks=[on_ok])
    def a():
        return 1

    make_repo(a).materialize()
    assert seen == ["read-only"]


def test_context_metadata_methods_still_mutate():
    ctx = rs.OutputContext("a")
    ctx.add_output_metadata({"n": 1})
    ctx.register_data_version("v")
    assert ctx.output_metadata == {"n": rs.MetadataValue.int(1)}
    assert ctx.drain_data_version() == "v"


def test_hook_context_is_not_constructible():
    with pytest.raises(TypeError):
        rs.HookContext()


# ========================================================= context injection
def test_context_injected_when_first_parameter_is_annotated():
    got = {}

    @rs.Asset(tags=["t"], kinds="table", group="g", code_version="7", metadata={"k": "v"})
    def a(ctx: rs.AssetExecutionContext) -> int:
        got["ctx"] = ctx
        return 1

    repo = make_repo(a)
    result = repo.materialize()
    ctx = got["ctx"]
    assert isinstance(ctx, rs.AssetExecutionContext)
    assert ctx.asset_name == "a"
    assert ctx.tags == ["t"]
    assert ctx.kinds == ["table"]
    assert ctx.group == "g"
    assert ctx.code_version == "7"
    assert ctx.asset_metadata == {"k": "v"}
    assert ctx.is_multi_asset is False
    assert ctx.output_selection == []
    assert ctx.partition is None
    assert ctx.config is None
    assert ctx.run_id == result.run_id


def test_subscripted_context_annotation_is_injected():
    class Cfg(pydantic.BaseModel):
        n: int = 1

    got = []

    @rs.Asset
    def a(c: rs.AssetExecutionContext[Cfg]):
        got.append(c)
        return 1

    make_repo(a).materialize()
    assert isinstance(got[0], rs.AssetExecutionContext)


def test_unannotated_first_parameter_named_context_gets_an_asset_context():
    got = []

    @rs.Asset
    def a(context):
        got.append(context)
        return 1

    make_repo(a).materialize()
    assert isinstance(got[0], rs.AssetExecutionContext)
    assert got[0].asset_name == "a"


def test_unannotated_context_receives_the_node_called_context_when_there_is_one():
    @rs.Asset
    def context():
        return "the asset value"

    @rs.Asset
    def reader(context):
        return context

    repo = make_repo(context, reader)
    repo.materialize()
    assert repo.load_node("reader") == "the asset value"


def test_annotated_context_wins_over_a_node_called_context():
    @rs.Asset
    def context():
        return "the asset value"

    got = []

    @rs.Asset
    def reader(context: rs.AssetExecutionContext):
        got.append(context)
        return 1

    repo = make_repo(context, reader)
    result = repo.materialize()
    assert isinstance(got[0], rs.AssetExecutionContext)
    # no edge was inferred from the context parameter
    assert result.materialized_assets.index("reader") >= 0


def test_task_context_annotation_on_an_asset_yields_a_task_context():
    got = []

    @rs.Asset
    def a(ctx: rs.TaskExecutionContext):
        got.append(ctx)
        return 1

    make_repo(a).materialize()
    assert isinstance(got[0], rs.TaskExecutionContext)
    assert got[0].task_name == "a"


def test_context_parameter_is_not_a_dependency():
    @rs.Asset
    def a(context: rs.AssetExecutionContext):
        return 1

    rs.CodeRepository(assets=[a]).validate()


def test_misplaced_context_fails_at_execution_not_validation():
    @rs.Asset
    def up():
        return 1

    @rs.Asset
    def a(up: int, ctx: rs.AssetExecutionContext):
        return up

    repo = rs.CodeRepository(assets=[up, a])
    repo.validate()  # not a validation error
    repo.resolve(rs.Storage.memory())
    with pytest.raises(ExecutionError, match="Context must be the first parameter of 'a'"):
        repo.materialize()
    result = repo.materialize(raise_on_error=False)
    assert result.failed_assets == [("a", "ExecutionError: Context must be the first parameter of 'a'")]


def test_misplaced_subscripted_context_is_also_rejected():
    class Cfg(pydantic.BaseModel):
        x: int = 1

    @rs.Asset
    def up():
        return 1

    @rs.Asset
    def a(up: int, ctx: rs.AssetExecutionContext[Cfg]):
        return up

    with pytest.raises(ExecutionError, match="Context must be the first parameter of 'a'"):
        make_repo(up, a).materialize()


def test_context_log_records_are_kept_with_the_run():
    @rs.Asset
    def a(context: rs.AssetExecutionContext):
        context.log.info("hello from a")
        return 1

    repo = make_repo(a)
    result = repo.materialize()
    logs = repo.storage.get_run_logs(result.run_id)
    texts = [(log.step_key, log.logs or "") for log in logs]
    assert any(step == "a" and "hello from a" in text for step, text in texts), texts


def test_context_metadata_and_data_version_reach_the_event():
    @rs.Asset
    def scores(context: rs.AssetExecutionContext) -> dict:
        context.add_output_metadata({"rows": 2, "source": rs.MetadataValue.url("https://example.org")})
        context.register_data_version("scores-v1")
        return {"a": 1}

    repo = make_repo(scores)
    event = materialization(repo, repo.materialize().run_id, "scores")
    assert event.data_version == "scores-v1"
    m = meta(event)
    assert m["rows"] == {"Int": {"value": 2}}
    assert m["source"] == {"Url": {"value": "https://example.org/"}}


# ====================================== metadata and data-version precedence (§4)
class VersioningHandler(Recorder):
    """Registers a data version and metadata from handle_output."""

    def __init__(self, version: str | None) -> None:
        super().__init__()
        self.version = version
        self.seen_metadata: Any = None

    def handle_output(self, context, obj):
        super().handle_output(context, obj)
        self.seen_metadata = dict(context.output_metadata or {})
        context.add_output_metadata({"handler": "yes", "shared": "handler"})
        if self.version is not None:
            context.register_data_version(self.version)


def test_metadata_merge_order_context_then_wrapper_then_handler():
    handler = VersioningHandler(None)

    @rs.Asset(io_handler=handler)
    def a(context: rs.AssetExecutionContext):
        context.add_output_metadata({"ctx_only": 1, "shared": "ctx", "both": "ctx"})
        return rs.Output(1, metadata={"wrapper_only": 2, "both": "wrapper"})

    repo = make_repo(a)
    event = materialization(repo, repo.materialize().run_id, "a")
    keys = [k for k, _ in event.metadata]
    assert keys == ["ctx_only", "shared", "both", "wrapper_only", "handler"]
    m = meta(event)
    assert m["both"] == {"Text": {"value": "wrapper"}}  # wrapper wins over context
    assert m["shared"] == {"Text": {"value": "handler"}}  # handler metadata is added last
    # the handler sees the step's metadata pre-filled on the OutputContext
    assert handler.seen_metadata["both"] == rs.MetadataValue.text("wrapper")
    assert handler.seen_metadata["ctx_only"] == rs.MetadataValue.int(1)


def test_in_memory_handler_appends_its_metadata():
    @rs.Asset
    def a():
        return [1, 2]

    repo = make_repo(a)
    m = meta(materialization(repo, repo.materialize().run_id, "a"))
    assert m["storage"] == {"Text": {"value": "memory"}}
    assert "Int" in m["size_bytes"]


def test_handler_registered_data_version_wins_over_everything():
    @rs.Asset(io_handler=VersioningHandler("handler-v"))
    def a(context: rs.AssetExecutionContext):
        context.register_data_version("ctx-v")
        context.add_output_metadata({"dv": rs.MetadataValue.data_version("meta-v")})
        return rs.Output(1, data_version="wrapper-v")

    repo = make_repo(a)
    assert materialization(repo, repo.materialize().run_id, "a").data_version == "handler-v"


def test_wrapper_data_version_beats_context_and_metadata():
    @rs.Asset(io_handler=VersioningHandler(None))
    def a(context: rs.AssetExecutionContext):
        context.register_data_version("ctx-v")
        context.add_output_metadata({"dv": rs.MetadataValue.data_version("meta-v")})
        return rs.Output(1, data_version="wrapper-v")

    repo = make_repo(a)
    assert materialization(repo, repo.materialize().run_id, "a").data_version == "wrapper-v"


def test_context_data_version_beats_metadata_data_version():
    @rs.Asset
    def a(context: rs.AssetExecutionContext):
        context.register_data_version("ctx-v")
        context.add_output_metadata({"dv": rs.MetadataValue.data_version("meta-v")})
        return 1

    repo = make_repo(a)
    assert materialization(repo, repo.materialize().run_id, "a").data_version == "ctx-v"


def test_metadata_data_version_is_used_and_removed_from_metadata():
    @rs.Asset
    def a(context: rs.AssetExecutionContext):
        context.add_output_metadata({"dv": rs.MetadataValue.data_version("meta-v"), "rows": 1})
        return 1

    repo = make_repo(a)
    event = materialization(repo, repo.materialize().run_id, "a")
    assert event.data_version == "meta-v"
    assert "dv" not in dict(event.metadata)
    assert "rows" in dict(event.metadata)


def test_wrapper_metadata_data_version_entry_is_used():
    @rs.Asset
    def a():
        return rs.Output(1, metadata={"dv": rs.MetadataValue.data_version("from-output-meta")})

    repo = make_repo(a)
    assert materialization(repo, repo.materialize().run_id, "a").data_version == "from-output-meta"


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


# ========================================== string annotations (PEP 563)
FUTURE_SOURCE = '''
from __future__ import annotations

import pydantic
import rivers as rs


def build_local():
    class LocalCfg(pydantic.BaseModel):
        top: int = 2

    @rs.Asset
    def ranked(ctx: rs.AssetExecutionContext[LocalCfg]) -> list:
        return list(range(ctx.config.top))

    return ranked


def build_local_context_import():
    from rivers import AssetExecutionContext as Ctx

    @rs.Asset
    def named(c: Ctx) -> str:
        return c.asset_name

    return named


@rs.Asset
def late(context: rs.AssetExecutionContext[LateCfg]) -> int:
    return context.config.n


class LateCfg(pydantic.BaseModel):
    n: int = 5


@rs.Asset
def missing(context: rs.AssetExecutionContext[NeverDefined]) -> int:
    return 1


def build_self():
    class Box:
        pass

    @rs.Asset
    def counter(self: rs.SelfDependency[Box]) -> int:
        return (self.get_inner() or 0) + 1

    return counter
'''


@pytest.fixture
def future_module():
    import sys

    module = types.ModuleType("rivers_future_annotations_case")
    sys.modules[module.__name__] = module
    try:
        exec(compile(FUTURE_SOURCE, module.__name__, "exec"), module.__dict__)
        yield module
    finally:
        del sys.modules[module.__name__]


def test_string_annotation_with_a_local_config_class(future_module):
    repo = make_repo(future_module.build_local())
    repo.materialize(config={"ranked": {"top": 3}})
    assert repo.load_node("ranked") == [0, 1, 2]


def test_string_annotation_with_a_locally_imported_context(future_module):
    repo = make_repo(future_module.build_local_context_import())
    repo.materialize()
    assert repo.load_node("named") == "named"


def test_string_annotation_config_class_defined_after_the_asset(future_module):
    repo = make_repo(future_module.late)
    repo.materialize(config={"late": {"n": 8}})
    assert repo.load_node("late") == 8


def test_string_annotation_config_class_that_never_resolves(future_module):
    repo = make_repo(future_module.missing)
    with pytest.raises(ConfigurationError, match="NeverDefined"):
        repo.materialize()


def test_string_annotation_self_dependency_with_a_local_type(future_module):
    repo = make_repo(future_module.build_self())
    repo.materialize()
    repo.materialize()
    assert repo.load_node("counter") == 2
