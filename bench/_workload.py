"""One benchmark measurement in this interpreter; prints one JSON line.

    python bench/_workload.py import
    python bench/_workload.py layered 1000
    python bench/_workload.py validate 10000
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time

#: Python source of the ``partitions`` workload's definitions (as ``compare.py`` runs them): ``repo`` with one
#: daily-partitioned asset from 2000-01-01 (``day0``), on the default store, not resolved yet.
PARTITION_WORKLOAD = """
import datetime as dt, os, sys
import rivers as rs

daily = rs.PartitionsDefinition.daily(start=dt.datetime(2000, 1, 1))

@rs.Asset(partitions_def=daily)
def events(context: rs.AssetExecutionContext):
    return context.partition_key

repo = rs.CodeRepository(assets=[events], default_executor=rs.Executor.in_process())
day0 = dt.date(2000, 1, 1)
"""

#: Python source of the ``partitions`` workload's set-up for a traced or counted child process: ``repo`` resolved
#: on an embedded store in the working directory whose group commit is an hour away (so no background commit falls
#: inside a measurement), and ``keys``, ``int(sys.argv[1]) + 20`` daily keys.
PARTITION_RUNS_SETUP = PARTITION_WORKLOAD + """
repo.resolve(rs.Storage.embedded(os.path.join(os.getcwd(), "runs.db"), commit_delay=3600))
keys = [rs.PartitionKey.single((day0 + dt.timedelta(days=i)).isoformat()) for i in range(int(sys.argv[1]) + 20)]
"""


#: Python source that turns one per-run feature off in a child process, by name, for measuring what it costs
#: (``--without`` of ``instructions.py``, ``feature_cost.py``); run after ``PARTITION_RUNS_SETUP``, before any run.
#: Measurement only: a run without them is not what rivers ships.
FEATURES_OFF = {
    # the partition status of the run's assets (in progress, failed, cleared) is not recorded
    "partition-status": """
import rivers.execution.partition_progress as _progress
_progress.run_progress = lambda storage, run_id, partition: None
""",
    # the process's heartbeat does not watch the run (no owner record, no heartbeat)
    "run-monitoring": """
from rivers.runs.heartbeat import Heartbeat as _Heartbeat
_Heartbeat.watch = lambda self, *arguments: None
_Heartbeat.forget = lambda self, run_id: False
""",
}


def child_result(python: str, source: str, directory: str, *arguments: str) -> dict:
    """Run ``python -c source arguments`` in ``directory`` and return the last JSON object it printed.

    A child that fails or prints none ends the benchmark, with the end of its stderr.
    """
    done = subprocess.run([python, "-c", source, *arguments], cwd=directory, capture_output=True, text=True,
                          check=False)
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        raise SystemExit(f"{python}: the benchmark child failed:\n{done.stderr[-2000:]}")
    return json.loads(lines[-1])


def _functions(n: int, width: int = 10) -> list:
    """``a{i}`` returns ``i`` for the first layer, then depends on ``a{i-width}``."""
    lines = []
    for i in range(n):
        if i < width:
            lines.append(f"def a{i}():\n    return {i}\n")
        else:
            lines.append(f"def a{i}(a{i - width}):\n    return a{i - width} + 1\n")
    namespace: dict = {}
    exec("".join(lines), namespace)  # noqa: S102 - generated benchmark graph
    return [namespace[f"a{i}"] for i in range(n)]


def measure_import() -> dict:
    started = time.perf_counter()
    import rivers  # noqa: F401

    elapsed = (time.perf_counter() - started) * 1000
    return {"import_ms": elapsed, "networkx_imported": "networkx" in sys.modules,
            "pluggy_imported": "pluggy" in sys.modules}


def measure_first_use() -> dict:
    started = time.perf_counter()
    import rivers as rs

    rs.Asset(lambda: 1, name="x")
    return {"import_ms": (time.perf_counter() - started) * 1000, "networkx_imported": "networkx" in sys.modules}


def measure_layered(n: int) -> dict:
    import rivers as rs

    assets = [rs.Asset(f) for f in _functions(n)]
    started = time.perf_counter()
    repo = rs.CodeRepository(assets=assets, default_executor=rs.Executor.in_process())
    repo.resolve()
    resolved = time.perf_counter()
    result = repo.materialize()
    finished = time.perf_counter()
    repo.materialize()
    second = time.perf_counter()
    assert result.success
    return {
        "us_per_asset": (finished - started) / n * 1e6,
        "resolve_us_per_asset": (resolved - started) / n * 1e6,
        "run_us_per_asset": (finished - resolved) / n * 1e6,
        "second_run_us_per_asset": (second - finished) / n * 1e6,
        "networkx_imported": "networkx" in sys.modules,
    }


def measure_validate(n: int) -> dict:
    import rivers as rs

    assets = [rs.Asset(f) for f in _functions(n)]
    started = time.perf_counter()
    rs.CodeRepository(assets=assets, default_executor=rs.Executor.in_process()).validate()
    return {"validate_s": time.perf_counter() - started}


def main() -> None:
    os.chdir(tempfile.mkdtemp(prefix="rivers-bench-"))
    workload = sys.argv[1]
    size = int(sys.argv[2]) if len(sys.argv) > 2 else 0
    result = {
        "import": lambda: measure_import(),
        "first-use": lambda: measure_first_use(),
        "layered": lambda: measure_layered(size),
        "validate": lambda: measure_validate(size),
    }[workload]()
    print(json.dumps(result))


if __name__ == "__main__":
    main()
