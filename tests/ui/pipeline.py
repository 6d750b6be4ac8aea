"""The example repository of the UI tests (a TARGET for ``rivers ui``): lineage, a failing asset,
numeric metadata, a daily-partitioned asset and a slow one, with a schedule and a sensor.

``RIVERS_UI_TEST_SLOW`` (seconds, default 0) slows ``slow`` and every partition of ``daily``, so
that the browser tests can watch a run and cancel a backfill while they go.
"""

from __future__ import annotations

import os
import time
from datetime import datetime

import rivers as rs

fs = rs.io_handler("fs", base_dir="data")
SLOW_S = float(os.environ.get("RIVERS_UI_TEST_SLOW", "0"))
_DAILY = rs.PartitionsDefinition.daily(datetime(2020, 1, 1), datetime(2020, 4, 10))


@rs.Asset(io_handler=fs, group="raw", kinds="table", description="Orders as exported by the shop.")
def orders(context: rs.AssetExecutionContext) -> list[int]:
    rows = list(range(100 + len(context.run_id) % 7))
    context.add_output_metadata({"rows": len(rows), "note": "exported"})
    return rows


@rs.Asset(io_handler=fs, group="clean")
def cleaned(orders: list[int]) -> list[int]:
    return [row for row in orders if row % 2 == 0]


@rs.Asset(io_handler=fs, group="report", automation_condition=rs.AutomationCondition.eager())
def revenue(cleaned: list[int]) -> int:
    return sum(cleaned)


@rs.Asset(io_handler=fs, group="raw")
def broken() -> int:
    raise ValueError("the export is corrupt: row 7 has no amount")


@rs.Asset(io_handler=fs, group="clean")
def slow() -> int:
    time.sleep(SLOW_S)
    return 1


@rs.Asset(io_handler=fs, group="raw", partitions_def=_DAILY)
def daily(context: rs.AssetExecutionContext) -> int:
    time.sleep(SLOW_S / 4)
    return len(str(context.partition_key))


job = rs.Job("orders_job", assets=[orders])
nightly = rs.Schedule(cron_schedule="0 2 * * *", job_name="orders_job", name="nightly", timezone="UTC")

repo = rs.CodeRepository(assets=[orders, cleaned, revenue, broken, slow, daily], jobs=[job], schedules=[nightly])
