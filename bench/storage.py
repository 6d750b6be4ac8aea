"""Storage: event append through the contract, and the read API on a large embedded (SQLite) store.

    python bench/storage.py                          # 100,000 runs, 1,000,000 events, 1,000 assets
    python bench/storage.py --runs 10000 --events-per-run 10 --repeat 50

Builds, in a temporary directory, an embedded store with ``--runs`` runs
(``--events-per-run`` events each: StepStart, Materialization, StepSuccess,
... spread over ``--assets`` assets, some partitioned) through the storage
contract (``start_run`` for the runs, then ``append_events``), then times:

* ``append``  ``append_events`` in batches of ``--batch`` events (events per
  second over the whole build, and of the best batch);
* ``latest_runs``  ``query_runs(limit=50)``: the newest 50 runs; also with a
  status filter, a tag filter and the second page (via its cursor);
* ``events_after``  ``get_events_after(cursor, limit=1000)`` for a cursor
  1,000 events before the end (what a UI polling for news reads), and for a
  cursor in the middle of the log;
* ``catalogue``  ``get_asset_catalogue()`` of every asset (record, latest
  materialization, partition counts, staleness over the registered topology).

Read timings are the median and best wall time of ``--repeat`` calls and the
median CPU time of the calling thread, in ms.
"""

from __future__ import annotations

import argparse
import json
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
from rivers.storage.records import AssetRecord, RunRecord, StoredEvent  # noqa: E402

_perf = time.perf_counter


def build(storage: rs.Storage, runs: int, events_per_run: int, assets: int, batch: int) -> dict[str, Any]:
    """Fill ``storage``; return the append throughput."""
    names = [f"asset_{index:04}" for index in range(assets)]
    storage.register_assets([AssetRecord(name, code_version="1", group=f"g{index % 10}")
                              for index, name in enumerate(names)])
    storage.register_topology({name: [names[index - 1]] if index else [] for index, name in enumerate(names)})
    base = time.time_ns() - runs * 1_000_000
    for run_index in range(runs):  # the runs first: queued and group-committed by the embedded store
        start = base + run_index * 1_000_000
        tags = [("team", f"t{run_index % 20}")] if run_index % 4 == 0 else []
        storage.start_run(RunRecord(f"run-{run_index:06}", status="Failure" if run_index % 50 == 0 else "Success",
                                     start_time=start, end_time=start + 900_000, tags=tags, node_names=["step"]))
    storage.get_run("run-000000")  # commits them
    pending: list[StoredEvent] = []
    append_seconds = 0.0
    best_rate = 0.0
    appended = 0

    def flush() -> None:
        nonlocal append_seconds, best_rate, appended
        started = _perf()
        storage.append_events(pending)
        elapsed = _perf() - started
        append_seconds += elapsed
        best_rate = max(best_rate, len(pending) / elapsed)
        appended += len(pending)
        pending.clear()

    for run_index in range(runs):
        run_id = f"run-{run_index:06}"
        start = base + run_index * 1_000_000
        asset = names[run_index % assets]
        partition = f"2024-{1 + run_index % 12:02}-{1 + run_index % 28:02}" if run_index % 3 == 0 else None
        for number in range(events_per_run):
            kind = "Materialization" if number % 3 == 1 else ("StepStart" if number % 3 == 0 else "StepSuccess")
            pending.append(StoredEvent(
                f"{run_id}-{number}", kind, asset, run_id, partition if kind == "Materialization" else None,
                start + number, [("rows", '{"raw":1}')] if kind == "Materialization" else None,
                f"dv{run_index}" if kind == "Materialization" else None, "1" if kind == "Materialization" else None,
            ))
            if len(pending) >= batch:
                flush()
    if pending:
        flush()
    return {"events": appended, "events_per_s": round(appended / append_seconds),
            "best_batch_events_per_s": round(best_rate)}


def timed(call: Callable[[], Any], repeat: int) -> dict[str, float]:
    """Median and best wall time of ``repeat`` calls, and the median CPU time of the calling thread (ms).

    The CPU figure does not count waiting for a processor, so it stays
    meaningful on a busy machine.
    """
    call()  # warm the page cache and statement cache
    wall, cpu = [], []
    for _ in range(repeat):
        started, started_cpu = _perf(), time.thread_time()
        call()
        cpu.append((time.thread_time() - started_cpu) * 1000)
        wall.append((_perf() - started) * 1000)
    return {"median_ms": round(statistics.median(wall), 3), "best_ms": round(min(wall), 3),
            "median_cpu_ms": round(statistics.median(cpu), 3)}


def read_figures(storage: rs.Storage, runs: int, events: int, assets: int, repeat: int) -> dict[str, Any]:
    """Time the read API on a store filled by :func:`build` (also used by ``bench/storage_postgres.py``)."""
    results: dict[str, Any] = {}
    first_page = storage.query_runs(limit=50)
    assert len(first_page.runs) == 50 and first_page.runs[0].run_id == f"run-{runs - 1:06}"
    results["latest_runs"] = timed(lambda: storage.query_runs(limit=50), repeat)
    results["latest_runs_by_status"] = timed(lambda: storage.query_runs(status="Failure", limit=50), repeat)
    results["latest_runs_by_tag"] = timed(lambda: storage.query_runs(tags={"team": "t4"}, limit=50), repeat)
    results["second_page"] = timed(lambda: storage.query_runs(limit=50, cursor=first_page.next_cursor),
                                   repeat)
    tail = storage.get_events_after(events - 1_000, limit=1_000)
    assert len(tail.events) == 1_000
    results["events_after_tail"] = timed(lambda: storage.get_events_after(events - 1_000, limit=1_000),
                                         repeat)
    results["events_after_middle"] = timed(lambda: storage.get_events_after(events // 2, limit=1_000),
                                           repeat)
    catalogue = storage.get_asset_catalogue()
    assert len(catalogue) == assets and catalogue[0].last_materialization is not None
    results["catalogue"] = timed(storage.get_asset_catalogue, repeat)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=100_000)
    parser.add_argument("--events-per-run", type=int, default=10)
    parser.add_argument("--assets", type=int, default=1_000)
    parser.add_argument("--batch", type=int, default=10_000, help="events per append_events call")
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="rivers-bench-storage-") as directory:
        storage = rs.Storage.embedded(Path(directory) / "bench.sqlite3")
        started = _perf()
        results: dict[str, Any] = {"append": build(storage, args.runs, args.events_per_run, args.assets, args.batch)}
        results["build_seconds"] = round(_perf() - started, 1)
        storage.close()
        storage = rs.Storage.embedded(Path(directory) / "bench.sqlite3")  # reads from a reopened store
        results.update(read_figures(storage, args.runs, results["append"]["events"], args.assets, args.repeat))
        storage.close()
    report(results, args.json)


def report(results: dict[str, Any], json_path: str | None) -> None:
    """Print one line per figure (and write them as JSON to ``json_path`` when given)."""
    for name, values in results.items():
        text = "  ".join(f"{k}={v}" for k, v in values.items()) if isinstance(values, dict) else str(values)
        print(f"{name:22s} {text}")
    if json_path:
        Path(json_path).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
