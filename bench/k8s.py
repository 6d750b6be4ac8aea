"""Benchmark of the Kubernetes executor's controller against the API double (no cluster needed).

    python bench/k8s.py [--repeat 3] [--bundle]

200 trivial steps (20 chains of 10), ``max_concurrent_steps=20``. The API
double and its kubelet run in another process (the kubelet runs each pod's
step request in a warm process pool, not a fresh interpreter per pod), so
what is measured is the controller: steps per second it sustains, its CPU
per step (user + system time of the controller process / steps; target
< 5 ms) and the time from a pod's end (its status reported Succeeded) to
the creation of its dependant's Job (median and p95; target < 100 ms).
``--bundle`` runs the same steps with ``bundle=True``: one pod per chain
(20 pods, not 200), so there is no pod end -> dependant's Job to time.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
DOUBLE = HERE.parent / "tests" / "k8s"


def serve() -> None:
    """The double + kubelet process: prints the kubeconfig path, dumps the timeline on a line of stdin."""
    sys.path.insert(0, str(DOUBLE))
    from k8s_double import ApiDouble
    from kubelet import Kubelet

    double = ApiDouble()
    double.start()
    kubelet = Kubelet(double, "rivers", runner="pool", pool_size=2)
    path = double.kubeconfig(os.path.join(tempfile.mkdtemp(), "kubeconfig"))
    print(path, flush=True)
    for _ in sys.stdin:
        steps = {job["metadata"]["name"]: job["metadata"]["annotations"]["rivers.io/step-key"]
                 for job in double.history_jobs}
        print(json.dumps({"timeline": double.timeline, "steps": steps}), flush=True)
        double.timeline.clear()
        double.history_jobs.clear()
    kubelet.stop()
    double.stop()


def latencies(dump: dict) -> list[float]:
    """Seconds from each upstream pod's end to its dependant's Job creation."""
    steps = dump["steps"]
    ended: dict[str, float] = {}
    created: dict[str, float] = {}
    for moment, kind, name in dump["timeline"]:
        if kind == "end":
            ended[steps.get(name[:-6], "?")] = moment
        else:
            created[steps[name]] = moment
    found = []
    for step, moment in created.items():
        chain, position = step[1:].split("_")
        if position != "0":
            upstream = f"s{chain}_{int(position) - 1}"
            if upstream in ended:
                found.append(moment - ended[upstream])
    return found


def run_once(kubeconfig: str, values: str, bundle: bool = False) -> tuple[float, float, int]:
    import rivers as rs

    import _k8s_steps as steps

    with tempfile.TemporaryDirectory() as directory:
        os.chdir(directory)
        repo = rs.CodeRepository(assets=steps.ASSETS, default_executor=rs.Executor.kubernetes(
            worker_image="bench", max_concurrent_steps=20, kubeconfig=kubeconfig, bundle=bundle))
        repo.resolve(rs.Storage.embedded("bench.db"))
        before = resource.getrusage(resource.RUSAGE_SELF)
        start = time.perf_counter()
        result = repo.materialize()
        wall = time.perf_counter() - start
        after = resource.getrusage(resource.RUSAGE_SELF)
        assert result.success and len(result.materialized_assets) == len(steps.ASSETS)
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        return wall, cpu, len(steps.ASSETS)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--bundle", action="store_true", help="bundle=True: one pod per chain of 10 steps")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve()
        return
    values = tempfile.mkdtemp(prefix="bench-values-")
    env = {**os.environ, "RIVERS_BENCH_VALUES": values}
    os.environ["RIVERS_BENCH_VALUES"] = values
    server = subprocess.Popen([sys.executable, __file__, "--serve"], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True, env=env)
    assert server.stdout is not None and server.stdin is not None
    kubeconfig = server.stdout.readline().strip()
    rows = []
    try:
        for _ in range(args.repeat):
            wall, cpu, count = run_once(kubeconfig, values, args.bundle)
            server.stdin.write("dump\n")
            server.stdin.flush()
            dump = json.loads(server.stdout.readline())
            pods = len(dump["steps"])
            found = sorted(latencies(dump)) or [float("nan")]  # none with --bundle: one pod per chain
            rows.append((count / wall, cpu / count * 1000, statistics.median(found) * 1000,
                         found[max(0, int(len(found) * 0.95) - 1)] * 1000))
            timing = (f"pod end -> dependant's Job created: median {rows[-1][2]:.1f} ms, p95 {rows[-1][3]:.1f} ms"
                      if not args.bundle else "every chain in one pod")
            print(f"{count} steps in {pods} pods in {wall:.2f} s: {count / wall:.1f} steps/s, controller CPU "
                  f"{cpu / count * 1000:.2f} ms/step, {timing}", flush=True)
    finally:
        server.stdin.close()
        server.wait(timeout=30)
    print("median of runs: " + ", ".join(
        f"{label} {statistics.median(r[i] for r in rows):.2f}"
        for i, label in enumerate(("steps/s", "CPU ms/step", "end->create median ms", "end->create p95 ms")[
            :2 if args.bundle else 4])))


if __name__ == "__main__":
    main()
