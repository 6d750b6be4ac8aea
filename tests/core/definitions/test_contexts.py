"""Execution contexts: the context objects, their injection, metadata and data-version precedence, string annotations."""

from __future__ import annotations

import logging
import types
from typing import Any
import pydantic
import pytest
import rivers as rs
from rivers.exceptions import ConfigurationError, ExecutionError, PartitionValidationError
from support import Recorder, make_repo
from contexts_support import materialization, meta


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
