"""PartitionKey: factories, value semantics, display form, JSON, engine helpers."""

from __future__ import annotations

import enum
import pickle

import pytest

from rivers.exceptions import PartitionDefinitionError, PartitionValidationError
from rivers.partitions import PartitionKey, PartitionsDefinition, as_partition_key, parse_display
from rivers.partitions.keys import from_stored_text


def test_base_class_cannot_be_instantiated():
    with pytest.raises(TypeError, match="cannot create 'PartitionKey' instances"):
        PartitionKey()


def test_single_sorts_values_and_keeps_duplicates():
    key = PartitionKey.single(["b", "a", "b"])
    assert isinstance(key, PartitionKey.Single)
    assert key.key == ["a", "b", "b"]
    assert PartitionKey.single("x").key == ["x"]


def test_single_empty_list_is_rejected():
    with pytest.raises(PartitionDefinitionError, match="partition key list must not be empty"):
        PartitionKey.single([])


def test_single_rejects_non_strings():
    with pytest.raises(TypeError, match="int"):
        PartitionKey.single([1])
    with pytest.raises(TypeError):
        PartitionKey.single(5)


def test_multi_sorts_dimensions_and_values():
    key = PartitionKey.multi({"region": ["us", "eu"], "date": "2024-01-15"})
    assert isinstance(key, PartitionKey.Multi)
    assert list(key.keys) == ["date", "region"]
    assert key.keys == {"date": ["2024-01-15"], "region": ["eu", "us"]}


def test_multi_errors():
    with pytest.raises(PartitionDefinitionError, match="PartitionKey dict must have at least one dimension"):
        PartitionKey.multi({})
    with pytest.raises(PartitionDefinitionError, match="dimension 'r'"):
        PartitionKey.multi({"r": []})
    with pytest.raises(TypeError):
        PartitionKey.multi(["a"])


def test_keys_are_immutable():
    key = PartitionKey.single(["a", "b"])
    key.key.append("c")
    assert key.key == ["a", "b"]
    with pytest.raises(AttributeError):
        key.key = ["z"]
    multi = PartitionKey.multi({"d": "x"})
    multi.keys["d"].append("y")
    assert multi.keys == {"d": ["x"]}


def test_equality_and_hash_by_value():
    assert PartitionKey.single("a") == PartitionKey.single(["a"])
    assert hash(PartitionKey.single("a")) == hash(PartitionKey.single(["a"]))
    assert PartitionKey.single(["b", "a"]) == PartitionKey.single(["a", "b"])
    assert PartitionKey.single("a") != PartitionKey.single("b")
    assert PartitionKey.multi({"d": "x", "r": "us"}) == PartitionKey.multi({"r": ["us"], "d": "x"})
    assert len({PartitionKey.single("a"), PartitionKey.single(["a"]), PartitionKey.single("b")}) == 2


def test_never_equal_to_str_and_one_dimension_multi_is_not_single():
    assert PartitionKey.single("a") != "a"
    assert "a" != PartitionKey.single("a")
    assert PartitionKey.multi({"a": "b"}) != PartitionKey.single("a=b")
    assert PartitionKey.multi({"d": "x"}) != PartitionKey.single("x")


def test_not_orderable():
    with pytest.raises(TypeError, match="not orderable"):
        PartitionKey.single("a") < PartitionKey.single("b")  # noqa: B015
    with pytest.raises(TypeError):
        sorted([PartitionKey.single("b"), PartitionKey.single("a")])


def test_display_forms():
    assert str(PartitionKey.single(["b", "a"])) == "a,b"
    assert str(PartitionKey.single("2024-01-15")) == "2024-01-15"
    assert str(PartitionKey.multi({"r": ["us", "eu"], "d": "x"})) == "d=x|r=eu,us"
    members = PartitionKey.Set([PartitionKey.single("a"), PartitionKey.multi({"d": "x"})])
    assert str(members) == "a, d=x"


def test_reprs_match_the_spec():
    assert repr(PartitionKey.single("2024-01-15")) == 'PartitionKey("2024-01-15")'
    assert repr(PartitionKey.single(["b", "a"])) == 'PartitionKey(["a", "b"])'
    assert (
        repr(PartitionKey.multi({"region": ["us", "eu"], "date": "2024-01-15"}))
        == 'PartitionKey({"date": "2024-01-15", "region": ["eu", "us"]})'
    )
    assert repr(PartitionKey.Set([PartitionKey.single("a")])) == 'PartitionKey.Set([PartitionKey("a")])'


def test_reserved_characters_are_not_checked_at_construction():
    assert str(PartitionKey.single("a|b")) == "a|b"


def test_json_round_trip():
    single = PartitionKey.single("a")
    multi = PartitionKey.multi({"r": "us", "d": "x"})
    bundle = PartitionKey.Set([single, multi])
    assert single.to_json() == '{"single":["a"]}'
    assert multi.to_json() == '{"multi":{"d":["x"],"r":["us"]}}'
    assert bundle.to_json() == '{"set":[{"single":["a"]},{"multi":{"d":["x"],"r":["us"]}}]}'
    for key in (single, multi, bundle, PartitionKey.single(["x", "y"])):
        assert PartitionKey.from_json(key.to_json()) == key


@pytest.mark.parametrize(
    "text", ["nope", "[]", '{"single": []}', '{"single": "a"}', '{"other": ["a"]}', '{"single":["a"],"multi":{}}']
)
def test_bad_json(text):
    with pytest.raises(PartitionDefinitionError, match="invalid partition key JSON"):
        PartitionKey.from_json(text)


def test_members_expand_and_sort():
    assert PartitionKey.single(["b", "a", "a"]).members() == [PartitionKey.single("a"), PartitionKey.single("b")]
    one = PartitionKey.single("a")
    assert one.members() == [one] and one.members()[0] is one
    multi = PartitionKey.multi({"d": ["2", "1"], "r": "us"})
    assert [str(k) for k in multi.members()] == ["d=1|r=us", "d=2|r=us"]
    bundle = PartitionKey.Set([PartitionKey.single("b"), PartitionKey.single(["a", "b"])])
    assert bundle.members() == [PartitionKey.single("a"), PartitionKey.single("b")]


def test_single_value():
    assert PartitionKey.single("a").single_value() == "a"
    assert PartitionKey.single(["a", "b"]).single_value() is None
    assert PartitionKey.multi({"d": "x"}).single_value() is None
    assert PartitionKey.Set([PartitionKey.single("a")]).single_value() is None


def test_path_suffix():
    assert PartitionKey.single("a").path_suffix() == "a"
    assert PartitionKey.single(["b", "a"]).path_suffix() == "a/b"
    assert PartitionKey.multi({"r": ["us", "eu"], "d": "x"}).path_suffix() == "d=x/r=eu|us"


def test_dimension_values():
    key = PartitionKey.multi({"r": ["us", "eu"], "d": "x"})
    assert key.dimension_values("r") == ["eu", "us"]
    with pytest.raises(PartitionValidationError, match="no dimension 'nope'.*d, r"):
        key.dimension_values("nope")
    with pytest.raises(PartitionValidationError, match="no dimension 'd'"):
        PartitionKey.single("a").dimension_values("d")


@pytest.mark.parametrize(
    "key",
    [
        PartitionKey.single("a"),
        PartitionKey.single(["a", "b"]),
        PartitionKey.multi({"d": "2024-01-01", "r": ["eu", "us"]}),
        PartitionKey.multi({"d": "x=y"}),
    ],
)
def test_parse_display_inverts_str(key):
    assert parse_display(str(key)) == key
    assert PartitionKey.parse_display(str(key)) == key


def test_parse_display_disambiguation_and_errors():
    assert parse_display("a=b") == PartitionKey.multi({"a": "b"})
    assert parse_display("a=b", multi=False) == PartitionKey.single("a=b")
    with pytest.raises(PartitionDefinitionError, match="cannot parse 'a' as a multi-dimensional"):
        parse_display("a", multi=True)
    with pytest.raises(PartitionDefinitionError):
        parse_display("d=x|d=y")


@pytest.mark.parametrize(
    ("key", "text"),
    [
        (PartitionKey.single("a"), "a"),
        (PartitionKey.single(["a", "b"]), "a,b"),
        (PartitionKey.multi({"d": "x", "r": ["eu", "us"]}), "d=x|r=eu,us"),
        (PartitionKey.multi({"a": "b"}), "a=b"),
        (PartitionKey.single("a=b"), ",a=b"),  # would read back as the multi key above without the mark
        (PartitionKey.single(["a=b", "c"]), ",a=b,c"),
    ],
)
def test_stored_text_is_the_display_string_made_unambiguous(key, text):
    assert key.stored_text() == text
    assert from_stored_text(text) == key
    assert type(from_stored_text(text)) is type(key)


def test_as_partition_key():
    key = PartitionKey.single("a")
    assert as_partition_key(key) is key
    assert as_partition_key("a") == key
    assert as_partition_key({"d": "x"}) == PartitionKey.multi({"d": "x"})
    with pytest.raises(TypeError, match="got int.*PartitionKey, a str.*dict"):
        as_partition_key(3)


def test_set_requires_members():
    with pytest.raises(PartitionDefinitionError):
        PartitionKey.Set([])
    with pytest.raises(TypeError):
        PartitionKey.Set(["a"])


def test_keys_pickle():
    for key in (
        PartitionKey.single("a"),
        PartitionKey.single(["a", "b"]),
        PartitionKey.multi({"d": "x"}),
        PartitionKey.Set([PartitionKey.single("a")]),
    ):
        assert pickle.loads(pickle.dumps(key)) == key


class _Region(enum.StrEnum):
    EU = "eu"
    US = "us"


def test_str_subclass_values_are_one_value_not_characters():
    """A ``StrEnum`` member (a ``str`` subclass) is one value; it used to be read as a tuple of characters."""
    for key in (PartitionKey.single(_Region.EU), PartitionKey.single([_Region.EU]), as_partition_key(_Region.EU)):
        assert str(key) == "eu"
        assert key.key == ["eu"]
        assert key.values == ("eu",)
        assert key.members() == [key]
        assert key.single_value() == "eu"
        assert key.path_suffix() == "eu"
        assert repr(key) == 'PartitionKey("eu")'
        assert key == PartitionKey.single("eu")
    multi = PartitionKey.multi({"region": _Region.EU, "date": "2024-01-01"})
    assert str(multi) == "date=2024-01-01|region=eu"
    keys = PartitionsDefinition.static_([_Region.EU, _Region.US]).get_partition_keys()
    assert [str(key) for key in keys] == ["eu", "us"]
    assert PartitionsDefinition.multi(
        {"region": PartitionsDefinition.static_([_Region.EU, _Region.US])}
    ).validate_partition_key(PartitionKey.multi({"region": "eu"}))
