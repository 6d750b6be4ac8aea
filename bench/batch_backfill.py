"""A ``single_run`` backfill of a two-asset chain whose steps each return ONE plain value.

    python bench/batch_backfill.py                    # 2,000 daily keys, in-memory default handler
    python bench/batch_backfill.py --keys 5 --handler pickle --repeat 5

``ev`` returns one list for its whole batch and ``ev2`` (reading ``ev``)
returns one number: the common case of one DataFrame per range. The batch
value is stored once for the batch and loaded back by ``ev2`` (see
``rivers.io_handlers.partition_keys``). Uses only the public API, so the
same script runs against the published package (``--handler memory``).
Each repetition runs in a fresh temporary directory (its own embedded
storage); prints the median and best wall time of the ``backfill()`` call.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import tempfile
import time

import rivers as rs


def once(keys: int, handler: str) -> float:
    days = rs.PartitionsDefinition.daily(dt.datetime(2000, 1, 1))
    options = {}
    if handler == "pickle":
        from rivers_io_fs import LocalStore

        options["io_handler"] = rs.PickleIOHandler(store=LocalStore(prefix=os.path.abspath("values")))
    elif handler == "fs":
        options["io_handler"] = rs.io_handler("fs", base_dir="values")

    @rs.Asset(partitions_def=days, **options)
    def ev(context: rs.AssetExecutionContext) -> list:
        return [str(key) for key in context.partition.keys]

    @rs.Asset(partitions_def=days, **options)
    def ev2(ev: list) -> int:
        return len(ev)

    repo = rs.CodeRepository(assets=[ev, ev2], default_executor=rs.Executor.in_process())
    last = (dt.datetime(2000, 1, 1) + dt.timedelta(days=keys - 1)).strftime("%Y-%m-%d")
    started = time.perf_counter()
    result = repo.backfill(partition_range=rs.PartitionKeyRange.single("2000-01-01", last),
                           strategy=rs.BackfillStrategy.single_run())
    elapsed = time.perf_counter() - started
    assert result.status == "CompletedSuccess" and result.completed == keys, result
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keys", type=int, default=2000)
    parser.add_argument("--handler", choices=("memory", "pickle", "fs"), default="memory")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    times = []
    for _ in range(args.repeat):
        previous = os.getcwd()
        with tempfile.TemporaryDirectory(prefix="rivers-bench-batch-") as directory:
            os.chdir(directory)
            try:
                times.append(once(args.keys, args.handler))
            finally:
                os.chdir(previous)
    print(f"single_run batch-value backfill keys={args.keys} handler={args.handler} "
          f"median_s={statistics.median(times):.3f} best_s={min(times):.3f}")


if __name__ == "__main__":
    main()
