"""The ``Asset`` decorator, its options, ``AssetDef``/``DepDef``, ``SelfDependency`` and result wrappers.

Spec: assets.md §1-§7, io.md §6, context.md §6 (metadata coercion).
"""


import json
import sys
import types
import typing
import uuid
from typing import Any, Optional

import pytest

import rivers as rs
from rivers.exceptions import (
    AssetDefinitionError,
    AssetOutputValidationError,
    ExecutionError,
    GraphValidationError,
)
from support import Recorder, make_repo


# --------------------------------------------------------------------- helpers
def events(repo: rs.CodeRepository, run_id: str, asset: str | None = None) -> list[Any]:
    return [e for e in repo.storage.get_events_for_run(run_id) if asset is None or e.asset_key == asset]


def materialization(repo: rs.CodeRepository, run_id: str, asset: str) -> Any:
    found = [e for e in events(repo, run_id, asset) if e.event_type == "Materialization"]
    assert len(found) == 1, found
    return found[0]


def meta(event: Any) -> dict[str, Any]:
    return {k: json.loads(v) for k, v in event.metadata}


# ============================================================ decorator forms
def test_bare_decorator_gives_single_asset_named_after_function():
    @rs.Asset
    def orders():
        return 1

    assert isinstance(orders, rs.SingleAsset)
    assert isinstance(orders, rs.Asset)
    assert orders.name == "orders"
    # upstream's own tests read `_name` back as the function name once bound
    assert orders._name == "orders"


def test_private_name_is_none_only_for_an_unnamed_unbound_asset():
    assert rs.Asset(group="g")._name is None
    assert rs.Asset(name="x")._name == "x"

    @rs.Asset.from_multi(output_defs=[rs.AssetDef("a")], name="my_multi")
    def foo():
        return {"a": 1}

    assert foo._name == "my_multi"


def test_decorator_with_options_configures_the_asset():
    @rs.Asset(name="custom", tags=["etl"], kinds="table", group="pipeline", code_version="3")
    def fn():
        return 1

    assert isinstance(fn, rs.SingleAsset)
    assert fn.name == "custom"
    assert fn._name == "custom"
    assert fn.tags == ["etl"]
    assert fn.kinds == ["table"]
    assert fn.group == "pipeline"
    assert fn.code_version == "3"


def test_wrapper_form_takes_the_function_as_first_positional_argument():
    def raw():
        return 1

    asset = rs.Asset(raw, name="x", group="g")
    assert isinstance(asset, rs.SingleAsset)
    assert asset.name == "x"
    assert asset.group == "g"
    assert asset._asset_fn is raw


def test_unbound_asset_binds_a_function_and_returns_the_same_object():
    deco = rs.Asset(group="g")

    def first():
        return 1

    bound = deco(first)
    assert bound is deco
    assert bound.name == "first"
    assert bound._name == "first"
    assert bound._asset_fn is first


def test_reusing_a_configured_decorator_copies_on_bind():
    deco = rs.Asset(group="g", tags=["t"])

    @deco
    def first():
        return 1

    @deco
    def second():
        return 2

    assert first is not second
    assert first.name == "first"
    assert second.name == "second"
    assert (first._name, second._name) == ("first", "second")
    assert first._asset_fn() == 1
    assert second._asset_fn() == 2
    assert second.group == "g" and second.tags == ["t"]


def test_unknown_keyword_is_a_type_error():
    with pytest.raises(TypeError):
        rs.Asset(nonsense=1)


def test_options_are_keyword_only():
    def fn():
        return 1

    with pytest.raises(TypeError):
        rs.Asset(fn, "name")


def test_non_callable_wraps_is_rejected():
    with pytest.raises(AssetDefinitionError, match="Non callable function provided as input"):
        rs.Asset(42)


def test_name_of_an_unnamed_unbound_asset_is_an_error():
    with pytest.raises(AssetDefinitionError, match="Asset has no name"):
        _ = rs.Asset(group="g").name


def test_unbound_asset_with_explicit_name_has_a_name():
    assert rs.Asset(name="later").name == "later"


def test_asset_fn_is_a_property_returning_the_wrapped_function():
    def add(x, y):
        return x + y

    asset = rs.Asset(add)
    assert asset._asset_fn is add
    assert asset._asset_fn(2, 3) == 5


def test_asset_fn_of_unbound_asset_raises():
    with pytest.raises(AssetDefinitionError):
        _ = rs.Asset(name="x")._asset_fn


def test_calling_a_bound_asset_with_values_outside_a_graph_raises():
    @rs.Asset
    def up():
        return 1

    with pytest.raises(AssetDefinitionError):
        up(1)
    with pytest.raises(AssetDefinitionError):
        up()


def test_assets_use_identity_equality_and_the_default_repr():
    def fn():
        return 1

    one = rs.Asset(fn)
    two = rs.Asset(fn)
    assert one == one
    assert one != two
    assert repr(one).startswith("<rivers.")
    assert "object at 0x" in repr(one)
    assert len({one, two}) == 2


def test_kind_flags_of_a_single_asset():
    @rs.Asset
    def a():
        return 1

    assert (a.is_single, a.is_multi, a.is_graph, a.is_external) == (True, False, False, False)
    assert a.observe_fn is None


def test_empty_name_is_rejected():
    with pytest.raises(AssetDefinitionError):
        rs.Asset(name="")


# ======================================================= options and properties
def test_defaults_of_every_property():
    @rs.Asset
    def a():
        return 1

    assert a.tags is None
    assert a.kinds == []
    assert a.group is None
    assert a.code_version is None
    assert a.metadata is None
    assert a.partitions_def is None
    assert a.partition_mapping is None
    assert a.hooks is None
    assert a.automation_condition is None
    assert a.pool == []
    assert a.io_handler is None
    assert a.is_async is False
    assert a.backfill_strategy is None


@pytest.mark.parametrize(
    ("kinds", "expected"),
    [(None, []), ("table", ["table"]), (["table", "delta"], ["table", "delta"]), (("a",), ["a"])],
)
def test_kinds_is_always_a_list(kinds, expected):
    asset = rs.Asset(lambda: 1, name="k", kinds=kinds)
    assert asset.kinds == expected
    assert isinstance(asset.kinds, list)


def test_kinds_property_is_not_shared_mutable_state():
    asset = rs.Asset(lambda: 1, name="k", kinds=["table"])
    asset.kinds.append("other")
    assert asset.kinds == ["table"]


def test_tags_are_a_list_of_str():
    asset = rs.Asset(lambda: 1, name="t", tags=["a", "b"])
    assert asset.tags == ["a", "b"]


def test_tags_given_as_a_string_are_rejected():
    # implementation choice: asset tags are list[str]; a bare str is a likely mistake
    with pytest.raises(TypeError, match="tags"):
        rs.Asset(lambda: 1, name="t", tags="etl")


def test_static_metadata_is_kept():
    asset = rs.Asset(lambda: 1, name="m", metadata={"path": "s3://b/t", "rivers/executor": "in_process"})
    assert asset.metadata == {"path": "s3://b/t", "rivers/executor": "in_process"}


@pytest.mark.parametrize("bad", [{"n": 1}, {"flag": True}, {"x": None}, {"f": 1.5}])
def test_non_str_static_metadata_value_is_a_type_error(bad):
    with pytest.raises(TypeError):
        rs.Asset(lambda: 1, name="m", metadata=bad)


def test_non_str_static_metadata_key_is_a_type_error():
    with pytest.raises(TypeError):
        rs.Asset(lambda: 1, name="m", metadata={1: "x"})


def test_partitions_def_may_be_a_registry_name():
    asset = rs.Asset(lambda: 1, name="p", partitions_def="daily")
    assert asset.partitions_def == "daily"


@pytest.mark.parametrize("bad", [123, 1.5, ["a"], {"a": 1}])
def test_partitions_def_of_another_type_is_a_value_error(bad):
    with pytest.raises(ValueError, match="PartitionsDefinition or a str"):
        rs.Asset(lambda: 1, name="p", partitions_def=bad)


def test_retry_accepts_a_policy_or_a_name():
    policy = rs.RetryPolicy(2)
    assert rs.Asset(lambda: 1, name="r", retry=policy).retry is policy
    assert rs.Asset(lambda: 1, name="r2", retry="fast").retry == "fast"


@pytest.mark.parametrize("bad", [3, 1.0, ["x"]])
def test_retry_of_another_type_is_a_value_error(bad):
    with pytest.raises(ValueError, match="retry must be a RetryPolicy or a str naming a registered policy"):
        rs.Asset(lambda: 1, name="r", retry=bad)


def test_automation_condition_backfill_strategy_and_compute_are_kept():
    condition, strategy, compute = object(), object(), rs.Compute(cpu="1")  # compute= is validated (test_compute)
    asset = rs.Asset(lambda: 1, name="x", automation_condition=condition, backfill_strategy=strategy,
                     compute=compute)
    assert asset.automation_condition is condition
    assert asset.backfill_strategy is strategy
    assert asset.compute is compute


def test_io_handler_instance_is_readable():
    handler = Recorder()
    asset = rs.Asset(lambda: 1, name="h", io_handler=handler)
    assert asset.io_handler is handler


def test_io_handler_string_reference_reads_back_as_none():
    asset = rs.Asset(lambda: 1, name="h", io_handler="files")
    assert asset.io_handler is None


class DuckHandler:
    def handle_output(self, context, obj):
        pass

    def load_input(self, context):
        return None


@pytest.mark.parametrize("bad", [DuckHandler(), 42, Recorder, object()])
def test_io_handler_not_a_base_io_handler_instance_is_rejected(bad):
    with pytest.raises(
        AssetDefinitionError,
        match="io_handler must be a BaseIOHandler subclass instance or a string resource reference",
    ):
        rs.Asset(lambda: 1, name="h", io_handler=bad)


def test_hooks_are_kept_in_order():
    first = rs.Hook.success(lambda ctx: None, name="first")
    second = rs.Hook.failure(lambda ctx: None, name="second")
    asset = rs.Asset(lambda: 1, name="h", hooks=[first, second])
    assert asset.hooks == [first, second]


def test_hooks_must_be_hook_objects():
    with pytest.raises(AssetDefinitionError):
        rs.Asset(lambda: 1, name="h", hooks=[lambda ctx: None])


def test_hooks_must_be_bound():
    with pytest.raises(AssetDefinitionError):
        rs.Asset(lambda: 1, name="h", hooks=[rs.Hook.success(name="unbound")])


def test_is_async_for_coroutine_functions_and_async_generators():
    async def coro():
        return 1

    async def agen():
        yield 1

    def sync():
        return 1

    assert rs.Asset(coro).is_async is True
    assert rs.Asset(agen).is_async is True
    assert rs.Asset(sync).is_async is False


# ------------------------------------------------------------------- pools
def test_pool_string_normalises_to_one_slot():
    assert rs.Asset(lambda: 1, name="p", pool="db").pool == [("db", 1)]


def test_pool_list_with_int_slots_applies_to_every_pool():
    assert rs.Asset(lambda: 1, name="p", pool=["a", "b"], pool_slots=2).pool == [("a", 2), ("b", 2)]


def test_pool_slots_dict_defaults_missing_pools_to_one():
    assert rs.Asset(lambda: 1, name="p", pool=["a", "b"], pool_slots={"a": 3}).pool == [("a", 3), ("b", 1)]


def test_pool_slots_zero_is_accepted():
    assert rs.Asset(lambda: 1, name="p", pool="a", pool_slots=0).pool == [("a", 0)]


def test_pool_slots_without_pool_is_ignored():
    assert rs.Asset(lambda: 1, name="p", pool_slots=4).pool == []


def test_pool_slots_key_not_in_pool_list():
    with pytest.raises(AssetDefinitionError, match=r"pool_slots key 'b' not in pool list \[\"a\"\]"):
        rs.Asset(lambda: 1, name="p", pool=["a"], pool_slots={"b": 1})


@pytest.mark.parametrize("bad", [-1, "2", 1.5, {"a": -1}, {"a": "x"}])
def test_bad_pool_slots(bad):
    with pytest.raises(AssetDefinitionError, match=r"pool_slots must be an int or dict\[str, int\]"):
        rs.Asset(lambda: 1, name="p", pool=["a"], pool_slots=bad)


@pytest.mark.parametrize("bad", [1, ["a", 2], {"a": 1}])
def test_pool_of_a_wrong_type(bad):
    with pytest.raises(AssetDefinitionError, match="pool must be a string or list of strings"):
        rs.Asset(lambda: 1, name="p", pool=bad)


@pytest.mark.parametrize("bad", ["", ["a", ""]])
def test_empty_pool_name(bad):
    with pytest.raises(AssetDefinitionError):
        rs.Asset(lambda: 1, name="p", pool=bad)


def test_pool_slots_read_back_normalised():
    asset = rs.Asset(lambda: 1, name="p", pool="heavy", pool_slots=2, deps=[rs.AssetDef.dep("upstream")])
    assert asset.pool == [("heavy", 2)]
    assert asset.pool_slots == {"heavy": 2}
    assert [d.name for d in asset.deps] == ["upstream"]
    assert rs.Asset(lambda: 1, name="q", pool=["a", "b"], pool_slots={"a": 3}).pool_slots == {"a": 3, "b": 1}
    assert rs.Asset(lambda: 1, name="r").pool_slots is None


def test_pool_property_is_a_copy():
    asset = rs.Asset(lambda: 1, name="p", pool="db")
    asset.pool.append(("other", 1))
    assert asset.pool == [("db", 1)]


# ------------------------------------------------------ deps and partition_mapping
def test_deps_property_lists_declared_dependencies():
    inp, dep = rs.AssetDef.input("up"), rs.AssetDef.dep("trigger")

    @rs.Asset(deps=[inp, dep])
    def down(up: int):
        return up

    assert down.deps == [inp, dep]


def test_partition_mapping_is_none_when_no_dep_carries_one():
    @rs.Asset(deps=[rs.AssetDef.input("up"), rs.AssetDef.dep("trigger")])
    def down(up: int):
        return up

    assert down.partition_mapping is None


def test_partition_mapping_is_built_from_deps_that_carry_one():
    m1, m2 = object(), object()

    @rs.Asset(deps=[rs.AssetDef.input("up", partition_mapping=m1), rs.AssetDef.dep("trigger", partition_mapping=m2),
                    rs.AssetDef.input("other")])
    def down(up: int, other: int):
        return up

    assert down.partition_mapping == {"up": m1, "trigger": m2}


def test_deps_must_be_depdefs():
    with pytest.raises(AssetDefinitionError):
        rs.Asset(lambda: 1, name="x", deps=["up"])


# ================================================================== AssetDef
def test_asset_def_requires_a_name():
    with pytest.raises(TypeError):
        rs.AssetDef()


def test_asset_def_name_is_positional_and_defaults():
    out = rs.AssetDef("out")
    assert out.name == "out"
    assert out.tags is None
    assert out.kinds == []
    assert out.group is None
    assert out.code_version is None
    assert out.metadata is None
    assert out.partitions_def is None
    assert out.partition_mapping is None
    assert out.pool == []
    assert out.deps == []


def test_asset_def_normalises_kinds_and_pool():
    out = rs.AssetDef("out", kinds="table", pool=["a", "b"], pool_slots={"b": 2})
    assert out.kinds == ["table"]
    assert out.pool == [("a", 1), ("b", 2)]


def test_asset_def_writable_attributes():
    out = rs.AssetDef("out")
    out.tags = ["x"]
    out.group = "g"
    out.code_version = "2"
    out.metadata = {"k": "v"}
    out.kinds = ["table"]
    assert (out.tags, out.group, out.code_version, out.metadata, out.kinds) == (["x"], "g", "2", {"k": "v"},
                                                                               ["table"])


def test_asset_def_pool_and_deps_are_read_only():
    out = rs.AssetDef("out", pool="a")
    with pytest.raises(AttributeError):
        out.pool = [("b", 1)]
    with pytest.raises(AttributeError):
        out.deps = []


@pytest.mark.parametrize("option", ["retry", "compute"])
def test_asset_def_has_no_retry_or_compute(option):
    with pytest.raises(TypeError):
        rs.AssetDef("out", **{option: None})


def test_asset_def_rejects_non_str_metadata():
    with pytest.raises(TypeError):
        rs.AssetDef("out", metadata={"n": 1})


def test_asset_def_rejects_a_bad_io_handler():
    with pytest.raises(AssetDefinitionError):
        rs.AssetDef("out", io_handler=DuckHandler())


def test_asset_def_rejects_a_bad_pool():
    with pytest.raises(AssetDefinitionError, match="pool_slots key 'b' not in pool list"):
        rs.AssetDef("out", pool="a", pool_slots={"b": 1})


def test_asset_def_equality_compares_its_fields():
    handler = Recorder()
    assert rs.AssetDef("a", tags=["t"], kinds="k", group="g", code_version="1", metadata={"x": "y"},
                       io_handler=handler) == rs.AssetDef("a", tags=["t"], kinds=["k"], group="g", code_version="1",
                                                          metadata={"x": "y"}, io_handler=handler)
    assert rs.AssetDef("a") != rs.AssetDef("b")
    assert rs.AssetDef("a", group="g") != rs.AssetDef("a", group="h")
    assert rs.AssetDef("a", tags=["t"]) != rs.AssetDef("a")
    assert rs.AssetDef("a", metadata={"x": "1"}) != rs.AssetDef("a", metadata={"x": "2"})
    assert rs.AssetDef("a", pool="p") != rs.AssetDef("a")
    assert rs.AssetDef("a", io_handler=Recorder()) != rs.AssetDef("a", io_handler=Recorder())


def test_asset_def_is_hashable():
    assert len({rs.AssetDef("a"), rs.AssetDef("a"), rs.AssetDef("b")}) == 2


# =================================================================== DepDef
def test_input_dep_attributes_and_repr():
    dep = rs.AssetDef.input("source", metadata={"columns": "a,b"})
    assert isinstance(dep, rs.DepDef)
    assert dep.name == "source"
    assert dep.is_input is True
    assert dep.partition_mapping is None
    assert dep.metadata == {"columns": "a,b"}
    assert repr(dep) == "DepDef.input('source')"


def test_lineage_dep_attributes_and_repr():
    mapping = object()
    dep = rs.AssetDef.dep("trigger", partition_mapping=mapping)
    assert dep.name == "trigger"
    assert dep.is_input is False
    assert dep.partition_mapping is mapping
    assert dep.metadata is None
    assert repr(dep) == "DepDef.dep('trigger')"


def test_lineage_dep_takes_no_io_handler_or_metadata():
    with pytest.raises(TypeError):
        rs.AssetDef.dep("x", io_handler=Recorder())
    with pytest.raises(TypeError):
        rs.AssetDef.dep("x", metadata={"a": "b"})


@pytest.mark.parametrize("factory", [rs.AssetDef.input, rs.AssetDef.dep])
def test_dep_name_must_be_a_str(factory):
    with pytest.raises(TypeError):
        factory(1)


def test_input_dep_metadata_values_must_be_str():
    with pytest.raises(TypeError):
        rs.AssetDef.input("x", metadata={"n": 1})


def test_input_dep_io_handler_must_be_a_handler():
    with pytest.raises(AssetDefinitionError):
        rs.AssetDef.input("x", io_handler=DuckHandler())


# ------------------------------------------------ AssetDef.input validation
def test_input_dep_matching_an_annotated_parameter_is_accepted():
    @rs.Asset(deps=[rs.AssetDef.input("up")])
    def down(up: int):
        return up

    assert down.name == "down"


def test_input_dep_without_matching_parameter_is_a_value_error():
    with pytest.raises(ValueError) as info:
        @rs.Asset(deps=[rs.AssetDef.input("missing")])
        def down(up: int, other: str):
            return up

    message = str(info.value)
    assert "AssetDef.input('missing') does not match any parameter on the function. Available parameters: [" in message
    assert "'up'" in message and "'other'" in message


def test_input_dep_matching_an_unannotated_parameter_is_a_value_error():
    with pytest.raises(ValueError, match=r"AssetDef.input\('up'\) does not match any parameter"):
        @rs.Asset(deps=[rs.AssetDef.input("up")])
        def down(up):
            return up


def test_input_dep_named_self_is_rejected():
    with pytest.raises(ValueError, match="does not match any parameter"):
        @rs.Asset(deps=[rs.AssetDef.input("self")])
        def down(self: rs.SelfDependency[int]):
            return 1


def test_input_dep_cannot_name_the_return_annotation():
    with pytest.raises(ValueError, match="does not match any parameter"):
        @rs.Asset(deps=[rs.AssetDef.input("return")])
        def down() -> int:
            return 1


def test_input_dep_is_checked_when_the_function_is_bound():
    deco = rs.Asset(deps=[rs.AssetDef.input("up")])  # nothing bound yet: no error

    def down(x: int):
        return x

    with pytest.raises(ValueError):
        deco(down)


def test_lineage_dep_need_not_match_a_parameter():
    @rs.Asset(deps=[rs.AssetDef.dep("anything")])
    def down():
        return 1

    assert down.deps[0].name == "anything"


# ============================================================ SelfDependency
def test_self_dependency_constructed_directly_holds_none():
    assert rs.SelfDependency().get_inner() is None


def test_self_dependency_is_generic():
    alias = rs.SelfDependency[list]
    assert typing.get_origin(alias) is rs.SelfDependency
    assert typing.get_args(alias) == (list,)


def test_self_dependency_first_run_gets_none_then_previous_value():
    seen = []

    @rs.Asset
    def incremental(self: rs.SelfDependency[list]) -> list:
        prev = self.get_inner()
        seen.append(prev)
        return [1] if prev is None else prev + [len(prev) + 1]

    repo = make_repo(incremental)
    repo.materialize()
    repo.materialize()
    repo.materialize()
    assert seen == [None, [1], [1, 2]]
    assert repo.load_node("incremental") == [1, 2, 3]


def test_self_dependency_creates_no_graph_edge():
    @rs.Asset
    def me(self: rs.SelfDependency[int]) -> int:
        return (self.get_inner() or 0) + 1

    repo = rs.CodeRepository(assets=[me])
    repo.validate()  # no cycle, no unresolved input
    repo.resolve(rs.Storage.memory())
    assert repo.materialize().materialized_assets == ["me"]


def test_self_dependency_uses_the_asset_handler_with_self_context():
    handler = Recorder()

    @rs.Asset(io_handler=handler, metadata={"k": "v"})
    def me(self: rs.SelfDependency[dict]) -> dict:
        return {"n": ((self.get_inner() or {}).get("n", 0)) + 1}

    repo = make_repo(me)
    repo.materialize()
    repo.materialize()
    assert handler.values["me"] == {"n": 2}
    ctx = handler.loads[-1]
    assert ctx.asset_name == "me"
    assert ctx.downstream_asset == "me"
    assert ctx.type_hint is dict
    assert ctx.asset_metadata == {"k": "v"}


def test_self_dependency_load_errors_become_none():
    class Broken(Recorder):
        def load_input(self, context):
            raise RuntimeError("cannot load")

    got = []

    @rs.Asset(io_handler=Broken())
    def me(self: rs.SelfDependency[int]) -> int:
        got.append(self.get_inner())
        return 1

    repo = make_repo(me)
    assert repo.materialize().success
    assert repo.materialize().success
    assert got == [None, None]


def test_self_dependency_alongside_upstream_and_context():
    @rs.Asset
    def up() -> int:
        return 10

    @rs.Asset
    def acc(context: rs.AssetExecutionContext, up: int, self: rs.SelfDependency[int]) -> int:
        assert context.asset_name == "acc"
        return (self.get_inner() or 0) + up

    repo = make_repo(up, acc)
    repo.materialize()
    repo.materialize()
    assert repo.load_node("acc") == 20


# ============================================================ result wrappers
def test_output_repr_with_value_metadata_and_version():
    assert repr(rs.Output(1, metadata={"a": 1}, data_version="v")) == (
        "Output(has_value=true, has_metadata=true, data_version='v')"
    )


def test_output_repr_empty():
    assert repr(rs.Output()) == "Output(has_value=false, has_metadata=false)"


def test_output_repr_shows_output_name_when_set():
    r = repr(rs.Output(value=42, output_name="out", data_version="v1", metadata={"k": "v"}))
    assert r == "Output(output_name='out', has_value=true, has_metadata=true, data_version='v1')"


def test_output_repr_metadata_flag_for_empty_dict():
    assert repr(rs.Output(1, metadata={})) == "Output(has_value=true, has_metadata=false)"


def test_observation_repr():
    assert repr(rs.Observation()) == "Observation()"
    assert repr(rs.Observation(output_name="x")) == "Observation(output_name='x')"


def test_materialization_repr():
    assert repr(rs.Materialization(output_name="o", metadata={"a": 1})) == (
        "Materialization(output_name='o', has_metadata=true)"
    )
    assert repr(rs.Materialization()) == "Materialization()"
    assert repr(rs.Materialization(data_version="v1", metadata={"k": "v"})) == (
        "Materialization(has_metadata=true, data_version='v1')"
    )


def test_result_wrapper_defaults():
    o, obs, m = rs.Output(), rs.Observation(), rs.Materialization()
    assert (o.value, o.output_name, o.metadata, o.data_version, o.tags) == (None, None, None, None, None)
    assert (obs.output_name, obs.metadata, obs.data_version) == (None, None, None)
    assert (m.output_name, m.metadata, m.data_version, m.tags) == (None, None, None, None)


def test_output_without_value_stores_none():
    @rs.Asset
    def a() -> rs.Output:
        return rs.Output(metadata={"status": "done"})

    repo = make_repo(a)
    repo.materialize()
    assert repo.load_node("a") is None


def test_output_attributes_are_raw():
    metadata = {"n": 1, "t": rs.MetadataValue.text("x")}
    out = rs.Output([1], output_name="o", metadata=metadata, data_version="v1", tags=["a"])
    assert out.value == [1]
    assert out.output_name == "o"
    assert out.metadata is metadata  # raw dict as given, not coerced
    assert out.data_version == "v1"
    assert out.tags == ["a"]


def test_output_only_value_is_positional():
    with pytest.raises(TypeError):
        rs.Output(1, "o")


def test_observation_and_materialization_are_keyword_only_and_have_no_value():
    with pytest.raises(TypeError):
        rs.Observation({"a": 1})
    with pytest.raises(TypeError):
        rs.Observation(value=1)
    with pytest.raises(TypeError):
        rs.Materialization({"a": 1})
    with pytest.raises(TypeError):
        rs.Observation(tags=["x"])
    m = rs.Materialization(output_name="o", metadata={"a": 1}, data_version="v", tags=["t"])
    assert (m.output_name, m.metadata, m.data_version, m.tags) == ("o", {"a": 1}, "v", ["t"])
    o = rs.Observation(output_name="o", metadata={"a": 1}, data_version="v")
    assert (o.output_name, o.metadata, o.data_version) == ("o", {"a": 1}, "v")


def test_output_value_is_unwrapped_for_the_handler_and_downstream():
    handler = Recorder()

    @rs.Asset(io_handler=handler)
    def up() -> rs.Output:
        return rs.Output([1, 2], metadata={"rows": 2}, data_version="v7")

    @rs.Asset
    def down(up: list) -> int:
        return len(up)

    repo = make_repo(up, down)
    result = repo.materialize()
    assert handler.writes == [("up", [1, 2])]
    assert repo.load_node("down") == 2
    event = materialization(repo, result.run_id, "up")
    assert event.data_version == "v7"
    assert meta(event)["rows"] == {"Int": {"value": 2}}


def test_output_name_on_a_single_asset_is_ignored():
    @rs.Asset
    def a():
        return rs.Output(3, output_name="something_else")

    repo = make_repo(a)
    result = repo.materialize()
    assert result.success
    assert repo.load_node("a") == 3
    materialization(repo, result.run_id, "a")


def test_single_asset_returning_none_stores_none():
    @rs.Asset
    def nothing():
        return None

    repo = make_repo(nothing)
    assert repo.materialize().success
    assert repo.load_node("nothing") is None


def test_sync_generator_single_asset_stores_the_generator_object():
    @rs.Asset
    def gen():
        yield 1

    repo = make_repo(gen)
    assert repo.materialize().success
    assert isinstance(repo.load_node("gen"), types.GeneratorType)


def test_single_asset_returning_observation_records_observation_and_writes_nothing():
    handler = Recorder()

    @rs.Asset(io_handler=handler)
    def watched():
        return rs.Observation(metadata={"rows": 5}, data_version="obs-1")

    repo = make_repo(watched)
    result = repo.materialize()
    assert result.success
    assert handler.writes == []
    kinds = [e.event_type for e in events(repo, result.run_id, "watched")]
    assert kinds == ["StepStart", "Observation", "StepSuccess"]
    obs = [e for e in events(repo, result.run_id, "watched") if e.event_type == "Observation"][0]
    assert obs.data_version == "obs-1"
    assert meta(obs) == {"rows": {"Int": {"value": 5}}}


def test_materialization_result_records_event_without_calling_handle_output():
    handler = Recorder()

    @rs.Asset(io_handler=handler)
    def push(context: rs.AssetExecutionContext) -> rs.Materialization:
        context.add_output_metadata({"from_ctx": 1, "both": "ctx"})
        return rs.Materialization(metadata={"status": 200, "both": "wrapper"}, data_version="etag-1")

    repo = make_repo(push)
    result = repo.materialize()
    assert result.success
    assert handler.writes == []
    event = materialization(repo, result.run_id, "push")
    assert event.data_version == "etag-1"
    assert meta(event) == {"from_ctx": {"Int": {"value": 1}}, "both": {"Text": {"value": "wrapper"}},
                           "status": {"Int": {"value": 200}}}
    with pytest.raises(KeyError):
        handler.load_input(rs.InputContext("push", "__load_node__"))


def test_materialization_wrapper_data_version_beats_context_registered_version():
    @rs.Asset
    def push(context: rs.AssetExecutionContext):
        context.register_data_version("ctx")
        return rs.Materialization(data_version="wrapper")

    repo = make_repo(push)
    result = repo.materialize()
    assert materialization(repo, result.run_id, "push").data_version == "wrapper"


def test_wrapper_metadata_that_cannot_be_coerced_fails_the_step():
    @rs.Asset
    def bad():
        return rs.Output(1, metadata={"obj": object()})

    repo = make_repo(bad)
    result = repo.materialize(raise_on_error=False)
    assert not result.success
    (name, message), = result.failed_assets
    assert name == "bad"
    assert message.startswith("TypeError: Cannot coerce")


def test_wrapper_metadata_failure_raises_type_error_with_raise_on_error():
    @rs.Asset
    def bad():
        return rs.Output(1, metadata={"obj": object()})

    with pytest.raises(TypeError, match="Cannot coerce"):
        make_repo(bad).materialize()


# ------------------------------------------------------ return-type validation
def test_return_annotation_mismatch_fails_with_output_validation_error():
    @rs.Asset
    def typed() -> int:
        return "not an int"

    with pytest.raises(AssetOutputValidationError) as info:
        make_repo(typed).materialize()
    message = str(info.value)
    assert "Asset 'typed' returned value of type 'str' but expected 'int'" in message


def test_return_annotation_is_checked_on_the_unwrapped_output_value():
    @rs.Asset
    def typed() -> int:
        return rs.Output("nope")

    with pytest.raises(AssetOutputValidationError):
        make_repo(typed).materialize()


def test_return_annotation_of_a_wrapper_class_is_not_checked():
    @rs.Asset
    def typed() -> rs.Output:
        return rs.Output("anything")

    assert make_repo(typed).materialize().success


def test_generic_alias_checks_only_the_origin():
    @rs.Asset
    def typed() -> list[int]:
        return ["a"]

    @rs.Asset
    def wrong() -> list[int]:
        return {"a": 1}

    repo = make_repo(typed, wrong)
    result = repo.materialize(raise_on_error=False)
    assert [name for name, _ in result.failed_assets] == ["wrong"]
    assert "AssetOutputValidationError" in result.failed_assets[0][1]


@pytest.mark.parametrize(
    ("annotation", "value", "ok"),
    [
        (Optional[int], None, True),
        (Optional[int], 3, True),
        (Optional[int], "x", False),
        (int | str, "x", True),
        (int | str, 1.5, False),
        (Any, object(), True),
        (None, 5, True),  # a literal -> None annotation is not checked
        (bool, True, True),
        (float, 1, False),
        (dict[str, int], {"a": "b"}, True),
        (int, None, False),
        (int | None, None, True),
        (list, "a string", False),
    ],
)
def test_return_annotation_variants(annotation, value, ok):
    def fn():
        return value

    fn.__annotations__["return"] = annotation
    asset = rs.Asset(fn, name="typed")
    result = make_repo(asset).materialize(raise_on_error=False)
    assert result.success is ok, result.failed_assets


def test_return_annotation_with_a_local_class():
    class MyData:
        pass

    @rs.Asset
    def good() -> MyData:
        return MyData()

    @rs.Asset
    def bad() -> MyData:
        return 42

    result = make_repo(good, bad).materialize(raise_on_error=False)
    assert [name for name, _ in result.failed_assets] == ["bad"]
    assert "but expected 'MyData'" in result.failed_assets[0][1]


def test_string_annotations_are_evaluated_before_checking():
    source = (
        "from __future__ import annotations\n"
        "import rivers as rs\n"
        "class Cfg:\n"
        "    pass\n"
        "@rs.Asset\n"
        "def good() -> int:\n"
        "    return 1\n"
        "@rs.Asset\n"
        "def bad() -> int:\n"
        "    return 'x'\n"
        "@rs.Asset\n"
        "def ctx_first(context: rs.AssetExecutionContext, good: int) -> int:\n"
        "    return context.asset_name == 'ctx_first' and good\n"
    )
    module = types.ModuleType("future_annotations_assets")
    sys.modules[module.__name__] = module
    try:
        exec(compile(source, module.__name__, "exec"), module.__dict__)
        repo = make_repo(module.good, module.bad, module.ctx_first)
        result = repo.materialize(raise_on_error=False)
    finally:
        del sys.modules[module.__name__]
    assert [name for name, _ in result.failed_assets] == ["bad"]
    assert result.failed_assets[0][1].startswith("AssetOutputValidationError")
    assert repo.load_node("ctx_first") == 1


# ------------------------------------------------------- parameter inference
def test_parameters_with_defaults_and_varargs_are_not_dependencies():
    @rs.Asset
    def a(x=3, *args, y=4, **kwargs) -> int:
        return x + y

    repo = make_repo(a)
    repo.materialize()
    assert repo.load_node("a") == 7


def test_parameter_named_like_its_own_asset_is_a_graph_error():
    @rs.Asset
    def foo(foo):
        return 1

    with pytest.raises(GraphValidationError, match=r"Asset 'foo': depends on itself; use SelfDependency\[T\]"):
        rs.CodeRepository(assets=[foo]).validate()


def test_self_without_self_dependency_annotation_fails_at_run_time():
    @rs.Asset
    def me(self):
        return 1

    repo = make_repo(me)
    with pytest.raises(ExecutionError, match=r"Asset 'me': `self` parameter requires a `SelfDependency\[T\]` annotation"):
        repo.materialize()


def test_data_version_defaults_to_a_random_uuid4():
    @rs.Asset
    def a():
        return 1

    repo = make_repo(a)
    first = materialization(repo, repo.materialize().run_id, "a").data_version
    second = materialization(repo, repo.materialize().run_id, "a").data_version
    assert first != second
    assert uuid.UUID(first).version == 4
