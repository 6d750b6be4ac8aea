"""What the step scheduler and a launcher add per step, over a plain loop running the same steps.

    python bench/scheduler.py                 # 1000 trivial steps in layers of 10, in-memory storage
    python bench/scheduler.py --steps 5000 --repeat 9

Three ways of running one resolved plan, each recording every step's events
through the same run coordinator:

* ``loop``: a plain loop calling the step runner on each planned step in
  topological order (no ready set, no launcher);
* ``inline``: the scheduler with the in-process executor's inline launcher;
* ``threads``: the scheduler with a launcher running steps on a pool of one
  thread (the parallel executor's launcher for controller-side steps).

It prints the median microseconds per step of each (wall clock, and CPU time
of the whole process, which is steadier on a busy machine) and the
difference to ``loop``: the cost of scheduling (ready set, routing,
attempts, reports) and of handing steps to a launcher. Each round alternates
the three, so machine noise hits them alike.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from typing import Any

from _workload import _functions  # the same generated graph as bench/run.py (run as a script from bench/)


class _OneThread:
    """An executor whose launcher runs steps on one controller thread."""

    def __new__(cls) -> Any:
        import rivers as rs
        from rivers.execution.local_launchers import ThreadLauncher

        class OneThread(rs.Executor):
            plugin_name = "bench-one-thread"

            def launcher(self) -> Any:
                return ThreadLauncher(1)

        return OneThread()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--json")
    options = parser.parse_args()

    import rivers as rs
    from rivers.execution.coordinator import RunCoordinator
    from rivers.execution.scheduler import execute_run
    from rivers.execution.step_runner import run_attempt

    n = options.steps
    repo = rs.CodeRepository(assets=[rs.Asset(f) for f in _functions(n)], default_executor=rs.Executor.in_process())
    repo.resolve(rs.Storage.memory())
    plan = repo.resolved.plan("<bench>", None, allow_incomplete=False)
    inline = rs.Executor.in_process()
    threads = _OneThread()

    def plain_loop(run: RunCoordinator) -> None:
        state = run.state
        for planned in plan.steps:
            if run.cancel_requested():
                break
            run.step_started(planned.key)
            run.record(run_attempt(planned.runtime, state, planned.selected))

    ways = {
        "loop": plain_loop,
        "inline": lambda run: execute_run(run, inline),
        "threads": lambda run: execute_run(run, threads),
    }
    timings: dict[str, list[float]] = {name: [] for name in ways}
    cpu: dict[str, list[float]] = {name: [] for name in ways}
    for round_number in range(options.repeat + 1):  # round 0 warms caches up and is not counted
        for name, way in ways.items():
            run = RunCoordinator(plan, repo.storage)
            run.start()
            started, started_cpu = time.perf_counter(), time.process_time()
            way(run)
            elapsed, elapsed_cpu = time.perf_counter() - started, time.process_time() - started_cpu
            result = run.finish()
            assert result.success, result.failed_assets
            if round_number:
                timings[name].append(elapsed / n * 1e6)
                cpu[name].append(elapsed_cpu / n * 1e6)
    medians = {name: statistics.median(values) for name, values in timings.items()}
    cpu_medians = {name: statistics.median(values) for name, values in cpu.items()}
    results = {"steps": n, "us_per_step": medians, "cpu_us_per_step": cpu_medians,
               "added_us_per_step": {name: medians[name] - medians["loop"] for name in ("inline", "threads")},
               "added_cpu_us_per_step": {name: cpu_medians[name] - cpu_medians["loop"] for name in ("inline", "threads")}}
    print(f"{n} trivial steps, median of {options.repeat} rounds, us per step (wall / CPU of the process):")
    for name in ways:
        added = "" if name == "loop" else (f"   (+{medians[name] - medians['loop']:.1f} / "
                                           f"+{cpu_medians[name] - cpu_medians['loop']:.1f} over the plain loop)")
        print(f"  {name:<8}{medians[name]:8.1f} /{cpu_medians[name]:7.1f}{added}")
    if options.json:
        with open(options.json, "w") as file:
            json.dump(results, file, indent=1)


if __name__ == "__main__":
    main()
