"""A plugin partition type: fiscal quarters (``FY2024-Q1`` ...) of a fiscal year starting in any month."""

from __future__ import annotations

import datetime as dt

from rivers.exceptions import PartitionDefinitionError
from rivers.partitions import KeyListDefinition


class FiscalQuarters(KeyListDefinition):
    """Quarters of fiscal years ``first_year..last_year``; fiscal year N starts in ``start_month`` of year N - 1.

    With ``start_month=4`` (April), ``FY2024-Q1`` is April-June 2023. Each
    key's time window is its quarter, so ``context.partition_time_window``
    works as for built-in time partitions.
    """

    __slots__ = ("first_year", "last_year", "start_month")
    kind = "fiscal_quarter"

    def __init__(self, first_year: int, last_year: int, start_month: int = 4) -> None:
        if not 1 <= start_month <= 12:
            raise PartitionDefinitionError(f"fiscal_quarter start_month must be 1-12, got {start_month}")
        if last_year < first_year:
            raise PartitionDefinitionError(f"fiscal_quarter last_year {last_year} is before first_year {first_year}")
        self.first_year = first_year
        self.last_year = last_year
        self.start_month = start_month

    def key_values(self) -> list[str]:
        return [f"FY{year}-Q{q}" for year in range(self.first_year, self.last_year + 1) for q in range(1, 5)]

    def window_for(self, value: str) -> tuple[dt.datetime, dt.datetime]:
        year, quarter = int(value[2:6]), int(value[-1])
        start = _add_months(dt.datetime(year - 1, self.start_month, 1), 3 * (quarter - 1))
        return start, _add_months(start, 3)

    def __repr__(self) -> str:
        return f"FiscalQuarters({self.first_year}, {self.last_year}, start_month={self.start_month})"


def _add_months(moment: dt.datetime, months: int) -> dt.datetime:
    index = moment.month - 1 + months
    return moment.replace(year=moment.year + index // 12, month=index % 12 + 1)
