"""PartitionMapping: factories, variants, reprs, value semantics and constructor errors."""

from __future__ import annotations

import copy
import pickle

import pytest

from rivers.exceptions import PartitionValidationError
from rivers.partitions.keys import PartitionKey
from rivers.partitions.mappings.base import MAX_TIME_WINDOW_OFFSET, PartitionMapping
from rivers.partitions.ranges import PartitionKeyRange

M = PartitionMapping


def test_base_class_cannot_be_instantiated():
    with pytest.raises(TypeError, match="cannot create 'PartitionMapping' instances"):
        PartitionMapping()


@pytest.mark.parametrize(
    ("mapping", "variant"),
    [
        (M.identity(), M.Identity),
        (M.all_partitions(), M.AllPartitions),
        (M.static_({"a": "1"}), M.Static),
        (M.time_window(-1), M.TimeWindow),
        (M.multi({"d": M.identity()}), M.Multi),
        (M.multi_to_single("d"), M.MultiToSingle),
        (M.specific_partitions(["a"]), M.SpecificPartitions),
        (M.subset(), M.Subset),
    ],
)
def test_factories_build_nested_variants(mapping, variant):
    assert isinstance(mapping, variant)
    assert isinstance(mapping, PartitionMapping)
    assert type(mapping).__qualname__ == f"PartitionMapping.{variant.__name__}"


@pytest.mark.parametrize(
    ("mapping", "text"),
    [
        (M.identity(), "PartitionMapping.identity()"),
        (M.all_partitions(), "PartitionMapping.all_partitions()"),
        (M.static_({"a": "1"}), 'PartitionMapping.static_({"a": "1"})'),
        (M.static_({}), "PartitionMapping.static_({})"),
        (M.time_window(-1), "PartitionMapping.time_window(offset=-1)"),
        (
            M.multi({"date": M.identity(), "r": ("region", M.identity())}),
            'PartitionMapping.multi({"date": PartitionMapping.identity(), '
            '"r": ("region", PartitionMapping.identity())})',
        ),
        (
            M.multi_to_single("date"),
            'PartitionMapping.multi_to_single(dimension_name="date", partition_mapping=PartitionMapping.identity())',
        ),
        (M.specific_partitions(["a", "b"]), 'PartitionMapping.specific_partitions(["a", "b"])'),
        (M.subset(), "PartitionMapping.subset()"),
    ],
)
def test_reprs(mapping, text):
    assert repr(mapping) == text


def test_variant_attributes():
    assert M.static_({"a": "1"}).mapping == {"a": "1"}
    assert M.time_window(3).offset == 3
    multi = M.multi({"date": M.identity(), "r": ("region", M.time_window(-1))})
    assert multi.dimension_mappings == {"date": ("date", M.identity()), "r": ("region", M.time_window(-1))}
    single = M.multi_to_single("date", M.time_window(-1))
    assert (single.dimension_name, single.partition_mapping) == ("date", M.time_window(-1))
    assert M.multi_to_single("date").partition_mapping == M.identity()
    assert M.specific_partitions(["b", "a"]).partition_keys == ["b", "a"]


def test_static_target_passes_unlisted_keys_through():
    mapping = M.static_({"a": "1"})
    assert mapping.target("a") == "1"
    assert mapping.target("zz") == "zz"


def test_value_equality_and_hashing():
    assert M.identity() == M.identity()
    assert M.identity() != M.subset()
    assert M.time_window(-1) == M.time_window(-1)
    assert M.time_window(-1) != M.time_window(1)
    assert M.static_({"a": "1", "b": "2"}) == M.static_({"b": "2", "a": "1"})
    assert M.multi({"d": M.identity()}) == M.multi({"d": ("d", M.identity())})
    assert M.multi({"d": M.identity()}) != M.multi({"d": ("e", M.identity())})
    assert M.specific_partitions(["a", "b"]) == M.specific_partitions(["b", "a"])  # a set of keys (issue 20)
    assert M.specific_partitions(["a", "b"]) != M.specific_partitions(["a", "c"])
    assert M.identity() != "identity"
    assert len({M.identity(), M.identity(), M.time_window(0), M.static_({"a": "1"}), M.static_({"a": "1"})}) == 3
    assert hash(M.multi_to_single("d")) == hash(M.multi_to_single("d", M.identity()))


def test_attribute_copies_do_not_leak_mutations():
    mapping = M.static_({"a": "1"})
    mapping.mapping["a"] = "2"
    assert mapping.target("a") == "1"
    source = {"a": "1"}
    built = M.static_(source)
    source["a"] = "2"
    assert built == M.static_({"a": "1"})


def test_mappings_are_immutable():
    with pytest.raises(AttributeError, match="immutable"):
        M.time_window(1).offset = 2


@pytest.mark.parametrize(
    "mapping",
    [
        M.identity(),
        M.static_({"a": "1"}),
        M.time_window(-2),
        M.multi({"date": M.time_window(-1), "r": ("region", M.static_({"x": "y"}))}),
        M.multi_to_single("date", M.time_window(1)),
        M.specific_partitions(["a"]),
    ],
)
def test_pickle_and_copy_round_trip(mapping):
    assert pickle.loads(pickle.dumps(mapping)) == mapping
    assert copy.deepcopy(mapping) == mapping
    assert repr(copy.copy(mapping)) == repr(mapping)


def test_variant_constructors_validate_like_the_factories():
    assert M.TimeWindow(2) == M.time_window(2)
    with pytest.raises(PartitionValidationError, match="out of range"):
        M.TimeWindow(MAX_TIME_WINDOW_OFFSET + 1)


# --- constructor errors -------------------------------------------------


def test_time_window_offset_limits():
    assert M.time_window(MAX_TIME_WINDOW_OFFSET).offset == 100_000
    assert M.time_window(-100_000).offset == -100_000
    with pytest.raises(PartitionValidationError, match=r"offset 100001 is out of range"):
        M.time_window(100_001)
    with pytest.raises(PartitionValidationError, match="out of range"):
        M.time_window(-100_001)


@pytest.mark.parametrize("offset", ["1", 1.0, True, None])
def test_time_window_offset_must_be_int(offset):
    with pytest.raises(TypeError, match="offset must be an int"):
        M.time_window(offset)


def test_static_requires_str_to_str_dict():
    with pytest.raises(TypeError, match="must be a dict"):
        M.static_([("a", "1")])
    with pytest.raises(TypeError, match="str keys to str keys"):
        M.static_({"a": 1})


def test_specific_partitions_errors():
    with pytest.raises(PartitionValidationError, match="SpecificPartitions must have at least one partition key"):
        M.specific_partitions([])
    with pytest.raises(TypeError, match="list of str"):
        M.specific_partitions("ab")
    with pytest.raises(TypeError, match="list of str"):
        M.specific_partitions(["a", 1])


def test_multi_errors():
    with pytest.raises(PartitionValidationError, match="at least one dimension"):
        M.multi({})
    with pytest.raises(TypeError, match="dict of upstream dimension"):
        M.multi([("d", M.identity())])
    with pytest.raises(TypeError, match=r"dimension names must be str"):
        M.multi({1: M.identity()})


@pytest.mark.parametrize("value", ["identity", ("d",), ("d", "identity"), (1, M.identity()), None])
def test_multi_values_must_be_mappings_or_tuples(value):
    with pytest.raises(
        TypeError, match=r"Multi mapping values must be PartitionMapping or \(str, PartitionMapping\) tuple"
    ):
        M.multi({"d": value})


@pytest.mark.parametrize(
    ("inner", "fragment"),
    [
        (M.multi({"x": M.identity()}), "Nested Multi mappings are not allowed inside Multi"),
        (M.multi_to_single("x"), "Nested MultiToSingle mappings are not allowed inside Multi"),
        (M.subset(), "Nested Subset mappings are not allowed inside Multi"),
    ],
)
def test_multi_rejects_nested_mappings(inner, fragment):
    with pytest.raises(PartitionValidationError, match=fragment) as info:
        M.multi({"date": inner})
    assert "'date'" in str(info.value)
    with pytest.raises(PartitionValidationError, match=fragment):
        M.multi({"date": ("day", inner)})


def test_multi_allows_the_simple_inner_mappings():
    for inner in (M.identity(), M.time_window(-1), M.static_({}), M.all_partitions(), M.specific_partitions(["a"])):
        assert M.multi({"d": inner}).dimension_mappings["d"] == ("d", inner)


@pytest.mark.parametrize(
    ("inner", "fragment"),
    [
        (M.multi({"x": M.identity()}), "MultiToSingle partition_mapping cannot be Multi"),
        (M.multi_to_single("x"), "MultiToSingle partition_mapping cannot be MultiToSingle"),
        (M.subset(), "MultiToSingle partition_mapping cannot be Subset"),
    ],
)
def test_multi_to_single_rejects_nested_mappings(inner, fragment):
    with pytest.raises(PartitionValidationError, match=fragment):
        M.multi_to_single("date", inner)


def test_multi_to_single_argument_errors():
    with pytest.raises(TypeError, match="dimension_name must be a str"):
        M.multi_to_single(None)
    with pytest.raises(PartitionValidationError, match="must not be empty"):
        M.multi_to_single("")
    with pytest.raises(TypeError, match="partition_mapping must be a PartitionMapping"):
        M.multi_to_single("date", "identity")


# --- ForKeys (selectors are PartitionKey / PartitionKeyRange) -----------------


def test_for_keys_selectors_repr_and_equality():
    selectors = [PartitionKey.single("a"), PartitionKeyRange.single("b", "d")]
    mapping = M.for_keys(selectors)
    assert isinstance(mapping, M.ForKeys)
    assert mapping.selectors == selectors
    assert repr(mapping) == (
        'PartitionMapping.for_keys([PartitionKey("a"), PartitionKeyRange.single(from_key="b", to_key="d")])'
    )
    assert mapping == M.for_keys(list(selectors))
    assert hash(mapping) == hash(M.for_keys(list(selectors)))
    assert mapping != M.for_keys(selectors[:1])
    assert pickle.loads(pickle.dumps(mapping)) == mapping


def test_for_keys_accepts_a_str_as_a_single_key():
    assert M.for_keys(["a"]).selectors == [PartitionKey.single("a")]


def test_for_keys_errors():
    with pytest.raises(PartitionValidationError, match="for_keys must have at least one key or range"):
        M.for_keys([])
    with pytest.raises(TypeError, match="PartitionKey or PartitionKeyRange"):
        M.for_keys([1])
    with pytest.raises(TypeError, match="list of PartitionKey"):
        M.for_keys("a")


def test_for_keys_cannot_be_nested():
    for_keys = M.for_keys([PartitionKey.single("a")])
    with pytest.raises(PartitionValidationError, match="Nested ForKeys mappings are not allowed inside Multi"):
        M.multi({"d": for_keys})
    with pytest.raises(PartitionValidationError, match="MultiToSingle partition_mapping cannot be ForKeys"):
        M.multi_to_single("d", for_keys)
