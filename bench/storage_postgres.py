"""The PostgreSQL storage beside the embedded SQLite store: runs in-process, concurrent writers, the read API.

    python bench/storage_postgres.py                       # everything, default sizes
    python bench/storage_postgres.py --only layered --repeat 7
    python bench/storage_postgres.py --only read --runs 100000

Starts a throwaway PostgreSQL server (``initdb`` into a temporary directory,
127.0.0.1, default durability settings: ``fsync`` and synchronous commit
on; ``--fast`` turns fsync off) with the server binaries of this machine,
then measures:

* ``layered``  materialise the layered graph of ``bench/run.py``
  (``--assets`` assets, asset *i* reads asset *i − 10*) in-process, once on
  the embedded SQLite store and once on PostgreSQL, alternately in fresh
  interpreters, ``--repeat`` times each: the median µs per asset and the
  ratio PostgreSQL / SQLite;
* ``writers``  ``--writers`` processes each materialising a one-asset
  repository ``--writer-runs`` times into one database: runs per minute
  together, and afterwards that every run and its three events are there
  exactly once; the connections each process had checked out at most (the
  pool's bound) and the most server connections one writer held (sampled from ``pg_stat_activity``);
* ``read``  the read API figures of ``bench/storage.py`` (latest runs,
  filtered, second page, events after a cursor, asset catalogue) on a store
  of ``--runs`` runs built through the storage contract.

Use a non-editable install of rivers-core and rivers-storage-postgres for
figures to compare (an editable install recompiles in every process).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

import storage as storage_bench  # noqa: E402  (bench/storage.py)

import rivers as rs  # noqa: E402
from rivers_storage_postgres.testing import FAST_SETTINGS, TemporaryServer  # noqa: E402

DATABASE = "bench"

LAYERED = textwrap.dedent(
    """
    import json, sys, time
    sys.path.insert(0, sys.argv[3])
    from _workload import _functions
    import rivers as rs

    url, n = sys.argv[1], int(sys.argv[2])
    assets = [rs.Asset(f) for f in _functions(n)]
    storage = rs.Storage.connect(url, **json.loads(sys.argv[4]))
    started = time.perf_counter()
    repo = rs.CodeRepository(assets=assets, default_executor=rs.Executor.in_process())
    repo.resolve(storage)
    result = repo.materialize()
    elapsed = time.perf_counter() - started
    assert result.success
    peak = getattr(getattr(storage, "connector", None), "peak_in_use", None)
    storage.close()
    print(json.dumps({"us_per_asset": elapsed / n * 1e6, "peak_connections": peak}))
    """
)

WRITER = textwrap.dedent(
    """
    import json, sys, time
    import rivers as rs

    url, config, writer, runs, start_at = sys.argv[1], json.loads(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5])

    @rs.Asset(name=f"asset_{writer}")
    def produce() -> int:
        return writer

    config["application_name"] = f"{config['application_name']}-{writer}"
    storage = rs.Storage.connect(url, **config)
    repo = rs.CodeRepository(assets=[produce], default_executor=rs.Executor.in_process())
    repo.resolve(storage)
    while time.time() < start_at:
        time.sleep(0.001)
    started = time.time()
    for index in range(runs):
        assert repo.materialize(tags=[("writer", str(writer))]).success
    finished = time.time()
    print(json.dumps({"started": started, "finished": finished, "peak_connections": storage.connector.peak_in_use}))
    storage.close()
    """
)


def _python(script: str, *arguments: str) -> dict[str, Any]:
    output = subprocess.run([sys.executable, "-c", script, *arguments], check=True, capture_output=True, text=True)
    return json.loads(output.stdout.strip().splitlines()[-1])


def layered(server: TemporaryServer, assets: int, repeat: int, pool_size: int) -> dict[str, Any]:
    """Median µs per asset of ``layered:<assets>`` on SQLite and PostgreSQL, alternating fresh processes."""
    sqlite: list[float] = []
    postgres: list[float] = []
    peaks: list[int] = []
    with tempfile.TemporaryDirectory(prefix="rivers-bench-layered-") as directory:
        for attempt in range(repeat):
            url = f"sqlite:///{directory}/run{attempt}.sqlite3"
            sqlite.append(_python(LAYERED, url, str(assets), str(BENCH), "{}")["us_per_asset"])
            config = json.dumps({"schema": f"layered{attempt}", "pool_size": pool_size})
            figures = _python(LAYERED, server.url(DATABASE), str(assets), str(BENCH), config)
            postgres.append(figures["us_per_asset"])
            peaks.append(figures["peak_connections"])
    sqlite_median, postgres_median = statistics.median(sqlite), statistics.median(postgres)
    return {
        "sqlite_us_per_asset": round(sqlite_median, 1),
        "postgres_us_per_asset": round(postgres_median, 1),
        "ratio_postgres_to_sqlite": round(postgres_median / sqlite_median, 2),
        "pool_size": pool_size,
        "peak_connections": max(peaks),
    }


def _most_connections_of_one_writer(server: TemporaryServer, prefix: str) -> int:
    """The most server connections any one writer process (application name ``<prefix>-<n>``) holds now."""
    import psycopg

    with psycopg.connect(server.url(DATABASE), autocommit=True) as conn:
        row = conn.execute(
            "SELECT max(n) FROM (SELECT count(*) AS n FROM pg_stat_activity WHERE application_name LIKE %s "
            "GROUP BY application_name) AS per_writer", (prefix + "-%",)
        ).fetchone()
    return int(row[0]) if row and row[0] is not None else 0


def writers(server: TemporaryServer, processes: int, runs: int, pool_size: int) -> dict[str, Any]:
    """``processes`` writer processes x ``runs`` runs into one database: runs per minute and checks."""
    name = "rivers-bench-writer"
    config = {"schema": "writers", "pool_size": pool_size, "application_name": name}
    rs.Storage.connect(server.url(DATABASE), schema="writers").close()  # the tables exist before the writers start
    start_at = time.time() + 3.0
    children = [
        subprocess.Popen([sys.executable, "-c", WRITER, server.url(DATABASE), json.dumps(config), str(index),
                          str(runs), str(start_at)], stdout=subprocess.PIPE, text=True)
        for index in range(processes)
    ]
    seen: list[int] = []
    sampling = True

    def sample() -> None:
        while sampling:
            seen.append(_most_connections_of_one_writer(server, name))
            time.sleep(0.05)

    sampler = threading.Thread(target=sample)
    sampler.start()
    outputs = [json.loads(child.communicate()[0].strip().splitlines()[-1]) for child in children]
    sampling = False
    sampler.join()
    assert all(child.returncode == 0 for child in children)
    elapsed = max(out["finished"] for out in outputs) - min(out["started"] for out in outputs)
    storage = rs.Storage.connect(server.url(DATABASE), schema="writers")
    stored = storage.query_runs(limit=1)
    total_runs = 0
    cursor = None
    while True:
        page = storage.query_runs(limit=10_000, cursor=cursor, status="Success")
        total_runs += len(page.runs)
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    events = 0
    event_cursor = 0
    while True:
        event_page = storage.get_events_after(event_cursor, limit=10_000)
        if not event_page.events:
            break
        events += len(event_page.events)
        event_cursor = event_page.cursor
    storage.close()
    assert stored.runs and total_runs == processes * runs, (total_runs, processes * runs)
    assert events == 3 * processes * runs, (events, 3 * processes * runs)
    return {
        "processes": processes,
        "runs": processes * runs,
        "seconds": round(elapsed, 2),
        "runs_per_minute": round(processes * runs / elapsed * 60),
        "all_runs_and_events_stored_once": True,
        "pool_size": pool_size,
        "peak_connections_per_process": max(out["peak_connections"] for out in outputs),
        "peak_server_connections_of_one_writer": max(seen, default=0),
    }


def read(server: TemporaryServer, runs: int, events_per_run: int, assets: int, repeat: int) -> dict[str, Any]:
    """The read API figures of ``bench/storage.py`` on a PostgreSQL store of ``runs`` runs."""
    storage = rs.Storage.connect(server.url(DATABASE), schema="reads")
    started = time.perf_counter()
    results: dict[str, Any] = {"append": storage_bench.build(storage, runs, events_per_run, assets, 10_000)}
    results["build_seconds"] = round(time.perf_counter() - started, 1)
    storage.close()
    storage = rs.Storage.connect(server.url(DATABASE), schema="reads")
    results.update(storage_bench.read_figures(storage, runs, results["append"]["events"], assets, repeat))
    storage.close()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", choices=["layered", "writers", "read"], action="append")
    parser.add_argument("--assets", type=int, default=1_000, help="layered graph size")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--pool-size", type=int, default=4)
    parser.add_argument("--writers", type=int, default=8)
    parser.add_argument("--writer-runs", type=int, default=250)
    parser.add_argument("--runs", type=int, default=100_000, help="runs of the read-API store")
    parser.add_argument("--events-per-run", type=int, default=10)
    parser.add_argument("--catalogue-assets", type=int, default=1_000)
    parser.add_argument("--fast", action="store_true", help="server without fsync (throwaway data)")
    parser.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    args = parser.parse_args()
    parts = args.only or ["layered", "writers", "read"]
    results: dict[str, Any] = {}
    with TemporaryServer(FAST_SETTINGS if args.fast else None) as server:
        server.create_database(DATABASE)
        if "layered" in parts:
            results["layered"] = layered(server, args.assets, args.repeat, args.pool_size)
        if "writers" in parts:
            results["writers"] = writers(server, args.writers, args.writer_runs, args.pool_size)
        if "read" in parts:
            results.update(read(server, args.runs, args.events_per_run, args.catalogue_assets, args.repeat))
    storage_bench.report(results, args.json)


if __name__ == "__main__":
    main()
