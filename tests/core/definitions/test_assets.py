"""``@rs.Asset``: decorator forms, options and properties, pools, dependencies, ``AssetDef`` and ``DepDef``."""

from __future__ import annotations

import pytest
import rivers as rs
from rivers.exceptions import AssetDefinitionError
from support import Recorder


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


# ============================================================ node_fields
def test_node_fields_are_the_values_of_the_properties_of_those_names():
    policy = rs.RetryPolicy(max_retries=2)

    @rs.Asset(name="sales", tags=["team=data"], kinds="sql", group="raw", code_version="3", metadata={"k": "v"},
              pool="db", pool_slots=2, retry=policy, deps=[rs.AssetDef.dep("orders")])
    async def compute(context: rs.AssetExecutionContext):
        return 1

    fields = compute.node_fields()
    names = ("name", "metadata", "tags", "kinds", "group", "code_version", "partitions_def", "pool",
             "io_handler_spec", "fn", "signature", "retry", "hooks", "is_async", "deps")
    assert len(fields) == len(names)
    assert dict(zip(names, fields)) == {name: getattr(compute, name) for name in names}
    assert fields[0] == "sales" and fields[7] == [("db", 2)] and fields[13] is True


def test_node_fields_of_an_unbound_asset_name_it():
    with pytest.raises(AssetDefinitionError, match="Asset 'pending' is not bound to a function"):
        rs.Asset(name="pending").node_fields()
