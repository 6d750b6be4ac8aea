"""A job's partitioned assets must share partition keys: checked at validate() and resolve()."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

import rivers as rs
from rivers.exceptions import PartitionValidationError

PD = rs.PartitionsDefinition
D = dt.datetime


def job_repo(*definitions: Any) -> rs.CodeRepository:
    assets = [rs.Asset(lambda: 1, name=f"a{i}", partitions_def=d) for i, d in enumerate(definitions)]
    return rs.CodeRepository(assets=assets, jobs=[rs.Job(name="nightly", assets=assets)])


@pytest.mark.parametrize("left, right, reason", [
    (PD.static_(["a"]), PD.static_(["b"]), 'disjoint Static keys (["a"] vs ["b"])'),
    (PD.static_(["a"]), PD.daily(D(2024, 1, 1)), "different partition kinds (Static vs TimeWindow)"),
    (PD.static_(["a"]), PD.dynamic("users"), "different partition kinds (Static vs Dynamic)"),
    (PD.daily(D(2024, 1, 1), end=D(2024, 2, 1)), PD.daily(D(2025, 1, 1)),
     "TimeWindow date ranges don't overlap ([2024-01-01T00:00:00, 2024-02-01T00:00:00) vs "
     "[2025-01-01T00:00:00, ∞))"),
    (PD.daily(D(2024, 1, 1)), PD.hourly(D(2024, 1, 1)), "TimeWindow cadence mismatch (cron='0 0 * * *' vs "
                                                        "cron='0 * * * *')"),
    (PD.daily(D(2024, 1, 1)), PD.daily(D(2024, 1, 1), fmt="%Y%m%d"), "TimeWindow key formats differ"),
    (PD.time_window(D(2024, 1, 1), interval_seconds=3600), PD.time_window(D(2024, 1, 1, 0, 30), interval_seconds=3600),
     "TimeWindow grids are not aligned"),
    (PD.multi({"a": PD.static_(["x"])}), PD.multi({"b": PD.static_(["x"])}),
     'Multi dimension name mismatch (["a"] vs ["b"])'),
    (PD.multi({"a": PD.static_(["x"])}), PD.multi({"a": PD.static_(["y"])}),
     "in dimension 'a': disjoint Static keys"),
    (PD.dynamic("users"), PD.dynamic("accounts"), "Dynamic namespace mismatch ('users' vs 'accounts')"),
])
def test_incompatible_definitions_fail_naming_the_job_and_the_assets(left: Any, right: Any, reason: str) -> None:
    for check in (lambda repo: repo.validate(), lambda repo: repo.resolve(rs.Storage.memory())):
        with pytest.raises(PartitionValidationError) as info:
            check(job_repo(left, right))
        message = str(info.value)
        assert message.startswith("Job 'nightly' has incompatible partition definitions: assets [\"a0\"] "
                                  "intersect, but adding 'a1' fails: "), message
        assert reason in message


@pytest.mark.parametrize("definitions", [
    (PD.static_(["a", "b"]), PD.static_(["b", "c"])),
    (PD.daily(D(2024, 1, 1), end=D(2024, 3, 1)), PD.daily(D(2024, 2, 1))),
    (PD.multi({"d": PD.static_(["x", "y"]), "r": PD.static_(["eu"])}),
     PD.multi({"r": PD.static_(["eu", "us"]), "d": PD.static_(["y"])})),
    (PD.dynamic("users"), PD.dynamic("users")),
    (PD.time_window(D(2024, 1, 1), interval_seconds=3600), PD.time_window(D(2024, 1, 3), interval_seconds=3600)),
])
def test_overlapping_definitions_are_accepted(definitions: tuple[Any, ...]) -> None:
    repo = job_repo(*definitions)
    repo.validate()
    repo.resolve(rs.Storage.memory())


def test_three_or_more_assets_fold_pairwise_by_intersection() -> None:
    job_repo(PD.static_(["a", "b", "c"]), PD.static_(["b", "c", "d"]), PD.static_(["c", "d", "e"])).validate()
    # each pair overlaps, but the first two share only "b", which the third lacks
    with pytest.raises(PartitionValidationError) as info:
        job_repo(PD.static_(["a", "b"]), PD.static_(["b", "c"]), PD.static_(["c", "d"])).validate()
    assert "assets [\"a0\", \"a1\"] intersect, but adding 'a2' fails: disjoint Static keys ([\"b\"] vs" in str(
        info.value)
    with pytest.raises(PartitionValidationError, match="date ranges don't overlap"):
        job_repo(PD.daily(D(2024, 1, 1), end=D(2024, 2, 1)), PD.daily(D(2024, 1, 15)),
                 PD.daily(D(2023, 1, 1), end=D(2024, 1, 10))).validate()


def test_unpartitioned_assets_and_assets_outside_the_job_do_not_count() -> None:
    part = rs.Asset(lambda: 1, name="part", partitions_def=PD.static_(["a"]))
    other = rs.Asset(lambda: 1, name="other", partitions_def=PD.static_(["b"]))
    plain = rs.Asset(lambda: 1, name="plain")
    repo = rs.CodeRepository(assets=[part, other, plain], jobs=[rs.Job(name="j", assets=[part, plain])])
    repo.validate()
