"""PartitionsDefinition: static, multi, dynamic and plugin types; sequences; ranges; value semantics."""

from __future__ import annotations

import datetime as dt
import pickle

import pytest

import rivers.plugins
from rivers.exceptions import ExecutionError, PartitionDefinitionError, PartitionValidationError
from rivers.exceptions import PluginNotFoundError
from rivers.partitions import (
    KeyListDefinition,
    PartitionKey,
    PartitionKeyRange,
    PartitionKeySequence,
    PartitionsDefinition,
)
from rivers.partitions.base import PartitionsDefinition as BasePartitionsDefinition

P = PartitionsDefinition
K = PartitionKey.single
DAYS = P.daily(dt.datetime(2024, 1, 1), dt.datetime(2024, 1, 4))


def dyn(name):
    return {"cust": ["c1", "c2", "c3"]}.get(name, [])


# ---------------------------------------------------------------------------
# base class


def test_import_path_of_options_module_still_works():
    assert BasePartitionsDefinition is PartitionsDefinition


def test_base_class_cannot_be_instantiated():
    with pytest.raises(TypeError, match="cannot create 'PartitionsDefinition' instances"):
        PartitionsDefinition()


def test_variants_and_kinds():
    assert isinstance(P.static_(["a"]), P.Static) and P.static_(["a"]).kind == "static"
    assert isinstance(DAYS, P.TimeWindow) and DAYS.kind == "time_window"
    assert isinstance(P.multi({"a": P.static_(["x"])}), P.Multi) and P.Multi.kind == "multi"
    assert isinstance(P.dynamic("cust"), P.Dynamic) and P.dynamic("cust").kind == "dynamic"


# ---------------------------------------------------------------------------
# static


def test_static_keeps_order_and_drops_duplicates():
    d = P.static_(["b", "a", "b", "c"])
    assert d.keys == ["b", "a", "c"]
    assert d.get_partition_keys() == [K("b"), K("a"), K("c")]


@pytest.mark.parametrize(
    ("keys", "message"),
    [
        ([], "Static partitions must have at least one key"),
        (["a", ""], "static partition keys must not be empty"),
        (["a,b"], "partition key 'a,b' contains reserved character ',' \\(used by the canonical display form\\)"),
        (["a|b"], "partition key 'a\\|b' contains reserved character '\\|'"),
    ],
)
def test_static_errors(keys, message):
    with pytest.raises(PartitionDefinitionError, match=message):
        P.static_(keys)


def test_static_type_errors():
    with pytest.raises(TypeError):
        P.static_("abc")
    with pytest.raises(PartitionDefinitionError, match="must be str"):
        P.static_(["a", 1])


def test_static_validation():
    d = P.static_(["a", "b"])
    assert d.validate_partition_key(K("a"))
    assert d.validate_partition_key("a")
    assert d.validate_partition_key(K(["a", "b"]))
    assert not d.validate_partition_key(K(["a", "z"]))
    assert not d.validate_partition_key(K("z"))
    assert not d.validate_partition_key(PartitionKey.multi({"d": "a"}))
    assert d.validate_partition_key(PartitionKey.Set([K("a"), K("b")]))
    assert not d.validate_partition_key(PartitionKey.Set([K("a"), K("q")]))


def test_static_index_window_nearest_describe():
    d = P.static_(["z", "a", "m"])
    assert d.index_of(K("a")) == 1 and d.index_of("m") == 2 and d.index_of(K("q")) is None
    assert d.index_of(K(["a", "m"])) is None
    assert d.window(K("a")) is None
    assert d.nearest_key("mm") == "m"
    assert d.describe() == "static partitions ['z', 'a', 'm']"
    ten = P.static_([str(i) for i in range(10)])
    assert ten.describe() == "static partitions ['0', '1', '2', '3', '4', ...] (10 keys)"


def test_static_repr_and_equality():
    assert repr(P.static_(["a", "b"])) == 'PartitionsDefinition.static_(["a", "b"])'
    assert P.static_(["a", "b"]) == P.static_(["a", "b", "a"])
    assert P.static_(["a", "b"]) != P.static_(["b", "a"])
    assert hash(P.static_(["a", "b"])) == hash(P.static_(["a", "b"]))
    assert P.static_(["a"]) != P.dynamic("a")


def test_raw_constructor_skips_checks_and_check_reruns_them():
    raw = P.Static(["a", ""])
    assert raw.keys == ["a", ""]
    with pytest.raises(PartitionDefinitionError, match="static partition keys must not be empty"):
        raw.check()
    with pytest.raises(PartitionDefinitionError, match="Static partitions must have at least one key"):
        P.Static([]).check()
    nested = P.Multi({"a": P.Multi({"b": P.Static(["x"])})})
    with pytest.raises(PartitionDefinitionError, match="nested Multi"):
        nested.check()
    with pytest.raises(PartitionDefinitionError, match="cannot be empty"):
        P.Dynamic("").check()
    with pytest.raises(PartitionDefinitionError, match="dimension 'r': static partition keys must not be empty"):
        P.Multi({"r": P.Static([""])}).check()


# ---------------------------------------------------------------------------
# lazy sequences


def test_sequence_protocol():
    seq = P.static_(["a", "b", "c", "d"]).get_partition_keys()
    assert isinstance(seq, PartitionKeySequence)
    assert len(seq) == 4 and seq[0] == K("a") and seq[-1] == K("d")
    sub = seq[1:3]
    assert isinstance(sub, PartitionKeySequence) and list(sub) == [K("b"), K("c")]
    assert sub.index(K("c")) == 1 and K("c") in sub and K("a") not in sub
    assert seq[::-2] == [K("d"), K("b")]
    assert list(reversed(seq)) == [K("d"), K("c"), K("b"), K("a")]
    assert seq == (K("a"), K("b"), K("c"), K("d"))
    assert seq != [K("a")] and seq != ["a", "b", "c", "d"]
    assert list(seq.iter_display()) == ["a", "b", "c", "d"]
    assert seq.count(K("a")) == 1 and seq.count(K("q")) == 0
    with pytest.raises(ValueError):
        seq.index(K("q"))
    with pytest.raises(ValueError):
        seq.index(K("a"), 1)
    with pytest.raises(IndexError):
        seq[4]
    assert "a" not in seq  # strings are not keys


def test_sequence_repr():
    short = P.static_(["a", "b"]).get_partition_keys()
    assert repr(short) == 'PartitionKeySequence([PartitionKey("a"), PartitionKey("b")])'
    long = P.static_([str(i) for i in range(10)]).get_partition_keys()
    assert repr(long) == (
        'PartitionKeySequence([PartitionKey("0"), PartitionKey("1"), PartitionKey("2"), ..., '
        'PartitionKey("9")], len=10)'
    )


def test_sequences_are_not_hashable():
    with pytest.raises(TypeError):
        hash(P.static_(["a"]).get_partition_keys())


# ---------------------------------------------------------------------------
# multi


def grid():
    return P.multi(
        {
            "region": P.static_(["us", "eu"]),
            "month": P.time_window(
                dt.datetime(2024, 1, 1), cron_schedule="0 0 1 * *", fmt="%Y-%m", end=dt.datetime(2024, 3, 1)
            ),
        }
    )


def test_multi_enumeration_matches_the_spec_example():
    assert [str(k) for k in grid().get_partition_keys()] == [
        "month=2024-01|region=us",
        "month=2024-02|region=us",
        "month=2024-01|region=eu",
        "month=2024-02|region=eu",
    ]


def test_multi_sequence_is_lazy_and_indexable():
    g = P.multi({"a": P.static_(["1", "2", "3"]), "b": P.static_(["x", "y"]), "c": P.static_(["p", "q"])})
    seq = g.get_partition_keys()
    assert len(seq) == 12
    everything = list(seq)
    assert [seq[i] for i in range(12)] == everything
    assert str(seq[5]) == "a=2|b=x|c=q" and str(seq[7]) == "a=2|b=y|c=q"
    for i, key in enumerate(everything):
        assert seq.index(key) == i and g.index_of(key) == i
    assert list(seq[3:6]) == everything[3:6]
    assert g.index_of(PartitionKey.multi({"a": "1", "b": "x"})) is None
    assert g.index_of(K("1")) is None


def test_multi_attributes_and_dimension_lookup():
    g = grid()
    assert [name for name, _ in g.dimensions] == ["region", "month"]
    assert g.dimension("region") == P.static_(["us", "eu"])
    with pytest.raises(PartitionValidationError, match="'nope' is not a dimension.*region, month"):
        g.dimension("nope")


def test_multi_validation():
    g = grid()
    assert g.validate_partition_key(PartitionKey.multi({"region": "us", "month": "2024-02"}))
    assert g.validate_partition_key(PartitionKey.multi({"region": ["us", "eu"], "month": "2024-02"}))
    assert not g.validate_partition_key(PartitionKey.multi({"region": "us", "month": "2024-03"}))
    assert not g.validate_partition_key(PartitionKey.multi({"region": "us"}))
    assert not g.validate_partition_key(PartitionKey.multi({"region": "us", "month": "2024-01", "x": "1"}))
    assert not g.validate_partition_key(K("us"))
    assert g.validate_partition_key(PartitionKey.Set([PartitionKey.multi({"region": "eu", "month": "2024-01"})]))


@pytest.mark.parametrize(
    ("dimensions", "message"),
    [
        ({}, "Multi partitions must have at least one dimension"),
        ({"a": P.multi({"b": P.static_(["x"])})}, "Multi partitions cannot contain nested Multi dimensions"),
        ({"": P.static_(["x"])}, "cannot be empty"),
        ({"a|b": P.static_(["x"])}, "reserved character '\\|'"),
        ({"a,b": P.static_(["x"])}, "reserved character ','"),
        ({"a=b": P.static_(["x"])}, "dimension name 'a=b' contains reserved character '='"),
    ],
)
def test_multi_errors(dimensions, message):
    with pytest.raises(PartitionDefinitionError, match=message):
        P.multi(dimensions)


def test_multi_type_errors():
    with pytest.raises(TypeError, match="dimension 'a'"):
        P.multi({"a": "daily"})


def test_multi_repr_equality_describe():
    g = P.multi({"region": P.static_(["us"]), "d": P.dynamic("cust")})
    assert repr(g) == (
        'PartitionsDefinition.multi({"region": PartitionsDefinition.static_(["us"]), '
        '"d": PartitionsDefinition.dynamic("cust")})'
    )
    assert g == P.multi({"region": P.static_(["us"]), "d": P.dynamic("cust")})
    assert g != P.multi({"d": P.dynamic("cust"), "region": P.static_(["us"])})  # declaration order matters
    assert g.describe() == "multi partitions (region: static partitions ['us'], d: dynamic partitions 'cust')"


def test_multi_any_number_of_dimensions():
    g = P.multi({name: P.static_(["0", "1"]) for name in "abcd"})
    assert len(g.get_partition_keys()) == 16


# ---------------------------------------------------------------------------
# dynamic


def test_dynamic_enumeration_needs_the_registry():
    d = P.dynamic("cust")
    with pytest.raises(NotImplementedError, match="Cannot enumerate dynamic partition keys"):
        d.get_partition_keys()
    with pytest.raises(NotImplementedError, match="Cannot enumerate dynamic partition keys"):
        P.multi({"c": d, "r": P.static_(["us"])}).get_partition_keys()
    assert d.get_partition_keys(dynamic_partitions=dyn) == [K("c1"), K("c2"), K("c3")]
    assert [str(k) for k in P.multi({"c": d, "r": P.static_(["us"])}).get_partition_keys(dynamic_partitions=dyn)] == [
        "c=c1|r=us",
        "c=c2|r=us",
        "c=c3|r=us",
    ]


def test_dynamic_validation():
    d = P.dynamic("cust")
    assert d.validate_partition_key(K("anything"))
    assert d.validate_partition_key(K(["a", "b"]))
    assert not d.validate_partition_key(K(""))
    assert not d.validate_partition_key(K("a,b"))
    assert not d.validate_partition_key(PartitionKey.multi({"c": "x"}))
    assert d.validate_partition_key(K("c2"), dynamic_partitions=dyn)
    assert not d.validate_partition_key(K("c9"), dynamic_partitions=dyn)
    assert d.index_of(K("c3"), dynamic_partitions=dyn) == 2


def test_dynamic_errors_repr_equality():
    with pytest.raises(PartitionDefinitionError, match="Dynamic partition definition name cannot be empty"):
        P.dynamic("")
    assert repr(P.dynamic("cust")) == 'PartitionsDefinition.dynamic("cust")'
    assert P.dynamic("cust") == P.dynamic("cust") and P.dynamic("cust") != P.dynamic("other")
    assert P.dynamic("cust").describe() == "dynamic partitions 'cust'"
    assert P.dynamic("cust").window(K("x")) is None


def test_dynamic_ranges_use_registered_order():
    d = P.dynamic("cust")
    assert list(d.resolve_range(PartitionKeyRange.single("c2", "c3"), dynamic_partitions=dyn)) == [K("c2"), K("c3")]
    with pytest.raises(ExecutionError, match="Range endpoint 'c9' is not a partition key; nearest valid key is 'c"):
        d.resolve_range(PartitionKeyRange.single("c9", "c3"), dynamic_partitions=dyn)
    with pytest.raises(NotImplementedError):
        d.resolve_range(PartitionKeyRange.single("c1", "c3"))


# ---------------------------------------------------------------------------
# ranges


def test_range_uses_definition_order():
    d = P.static_(["z", "a", "m"])
    assert list(d.resolve_range(PartitionKeyRange.single("z", "a"))) == [K("z"), K("a")]
    assert list(d.resolve_range(PartitionKeyRange.single("a", "a"))) == [K("a")]


def test_range_errors():
    d = P.static_(["z", "a", "m"])
    with pytest.raises(ExecutionError, match="from_key 'a' is after to_key 'z'"):
        d.resolve_range(PartitionKeyRange.single("a", "z"))
    with pytest.raises(ExecutionError, match="Range endpoint 'mm' is not a partition key; nearest valid key is 'm'"):
        d.resolve_range(PartitionKeyRange.single("z", "mm"))
    with pytest.raises(ExecutionError, match="multi-dimension range cannot select from static partitions"):
        d.resolve_range(PartitionKeyRange.multi({"x": ["a"]}))


def test_single_range_against_multi():
    with pytest.raises(
        ExecutionError,
        match="a single-dimension range cannot select from Multi partitions; use PartitionKeyRange.multi\\(\\) "
        "with dimensions: region, month",
    ):
        grid().resolve_range(PartitionKeyRange.single("a", "b"))


def test_multi_range_product_lists_and_omitted_dimensions():
    g = grid()
    picked = g.resolve_range(PartitionKeyRange.multi({"region": ["eu", "us"], "month": ("2024-02", "2024-02")}))
    assert [str(k) for k in picked] == ["month=2024-02|region=eu", "month=2024-02|region=us"]
    everything = g.resolve_range(PartitionKeyRange.multi({"month": ("2024-01", "2024-02")}))
    assert list(everything) == list(g.get_partition_keys())
    assert [str(k) for k in g.resolve_range(PartitionKeyRange.multi({"region": ["eu"]}))] == [
        "month=2024-01|region=eu",
        "month=2024-02|region=eu",
    ]


def test_multi_range_errors_name_the_dimension():
    g = grid()
    with pytest.raises(
        ExecutionError,
        match="dimension 'month': Range endpoint '2025-01' is not a partition key; nearest valid key is '2024-02'",
    ):
        g.resolve_range(PartitionKeyRange.multi({"month": ("2024-01", "2025-01")}))
    with pytest.raises(ExecutionError, match="dimension 'region': key 'xx' is not a partition key"):
        g.resolve_range(PartitionKeyRange.multi({"region": ["xx"]}))
    with pytest.raises(ExecutionError, match="range dimension 'nope' is not a dimension.*region, month"):
        g.resolve_range(PartitionKeyRange.multi({"nope": ["a"]}))
    with pytest.raises(ExecutionError, match="dimension 'month': from_key '2024-02' is after to_key '2024-01'"):
        g.resolve_range(PartitionKeyRange.multi({"month": ("2024-02", "2024-01")}))


def test_multi_nearest_key():
    assert grid().nearest_key("month=2024-07|region=uk") == "month=2024-02|region=us"


# ---------------------------------------------------------------------------
# plugin types


class Weekdays(KeyListDefinition):
    kind = "weekdays"

    def __init__(self, days=("mon", "tue", "wed")):
        self.days = list(days)

    def key_values(self):
        return self.days

    def window_for(self, value):
        start = dt.datetime(2024, 1, 1) + dt.timedelta(days=self.days.index(value))
        return start, start + dt.timedelta(days=1)


class NotADefinition:
    def __init__(self, **config):
        pass


class PartitionTypesPlugin:
    @rivers.plugins.hookimpl
    def rivers_partition_types(self):
        return {"weekdays": Weekdays, "broken": NotADefinition}


@pytest.fixture
def plugin():
    registered = rivers.plugins.register(PartitionTypesPlugin(), name="test-partition-types")
    yield registered
    rivers.plugins.unregister(registered)


def test_key_list_base_gives_the_whole_contract():
    d = Weekdays()
    assert d.get_partition_keys() == [K("mon"), K("tue"), K("wed")]
    assert d.validate_partition_key(K("tue")) and not d.validate_partition_key(K("sun"))
    assert d.index_of(K("wed")) == 2
    assert list(d.resolve_range(PartitionKeyRange.single("tue", "wed"))) == [K("tue"), K("wed")]
    assert d.window(K("tue")) == (dt.datetime(2024, 1, 2), dt.datetime(2024, 1, 3))
    assert d.window(K("sun")) is None
    assert d.nearest_key("wet") == "wed"
    assert d.describe() == "weekdays partitions ['mon', 'tue', 'wed']"
    assert Weekdays() == Weekdays() and Weekdays(["mon"]) != Weekdays()
    with pytest.raises(PartitionDefinitionError, match="Weekdays partitions must have at least one key"):
        Weekdays([]).check()
    with pytest.raises(PartitionDefinitionError, match="weekdays partition keys must not be empty"):
        Weekdays(["mon", ""]).check()


def test_from_plugin(plugin):
    d = PartitionsDefinition.from_plugin("weekdays", days=["mon", "fri"])
    assert isinstance(d, Weekdays) and d.kind == "weekdays"
    assert d.get_partition_keys() == [K("mon"), K("fri")]
    g = P.multi({"day": d, "region": P.static_(["us", "eu"])})
    assert [str(k) for k in g.get_partition_keys()] == [
        "day=mon|region=us",
        "day=mon|region=eu",
        "day=fri|region=us",
        "day=fri|region=eu",
    ]
    assert g.validate_partition_key(PartitionKey.multi({"day": "fri", "region": "eu"}))


def test_from_plugin_errors(plugin):
    with pytest.raises(PartitionDefinitionError, match="plugin 'broken'.*not a PartitionsDefinition subclass"):
        PartitionsDefinition.from_plugin("broken")
    with pytest.raises(PartitionDefinitionError, match="must have at least one key"):
        PartitionsDefinition.from_plugin("weekdays", days=[])
    with pytest.raises(PluginNotFoundError):
        PartitionsDefinition.from_plugin("no-such-type")


class Minimal(PartitionsDefinition):
    """A plugin type implementing only get_partition_keys: the rest comes from the base defaults."""

    kind = "minimal"

    def get_partition_keys(self, *, dynamic_partitions=None):
        return PartitionKeySequence.of_values(["p", "q", "r"])


def test_generic_defaults_of_the_base_class():
    d = Minimal()
    assert d.validate_partition_key(K("q")) and d.validate_partition_key(K(["p", "r"]))
    assert not d.validate_partition_key(K("z"))
    assert d.index_of("r") == 2
    assert list(d.resolve_range(PartitionKeyRange.single("q", "r"))) == [K("q"), K("r")]
    with pytest.raises(ExecutionError, match="Range endpoint 'z' is not a partition key"):
        d.resolve_range(PartitionKeyRange.single("z", "r"))
    assert d.window(K("q")) is None and d.nearest_key("x") is None
    d.check()
    assert d == d and d != Minimal()


# ---------------------------------------------------------------------------
# pickling (definitions cross process boundaries in the parallel executor)


@pytest.mark.parametrize(
    "definition",
    [
        P.static_(["a", "b"]),
        DAYS,
        P.hourly(dt.datetime(2024, 1, 1), timezone="Europe/Berlin"),
        P.dynamic("cust"),
        grid(),
    ],
)
def test_definitions_pickle(definition):
    definition.get_partition_keys(dynamic_partitions=dyn)  # populate caches first
    clone = pickle.loads(pickle.dumps(definition))
    assert clone == definition
    assert list(clone.get_partition_keys(dynamic_partitions=dyn)[:3]) == list(
        definition.get_partition_keys(dynamic_partitions=dyn)[:3]
    )
