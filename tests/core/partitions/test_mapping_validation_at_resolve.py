"""Partition mappings are checked when the repository is validated or resolved, not when a run loads them."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

import rivers as rs
from rivers.exceptions import PartitionValidationError

PD, PM, K, R = rs.PartitionsDefinition, rs.PartitionMapping, rs.PartitionKey, rs.PartitionKeyRange
D = dt.datetime
DAILY, HOURLY = PD.daily(D(2024, 1, 1)), PD.hourly(D(2024, 1, 1))
ABC = PD.static_(["a", "b", "c"])
DATE_REGION = PD.multi({"date": DAILY, "region": PD.static_(["eu", "us"])})


def repo_with_edge(upstream_def: Any, downstream_def: Any, mapping: Any) -> rs.CodeRepository:
    @rs.Asset(partitions_def=upstream_def)
    def up() -> int:
        return 1

    deps = [rs.AssetDef.input("up", partition_mapping=mapping)] if mapping is not None else None

    @rs.Asset(partitions_def=downstream_def, deps=deps)
    def down(up: int) -> int:
        return up

    return rs.CodeRepository(assets=[up, down])


def rejected(upstream_def: Any, downstream_def: Any, mapping: Any, fragment: str) -> None:
    for check in ("validate", "resolve"):
        repo = repo_with_edge(upstream_def, downstream_def, mapping)
        with pytest.raises(PartitionValidationError) as info:
            repo.validate() if check == "validate" else repo.resolve(rs.Storage.memory())
        message = str(info.value)
        assert message.startswith("asset 'down' depends on 'up': "), message
        assert fragment in message, message


@pytest.mark.parametrize("upstream_def, downstream_def, fragment", [
    (DAILY, PD.daily(D(2024, 1, 1), fmt="%Y%m%d"), "TimeWindow mapping requires the same key format"),
    (PD.time_window(D(2024, 1, 1), interval_seconds=3600), PD.time_window(D(2024, 1, 1, 0, 30), interval_seconds=3600),
     "is not on the upstream grid (interval 3600s"),
    (PD.time_window(D(2024, 1, 1), cron_schedule="0 0 * * 1"), PD.time_window(D(2024, 1, 1), cron_schedule="0 0 * * 2"),
     "is not on the upstream grid (cron '0 0 * * 1'"),
    (PD.time_window(D(2024, 1, 1), cron_schedule="0 0 * * 1"),
     PD.time_window(D(2024, 1, 1), cron_schedule="0 0 1 * *", fmt="%Y-%m"), "grids that do not line up"),
])
def test_time_window_mappings_between_grids_that_do_not_line_up(upstream_def: Any, downstream_def: Any,
                                                                 fragment: str) -> None:
    rejected(upstream_def, downstream_def, PM.time_window(-1), fragment)


@pytest.mark.parametrize("upstream_def, downstream_def", [
    (HOURLY, DAILY),  # a day is 24 hours: the daily grid lies on the hourly one
    (DAILY, HOURLY),
    (DAILY, PD.time_window(D(2024, 1, 1), cron_schedule="0 0 * * 1")),
    (PD.time_window(D(2024, 1, 1), interval_seconds=1800), PD.time_window(D(2024, 1, 1, 1), interval_seconds=3600)),
])
def test_time_window_mappings_between_grids_that_line_up_are_accepted(upstream_def: Any, downstream_def: Any) -> None:
    repo_with_edge(upstream_def, downstream_def, PM.time_window(-1)).validate()


@pytest.mark.parametrize("upstream_def, downstream_def, fragment", [
    (HOURLY, DAILY, "Identity mapping: downstream grid (cron '0 0 * * *') is not on the upstream grid"),
    (DAILY, PD.daily(D(2024, 1, 1), fmt="%Y%m%d"), "Identity mapping requires the same key format"),
    (PD.static_(["a"]), PD.static_(["b"]), "Identity mapping requires every downstream key upstream; downstream keys "
                                           "missing upstream: b"),
    (PD.dynamic("users"), PD.dynamic("accounts"), "Identity mapping requires the same dynamic namespace"),
])
def test_identity_mappings_that_cannot_hold(upstream_def: Any, downstream_def: Any, fragment: str) -> None:
    rejected(upstream_def, downstream_def, PM.identity(), fragment)


def test_specific_partitions_with_unknown_keys() -> None:
    rejected(ABC, None, PM.specific_partitions(["a", "zz"]), "SpecificPartitions keys must be upstream partition "
                                                             "keys; not keys of the upstream (static partitions")
    rejected(DATE_REGION, None, PM.specific_partitions(["nope"]), "SpecificPartitions keys must be upstream")


@pytest.mark.parametrize("selector, fragment", [
    (K.single("zz"), "ForKeys selector 'zz' is not a valid downstream partition key"),
    (R.single("c", "a"), "from_key 'c' is after to_key 'a'"),
    (R.single("a", "zz"), "Range endpoint 'zz' is not a partition key; nearest valid key is"),
])
def test_for_keys_selectors_must_fit_the_downstream(selector: Any, fragment: str) -> None:
    rejected(None, ABC, PM.for_keys([selector]), fragment)


def test_for_keys_with_an_unknown_dimension() -> None:
    rejected(None, DATE_REGION, PM.for_keys([K.multi({"date": "2024-01-01", "zone": "eu"})]),
             "is not a valid downstream partition key (multi partitions")


@pytest.mark.parametrize("upstream_def, downstream_def, mapping, fragment", [
    (DAILY, DATE_REGION, PM.multi_to_single("nope"), "MultiToSingle dimension 'nope' is not a dimension of the "
                                                     "downstream; downstream dimensions: date, region"),
    (PD.static_(["x"]), DATE_REGION, PM.multi_to_single("date"), "in dimension 'date': Identity mapping requires "
                                                                 "same partition type"),
    (DATE_REGION, DATE_REGION, PM.multi_to_single("date"), "MultiToSingle mapping requires Multi partitions on "
                                                           "exactly one side"),
    (DAILY, DAILY, PM.multi_to_single("date"), "MultiToSingle mapping requires Multi partitions on exactly one side"),
])
def test_multi_to_single_mismatches(upstream_def: Any, downstream_def: Any, mapping: Any, fragment: str) -> None:
    rejected(upstream_def, downstream_def, mapping, fragment)


@pytest.mark.parametrize("mapping", [PM.all_partitions(), PM.time_window(-1), PM.static_({"a": "b"})])
def test_a_non_identity_mapping_between_two_unpartitioned_assets(mapping: Any) -> None:
    rejected(None, None, mapping, "partition_mapping specified but neither asset has partitions")
    repo_with_edge(None, None, PM.identity()).validate()  # identity is harmless


def test_a_valid_mapping_still_runs() -> None:
    repo = repo_with_edge(HOURLY, DAILY, PM.time_window(0))
    repo.resolve(rs.Storage.memory())
    assert repo.validate() is None
