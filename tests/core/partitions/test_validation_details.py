"""Small validation behaviours of the published package: partition keys, mappings, ranges, dynamic keys."""

from __future__ import annotations

import pytest

import rivers as rs
from rivers.exceptions import PartitionDefinitionError, PartitionValidationError


def test_context_partition_key_on_an_unpartitioned_asset_raises() -> None:
    @rs.Asset
    def plain(context: rs.AssetExecutionContext) -> str:
        return context.partition_key

    repo = rs.CodeRepository(assets=[plain])
    repo.resolve(rs.Storage.memory())
    with pytest.raises(PartitionValidationError, match="No partition key"):
        repo.materialize()


@pytest.mark.parametrize("text, fragment", [
    ('{"single": []}', 'a "single" partition key needs at least one value, got an empty list'),
    ('{"multi": {}}', 'a "multi" partition key needs at least one dimension'),
    ('{"multi": {"date": []}}', "a \"multi\" partition key needs at least one value in dimension 'date'"),
    ('{"set": []}', 'a "set" partition key needs at least one member key'),
])
def test_partition_key_json_with_an_empty_list_names_the_key_kind(text: str, fragment: str) -> None:
    with pytest.raises(PartitionDefinitionError) as info:
        rs.PartitionKey.from_json(text)
    assert str(info.value).startswith("invalid partition key JSON: ") and fragment in str(info.value)
    assert rs.PartitionKey.from_json('{"single": ["a"]}') == rs.PartitionKey.single("a")


def test_add_dynamic_partitions_with_no_keys_warns() -> None:
    storage = rs.Storage.memory()
    with pytest.warns(UserWarning, match=r"add_dynamic_partitions\('users', \[\]\): no keys given"):
        storage.add_dynamic_partitions("users", [])
    storage.add_dynamic_partitions("users", ["u1"])
    assert storage.get_dynamic_partitions("users") == ["u1"]


def test_specific_partitions_equality_ignores_the_order_of_keys() -> None:
    first = rs.PartitionMapping.specific_partitions(["a", "b"])
    second = rs.PartitionMapping.specific_partitions(["b", "a"])
    assert first == second and hash(first) == hash(second)
    assert first != rs.PartitionMapping.specific_partitions(["a", "c"])
    assert second.partition_keys == ["b", "a"]  # the keys as given
    assert repr(second) == 'PartitionMapping.specific_partitions(["b", "a"])'


def test_multi_range_equality_and_repr_ignore_the_order_of_listed_keys() -> None:
    first = rs.PartitionKeyRange.multi({"region": ["us", "eu"], "date": ("2024-01-01", "2024-01-02")})
    second = rs.PartitionKeyRange.multi({"date": ("2024-01-01", "2024-01-02"), "region": ["eu", "us"]})
    assert first == second and hash(first) == hash(second)
    assert repr(first) == repr(second) == (
        'PartitionKeyRange.multi({"date": ("2024-01-01", "2024-01-02"), "region": ["eu", "us"]})')
    # a (from, to) range is ordered: swapping its endpoints is another range
    assert rs.PartitionKeyRange.multi({"d": ("a", "b")}) != rs.PartitionKeyRange.multi({"d": ("b", "a")})
    assert first != rs.PartitionKeyRange.multi({"region": ["us"], "date": ("2024-01-01", "2024-01-02")})
