"""Definitions shared by the mapping tests (edge checks and run-time resolution)."""

from __future__ import annotations

import datetime as dt

from rivers.partitions import PartitionKey, PartitionsDefinition
from rivers.partitions.mappings.base import PartitionMapping

M = PartitionMapping
PD = PartitionsDefinition
K = PartitionKey

DAILY = PD.daily(dt.datetime(2024, 1, 1), dt.datetime(2024, 1, 8))
HOURLY = PD.hourly(dt.datetime(2024, 1, 1), dt.datetime(2024, 1, 3))
AB = PD.static_(["a", "b"])
ABC = PD.static_(["a", "b", "c"])
REGIONS = PD.static_(["us", "eu"])
DATE_REGION = PD.multi({"date": DAILY, "region": REGIONS})
CUSTOMERS = PD.dynamic("cust")
