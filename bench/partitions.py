"""Partitions: key enumeration, one-partition-per-run materialisation, and backfills.

    python bench/partitions.py                  # every measurement below
    python bench/partitions.py --backfill 1000 --runs 200 --repeat 3

Measured, each in a fresh temporary directory with the embedded (SQLite)
default storage:

* ``enumerate``  ``PartitionsDefinition.hourly`` over ten years (87,600 keys):
  definition + ``get_partition_keys()`` + ``len`` + a 1,000-key slice + a
  range lookup (microseconds), and ``list()`` of every ``PartitionKey``;
  ``validate_partition_key`` on an open-ended daily grid (µs per call);
* ``materialize``  the shared ``partitions`` workload: a daily-partitioned
  asset materialised one partition per ``materialize()`` call (µs per
  partition until the last call returns, and until the last group commit of
  the embedded storage is written too; ``../shared/bench/compare.py
  --workloads partitions:200`` runs the same workload against the published
  package, timed like the first number, after ``import rivers`` but including
  the first run's set-up, which this one resolves before timing);
* ``backfill``  a ``multi_run`` and a ``single_run`` backfill of N daily
  partitions of a two-asset chain (per-partition time and runs per second);
  ``multi_run`` with the default ``max_concurrency=4`` and with 1 (these
  steps only compute, so threads cannot overlap anything: the difference is
  what running four at a time costs).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parent.parent
SRC = ROOT / "rivers-core" / "src"
if str(SRC) not in sys.path:
    sys.path.insert(0, str(SRC))

import rivers as rs  # noqa: E402

_perf = time.perf_counter


def in_fresh_directory(function: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """Run ``function`` inside a new temporary directory (its own ``.rivers`` storage)."""
    previous = os.getcwd()
    with tempfile.TemporaryDirectory(prefix="rivers-bench-partitions-") as directory:
        os.chdir(directory)
        try:
            return function()
        finally:
            os.chdir(previous)


def enumerate_hourly() -> dict[str, Any]:
    rs.PartitionsDefinition.hourly(dt.datetime(2000, 1, 1), dt.datetime(2000, 1, 2))  # imports, not timed
    start = _perf()
    hourly = rs.PartitionsDefinition.hourly(dt.datetime(2014, 1, 1), dt.datetime(2024, 1, 1))
    keys = hourly.get_partition_keys()
    count = len(keys)
    window = keys[40_000:41_000]
    found = list(hourly.resolve_range(rs.PartitionKeyRange.single("2020-02-29T00:00", "2020-02-29T23:00")))
    lookup_us = (_perf() - start) * 1e6
    start = _perf()
    every = list(keys)
    list_ms = (_perf() - start) * 1e3
    assert count == len(every) == 87_648 and len(window) == 1000 and len(found) == 24
    daily = rs.PartitionsDefinition.daily(dt.datetime(2000, 1, 1))
    key = rs.PartitionKey.single("2012-06-15")
    calls = 20_000
    start = _perf()
    for _ in range(calls):
        daily.validate_partition_key(key)
    validate_us = (_perf() - start) / calls * 1e6
    return {"keys": count, "define_count_slice_range_us": round(lookup_us, 1), "list_all_ms": round(list_ms, 1),
            "validate_open_daily_us": round(validate_us, 2)}


def materialize_per_partition(runs: int) -> dict[str, Any]:
    daily = rs.PartitionsDefinition.daily(start=dt.datetime(2000, 1, 1))

    @rs.Asset(partitions_def=daily)
    def events(context: rs.AssetExecutionContext) -> str:
        return context.partition_key

    repo = rs.CodeRepository(assets=[events], default_executor=rs.Executor.in_process())
    day0 = dt.date(2000, 1, 1)
    keys = [(day0 + dt.timedelta(days=i)).isoformat() for i in range(runs)]
    repo.resolve()
    start = _perf()
    ok = all(repo.materialize(partition_key=rs.PartitionKey.single(k)).success for k in keys)
    returned = _perf() - start
    stored = repo.storage.count_materialized_partitions("events")  # a read: commits the last group first
    committed = _perf() - start
    assert ok and stored == runs
    return {"runs": runs, "us_per_partition": round(returned / runs * 1e6, 1),
            "us_per_partition_committed": round(committed / runs * 1e6, 1)}


def _chain(days: Any) -> rs.CodeRepository:
    @rs.Asset(partitions_def=days)
    def raw(context: rs.AssetExecutionContext) -> Any:
        keys = context.partition.keys  # a single_run step gets every key: one value per key
        return {key: 1 for key in keys} if len(keys) > 1 else 1

    @rs.Asset(partitions_def=days)
    def clean(context: rs.AssetExecutionContext, raw: Any) -> Any:
        return raw if len(context.partition.keys) == 1 else {key: 2 for key in context.partition.keys}

    return rs.CodeRepository(assets=[raw, clean], default_executor=rs.Executor.in_process())


def backfill(partitions: int, strategy: str, max_concurrency: int = 4) -> dict[str, Any]:
    start_day = dt.datetime(2000, 1, 1)
    days = rs.PartitionsDefinition.daily(start_day, start_day + dt.timedelta(days=partitions))
    repo = _chain(days)
    repo.resolve()
    chosen = rs.BackfillStrategy.single_run() if strategy == "single_run" else rs.BackfillStrategy.multi_run()
    last = (start_day + dt.timedelta(days=partitions - 1)).strftime("%Y-%m-%d")
    started = _perf()
    result = repo.backfill(partition_range=rs.PartitionKeyRange.single("2000-01-01", last), strategy=chosen,
                           max_concurrency=max_concurrency)
    elapsed = _perf() - started
    assert result.status == "CompletedSuccess" and result.completed == partitions, result
    assert repo.storage.count_materialized_partitions("clean") == partitions
    return {"strategy": strategy, "max_concurrency": max_concurrency, "partitions": partitions,
            "runs": result.num_runs, "seconds": round(elapsed, 3),
            "us_per_partition": round(elapsed / partitions * 1e6, 1)}


def best(measure: Callable[[], dict[str, Any]], key: str, repeat: int) -> dict[str, Any]:
    """The measurement with the lowest ``key`` over ``repeat`` fresh-directory repetitions (and the median)."""
    results = [in_fresh_directory(measure) for _ in range(repeat)]
    chosen = min(results, key=lambda r: r[key])
    return {**chosen, f"median_{key}": statistics.median(r[key] for r in results)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=200, help="partitions materialised one per run")
    parser.add_argument("--backfill", type=int, default=1000, help="partitions per backfill")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    args = parser.parse_args()
    results = {
        "enumerate": best(enumerate_hourly, "list_all_ms", args.repeat),
        "materialize": best(lambda: materialize_per_partition(args.runs), "us_per_partition", args.repeat),
        "backfill_multi_run": best(lambda: backfill(args.backfill, "multi_run"), "us_per_partition", args.repeat),
        "backfill_multi_run_1": best(lambda: backfill(args.backfill, "multi_run", max_concurrency=1),
                                     "us_per_partition", args.repeat),
        "backfill_single_run": best(lambda: backfill(args.backfill, "single_run"), "us_per_partition", args.repeat),
    }
    for name, values in results.items():
        print(f"{name:22s} " + "  ".join(f"{k}={v}" for k, v in values.items()))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
