"""Helpers shared by the tests split out of ``test_backfills.py``."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any
import rivers as rs


DB = Path(".rivers") / "rivers.db"


LETTERS = ["a", "b", "c", "d", "e"]


PRIORITY = ("rivers/priority", "-10")


def letters() -> rs.PartitionsDefinition:
    return rs.PartitionsDefinition.static_(LETTERS)


def days() -> rs.PartitionsDefinition:
    return rs.PartitionsDefinition.daily(dt.datetime(2024, 1, 1), dt.datetime(2024, 2, 1))


def repo_of(*assets: Any, **kwargs: Any) -> rs.CodeRepository:
    """A repository run in-process against the default SQLite storage of the working directory."""
    kwargs.setdefault("default_executor", rs.Executor.in_process())
    return rs.CodeRepository(assets=list(assets), **kwargs)


def key(value: Any) -> rs.PartitionKey:
    return rs.PartitionKey.single(value) if isinstance(value, (str, list)) else rs.PartitionKey.multi(value)


def texts(keys: Any) -> list[str]:
    return [str(k) for k in keys]


def statuses(result: Any) -> dict[str, str]:
    """``{str(key): status}`` of a BackfillResult or BackfillStatus."""
    return {str(k): s for k, s in result.partition_statuses.items()}


def letter_asset(calls: list[str], broken: set[str] | None = None, **options: Any) -> Any:
    """A letters-partitioned asset ``letter`` that records the keys it ran and fails on ``broken`` ones."""

    @rs.Asset(partitions_def=letters(), **options)
    def letter(context: rs.AssetExecutionContext) -> str:
        calls.extend(texts(context.partition.keys))
        if broken and str(context.partition.key) in broken:
            raise ValueError(f"no data for {context.partition.key}")
        return str(context.partition.key).upper()

    return letter


READ_STATUS = """
    import json, sys
    import rivers as rs
    repo = rs.CodeRepository(assets=[])
    repo.resolve(rs.Storage.embedded(".rivers/rivers.db"))
    status = repo.get_backfill(sys.argv[1])
    print(json.dumps({"status": status.status, "total": status.total_partitions,
                      "completed": status.completed_partitions, "failed": status.failed_partitions,
                      "canceled": status.canceled_partitions, "run_ids": status.run_ids, "error": status.error,
                      "tags": status.tags, "launched_by": repr(status.launched_by)}))
"""


CANCEL = """
    import sys
    import rivers as rs
    repo = rs.CodeRepository(assets=[])
    repo.resolve(rs.Storage.embedded(".rivers/rivers.db"))
    print(repo.get_backfill(sys.argv[1]).status, repo.cancel_backfill(sys.argv[1]))
"""


def backfill_of_run(context: rs.AssetExecutionContext) -> str:
    """The id of the backfill that launched the running step, read back from storage."""
    with rs.Storage.embedded(DB) as storage:
        return storage.get_run(context.run_id).launched_by.backfill_id
