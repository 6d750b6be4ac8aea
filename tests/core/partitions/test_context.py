"""PartitionContext: expansion of keys, time windows, repr, cost."""

from __future__ import annotations

import datetime as dt
import pickle
import timeit

import pytest

from rivers.partitions import PartitionContext, PartitionKey, PartitionsDefinition

DAYS = PartitionsDefinition.daily(dt.datetime(2024, 1, 1), dt.datetime(2024, 2, 1))


def test_empty_keys_are_rejected():
    with pytest.raises(ValueError, match="PartitionContext keys must not be empty"):
        PartitionContext([], DAYS)


def test_single_key():
    key = PartitionKey.single("2024-01-05")
    context = PartitionContext([key], DAYS)
    assert context.keys == [key] and context.key is key and context.definition is DAYS
    assert context.time_window() == (dt.datetime(2024, 1, 5), dt.datetime(2024, 1, 6))


def test_multi_valued_key_is_expanded_sorted():
    context = PartitionContext([PartitionKey.single(["2024-01-07", "2024-01-05"])], DAYS)
    assert context.keys == [PartitionKey.single("2024-01-05"), PartitionKey.single("2024-01-07")]
    assert context.key == PartitionKey.single("2024-01-05")
    assert context.time_window() is None


def test_batched_keys_are_merged_deduplicated_and_sorted():
    keys = [PartitionKey.single("b"), PartitionKey.single(["a", "b"]), PartitionKey.single("c")]
    context = PartitionContext(keys, PartitionsDefinition.static_(["a", "b", "c"]))
    assert [str(k) for k in context.keys] == ["a", "b", "c"]


def test_multi_key_members_and_no_time_window():
    grid = PartitionsDefinition.multi({"date": DAYS, "region": PartitionsDefinition.static_(["eu", "us"])})
    key = PartitionKey.multi({"date": "2024-01-05", "region": ["us", "eu"]})
    context = PartitionContext([key], grid)
    assert [str(k) for k in context.keys] == ["date=2024-01-05|region=eu", "date=2024-01-05|region=us"]
    one = PartitionContext([PartitionKey.multi({"date": "2024-01-05", "region": "us"})], grid)
    assert one.time_window() is None  # multi-dimensional keys have no window, even with a time dimension


def test_time_window_none_for_static_definitions():
    assert PartitionContext([PartitionKey.single("a")], PartitionsDefinition.static_(["a"])).time_window() is None


def test_strings_are_accepted_as_keys():
    assert PartitionContext(["2024-01-05", "2024-01-04"], DAYS).key == PartitionKey.single("2024-01-04")


def test_repr():
    context = PartitionContext([PartitionKey.single("2024-01-05")], DAYS)
    assert repr(context) == (
        'PartitionContext(keys=[PartitionKey("2024-01-05")], definition=PartitionsDefinition.time_window('
        'cron="0 0 * * *", start=2024-01-01T00:00:00, fmt="%Y-%m-%d", end=2024-02-01T00:00:00))'
    )


def test_pickles():
    context = PartitionContext([PartitionKey.single("2024-01-05")], DAYS)
    clone = pickle.loads(pickle.dumps(context))
    assert clone == context and clone.time_window() == context.time_window()


def test_construction_is_cheap():
    key = PartitionKey.single("2024-01-05")
    per_call = min(timeit.repeat(lambda: PartitionContext([key], DAYS), number=2000, repeat=3)) / 2000
    assert per_call < 20e-6  # a few µs on a slow machine; generous bound against noise
