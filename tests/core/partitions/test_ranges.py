"""PartitionKeyRange: factories, errors, value semantics and reprs."""

from __future__ import annotations

import pytest

from rivers.exceptions import PartitionDefinitionError
from rivers.partitions import PartitionKeyRange


def test_base_class_cannot_be_instantiated():
    with pytest.raises(TypeError, match="cannot create 'PartitionKeyRange' instances"):
        PartitionKeyRange()


def test_single_range():
    r = PartitionKeyRange.single("a", "b")
    assert isinstance(r, PartitionKeyRange.Single)
    assert (r.from_key, r.to_key) == ("a", "b")
    assert repr(r) == 'PartitionKeyRange.single(from_key="a", to_key="b")'
    with pytest.raises(TypeError, match="from_key must be a str"):
        PartitionKeyRange.single(1, "b")


def test_multi_range_sorts_dimensions_and_keeps_lists_and_ranges():
    r = PartitionKeyRange.multi({"b": ("1", "2"), "a": ["x", "y"]})
    assert isinstance(r, PartitionKeyRange.Multi)
    assert list(r.dimensions) == ["a", "b"]
    assert r.dimensions == {"a": ["x", "y"], "b": ("1", "2")}
    assert repr(r) == 'PartitionKeyRange.multi({"a": ["x", "y"], "b": ("1", "2")})'


def test_multi_range_errors():
    with pytest.raises(PartitionDefinitionError, match="dimensions dict must not be empty"):
        PartitionKeyRange.multi({})
    with pytest.raises(PartitionDefinitionError, match="key list for dimension 'x' must not be empty"):
        PartitionKeyRange.multi({"x": []})
    with pytest.raises(TypeError):
        PartitionKeyRange.multi({"x": "a"})
    with pytest.raises(TypeError, match="pair"):
        PartitionKeyRange.multi({"x": ("a", "b", "c")})


def test_value_equality_and_hash():
    assert PartitionKeyRange.single("a", "b") == PartitionKeyRange.single("a", "b")
    assert PartitionKeyRange.single("a", "b") != PartitionKeyRange.single("b", "a")
    assert hash(PartitionKeyRange.single("a", "b")) == hash(PartitionKeyRange.single("a", "b"))
    m1 = PartitionKeyRange.multi({"a": ["x"], "b": ("1", "2")})
    m2 = PartitionKeyRange.multi({"b": ("1", "2"), "a": ["x"]})
    assert m1 == m2 and hash(m1) == hash(m2)
    # a two-key list is not the same selection as a (from, to) range
    assert PartitionKeyRange.multi({"a": ["1", "2"]}) != PartitionKeyRange.multi({"a": ("1", "2")})
    assert PartitionKeyRange.single("a", "b") != PartitionKeyRange.multi({"a": ("a", "b")})
