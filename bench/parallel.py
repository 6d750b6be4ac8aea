"""Benchmarks of the parallel executor.

    python bench/parallel.py              # both workloads, human-readable
    python bench/parallel.py --json out.json

* ``sleepers``: 8 assets that each sleep 0.5 s, 2 worker processes, values
  kept in files (the ``parallel`` workload of ``../shared/bench``); the ideal
  wall time is 2.0 s. The first run includes starting the workers; the
  second reuses them.
* ``trivial``: 1,000 trivial file-backed steps (layers of 10, each step reads
  its upstream's pickle file and writes its own, without fsync, so that the
  executor's cost shows), run in-process and with the parallel executor (2
  workers): steps per second and the per-step overhead of sending steps to
  workers.

Each workload runs in a fresh interpreter in a fresh temporary directory
with the embedded SQLite storage; medians of ``--repeat`` runs.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent

#: The assets live in a module of their own, so that worker processes can import them by name.
ASSETS_MODULE = '''
import os
import pickle
import time

import rivers as rs


class Files(rs.BaseIOHandler):
    """Pickle files under ``root`` (rivers-io-fs is used instead when installed)."""

    root: str = "values"

    def handle_output(self, context, obj):
        path = os.path.join(self.root, context.asset_name + ".pkl")
        tmp = f"{path}.{os.getpid()}.tmp"
        with open(tmp, "wb") as file:
            pickle.dump(obj, file)
        os.replace(tmp, path)

    def load_input(self, context):
        with open(os.path.join(self.root, context.asset_name + ".pkl"), "rb") as file:
            return pickle.load(file)


ROOT = os.path.abspath("values")
os.makedirs(ROOT, exist_ok=True)
#: for the executor-overhead workload: plain files, no fsync
FILES = Files(root=ROOT)
try:
    IO = rs.io_handler("fs", base_dir=ROOT)
except Exception:  # rivers-io-fs not installed
    IO = FILES


def sleeper_0():
    time.sleep(0.5)
    return 0

# SLEEPERS

# TRIVIAL
'''


def _module_source(n: int, width: int = 10) -> str:
    sleepers = "\n".join(
        f"def sleeper_{i}():\n    time.sleep(0.5)\n    return {i}\n" for i in range(1, 8)
    )
    trivial = "\n".join(
        f"def t{i}():\n    return {i}\n" if i < width else f"def t{i}(t{i - width}):\n    return t{i - width} + 1\n"
        for i in range(n)
    )
    return ASSETS_MODULE.replace("# SLEEPERS", sleepers).replace("# TRIVIAL", trivial)


def measure_sleepers() -> dict:
    import bench_assets as ba

    import rivers as rs

    assets = [rs.Asset(io_handler=ba.IO)(getattr(ba, f"sleeper_{i}")) for i in range(8)]
    repo = rs.CodeRepository(assets=assets, default_executor=rs.Executor.parallel(max_workers=2))
    repo.resolve()
    started = time.perf_counter()
    result = repo.materialize()
    first = time.perf_counter() - started
    started = time.perf_counter()
    repo.materialize()
    second = time.perf_counter() - started
    assert result.success
    return {"first_wall_s": first, "second_wall_s": second}


def measure_trivial(n: int) -> dict:
    import bench_assets as ba

    import rivers as rs

    out: dict = {"n": n}
    for label, executor in (("in_process", rs.Executor.in_process()), ("parallel", rs.Executor.parallel(2))):
        assets = [rs.Asset(io_handler=ba.FILES)(getattr(ba, f"t{i}")) for i in range(n)]
        repo = rs.CodeRepository(assets=assets, default_executor=executor)
        repo.resolve()
        repo.materialize()  # warm up: workers started, modules imported, plan cached
        started = time.perf_counter()
        result = repo.materialize()
        wall = time.perf_counter() - started
        assert result.success and repo.load_node(f"t{n - 1}") == (n - 1) // 10 + (n - 1) % 10
        out[label] = {"wall_s": wall, "steps_per_s": n / wall, "us_per_step": wall / n * 1e6}
    out["overhead_ms_per_step"] = (out["parallel"]["wall_s"] - out["in_process"]["wall_s"]) / n * 1e3
    return out


def _child(workload: str, n: int) -> None:
    directory = tempfile.mkdtemp(prefix="rivers-bench-parallel-")
    os.chdir(directory)
    Path("bench_assets.py").write_text(_module_source(max(n, 10)))
    sys.path.insert(0, directory)
    result = measure_sleepers() if workload == "sleepers" else measure_trivial(n)
    print(json.dumps(result))


def _run(workload: str, n: int) -> dict:
    out = subprocess.run([sys.executable, __file__, "--child", workload, "--n", str(n)], capture_output=True,
                         text=True, check=False)
    if out.returncode != 0:
        raise SystemExit(f"workload {workload} failed:\n{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--json")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.child:
        _child(options.child, options.n)
        return
    results: dict = {}
    runs = [_run("sleepers", 8) for _ in range(options.repeat)]
    first = statistics.median(r["first_wall_s"] for r in runs)
    second = statistics.median(r["second_wall_s"] for r in runs)
    results["sleepers"] = {"first_wall_s": first, "second_wall_s": second}
    print(f"8 x 0.5 s sleepers, 2 workers, values in files: {first:.3f} s wall (first run, starting workers), "
          f"{second:.3f} s (warm workers); ideal 2.0 s, target <= 2.1 s")
    runs = [_run("trivial", options.n) for _ in range(options.repeat)]
    pick = sorted(runs, key=lambda r: r["overhead_ms_per_step"])[len(runs) // 2]
    results["trivial"] = pick
    print(f"{options.n} trivial file-backed steps: in-process {pick['in_process']['steps_per_s']:.0f} steps/s "
          f"({pick['in_process']['us_per_step']:.0f} us/step); parallel (2 workers) "
          f"{pick['parallel']['steps_per_s']:.0f} steps/s ({pick['parallel']['us_per_step']:.0f} us/step); "
          f"overhead {pick['overhead_ms_per_step']:.3f} ms/step (target < 2 ms)")
    if options.json:
        Path(options.json).write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
