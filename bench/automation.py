"""Automation: condition-evaluation ticks, schedule-to-step and upstream-to-eager latencies, daemon idle CPU.

    python bench/automation.py                     # every measurement below
    python bench/automation.py --only conditions --assets 10000 --daily 1000

Measured, each in a fresh temporary directory with the embedded (SQLite) storage:

* ``conditions``  one condition-evaluation tick over N assets with
  ``eager()`` (D of them daily-partitioned over a year, the rest
  unpartitioned; each kind forms a tree, asset ``i`` depending on asset
  ``(i - 1) // 10``): when every asset (every partition) changed, and when 10 assets
  changed; the evaluation alone and with saving the engine's state
  (targets: under 1 s and under 50 ms);
* ``schedule``  a daemon with a one-second schedule: from the tick's cron
  time to its run's first StepStart (median over the ticks; target 200 ms);
* ``eager``  a daemon with an ``eager()`` downstream: from the upstream's
  Materialization event (written by a ``materialize()`` in this process,
  outside the daemon) to the downstream run's start (target 1.5 s);
* ``idle``  a daemon with a stopped schedule and nothing to do: CPU time of
  the process over wall time (target under 1% of a core).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SRC = ROOT / "rivers-core" / "src"
if str(SRC) not in sys.path:
    sys.path.insert(0, str(SRC))

import rivers as rs  # noqa: E402

A = rs.AutomationCondition


def _fresh() -> str:
    directory = tempfile.mkdtemp(prefix="rivers-bench-automation-")
    os.chdir(directory)
    return directory


def conditions(assets: int, daily: int, repeat: int) -> dict[str, Any]:
    from rivers.automation.condition_store import ConditionStore
    from rivers.automation.engine import ConditionEngine
    from rivers.automation.validation import condition_of
    from rivers.automation.world import World
    from rivers.storage.records import StoredEvent

    directory = _fresh()
    year = rs.PartitionsDefinition.daily(start=dt.datetime(2024, 1, 1), end=dt.datetime(2025, 1, 1))
    eager = A.eager()
    definitions = []
    for index in range(assets):
        partitioned = index < daily
        group = "d" if partitioned else "u"
        position = index if partitioned else index - daily
        deps = [rs.AssetDef.dep(f"{group}{(position - 1) // 10}")] if position > 0 else []
        definitions.append(rs.Asset(lambda: 1, name=f"{group}{position}", deps=deps, automation_condition=eager,
                                    partitions_def=year if partitioned else None))
    repo = rs.CodeRepository(assets=definitions)
    repo.resolve(rs.Storage.embedded(os.path.join(directory, "store.db")))
    graph = repo.graph
    conds = {name: condition_of(node) for name, node in graph.nodes.items()}
    world = World(graph, repo.storage, list(graph.names))
    world.load(None)
    engine = ConditionEngine(graph, world, {k: v for k, v in conds.items() if v is not None})
    store = ConditionStore(repo.storage)
    keys = [str(k) for k in year.get_partition_keys()]

    def events_for(names: list[str], run: str) -> list[StoredEvent]:
        out = []
        for name in names:
            for key in (keys if name.startswith("d") else [None]):
                out.append(StoredEvent(f"{run}:{name}:{key}", "Materialization", name, run, key, time.time_ns(),
                                       data_version=run))
        return out

    now = 1_750_000_000.0
    engine.tick(now, set(world.views))  # initial evaluation (fresh state)
    store.save(engine.states, engine.changed_states, world)
    all_names = list(world.views)
    everything, everything_saved, ten, ten_saved = [], [], [], []
    for round_ in range(repeat):
        world.touched = set()
        world.updated, world.updated_runs, world.data_changed = {}, {}, {}
        world.apply_events(events_for(all_names, f"all{round_}"))
        started = time.perf_counter()
        engine.tick(now + 10 * round_ + 1, world.touched)
        evaluated = time.perf_counter()
        store.save(engine.states, engine.changed_states, world)
        everything.append(evaluated - started)
        everything_saved.append(time.perf_counter() - started)
        count_all = len(engine.evaluated)
        for settle in range(3):  # the fired assets are handled; latches settle
            world.touched, world.updated, world.updated_runs, world.data_changed = set(), {}, {}, {}
            engine.tick(now + 10 * round_ + 2 + settle, set())
            store.save(engine.states, engine.changed_states, world)
        world.touched, world.updated, world.updated_runs, world.data_changed = set(), {}, {}, {}
        changed = [f"u{(assets - daily) // 2 + 37 * i}" for i in range(5)] + [f"d{daily // 2 + 37 * i}" for i in range(5)]
        world.apply_events(events_for(changed, f"ten{round_}"))
        started = time.perf_counter()
        engine.tick(now + 10 * round_ + 6, world.touched)
        evaluated = time.perf_counter()
        store.save(engine.states, engine.changed_states, world)
        ten.append(evaluated - started)
        ten_saved.append(time.perf_counter() - started)
        count_ten = len(engine.evaluated)
        for settle in range(3):
            world.touched, world.updated, world.updated_runs, world.data_changed = set(), {}, {}, {}
            engine.tick(now + 10 * round_ + 7 + settle, set())
            store.save(engine.states, engine.changed_states, world)
    return {
        "assets": assets, "daily_assets": daily, "partitions_per_daily_asset": len(keys),
        "everything_changed_ms": round(statistics.median(everything) * 1000, 1),
        "everything_changed_with_save_ms": round(statistics.median(everything_saved) * 1000, 1),
        "assets_evaluated_everything": count_all,
        "ten_changed_ms": round(statistics.median(ten) * 1000, 2),
        "ten_changed_with_save_ms": round(statistics.median(ten_saved) * 1000, 2),
        "assets_evaluated_ten": count_ten,
    }


def _daemon_repo(directory: str, schedule_status: Any) -> tuple[rs.CodeRepository, rs.Storage]:
    fs = rs.io_handler("fs", base_dir=os.path.join(directory, "data"))

    @rs.Asset(io_handler=fs)
    def upstream() -> int:
        return 1

    @rs.Asset(io_handler=fs, automation_condition=A.eager())
    def downstream(upstream: int) -> int:
        return upstream + 1

    @rs.Asset(io_handler=fs)
    def ticked() -> int:
        return 1

    job = rs.Job("j", assets=[ticked], executor=rs.Executor.in_process())
    schedule = rs.Schedule(cron_schedule="* * * * * *", job_name="j", name="every_second",
                           default_status=schedule_status)
    repo = rs.CodeRepository(assets=[upstream, downstream, ticked], jobs=[job], schedules=[schedule])
    storage = rs.Storage.embedded(os.path.join(directory, "store.db"))
    repo.resolve(storage)
    return repo, storage


def schedule_latency(seconds: float) -> dict[str, Any]:
    from rivers.automation.daemon import AutomationDaemon

    directory = _fresh()
    repo, storage = _daemon_repo(directory, rs.ScheduleStatus.Running)
    daemon = AutomationDaemon(repo, storage, condition_eval_interval="1h")
    daemon.start()
    time.sleep(seconds)
    daemon.stop()
    daemon.wait_for_runs(30)
    latencies = []
    for tick in storage.get_ticks("every_second", limit=1000):
        for run_id in tick.run_ids:
            starts = [e for e in storage.get_events_for_run(run_id) if e.event_type == "StepStart"] \
                if hasattr(storage, "get_events_for_run") else []
            if not starts:
                starts = [e for e in storage.get_events_after(0, run_id=run_id, event_types=["StepStart"]).events]
            if starts:
                latencies.append(starts[0].timestamp / 1e9 - tick.timestamp / 1e9)
    return {"ticks": len(latencies), "tick_to_first_step_ms_median": round(statistics.median(latencies) * 1000, 1),
            "tick_to_first_step_ms_max": round(max(latencies) * 1000, 1)}


def eager_latency(rounds: int) -> dict[str, Any]:
    from rivers.automation.daemon import AutomationDaemon

    directory = _fresh()
    repo, storage = _daemon_repo(directory, rs.ScheduleStatus.Stopped)
    daemon = AutomationDaemon(repo, storage, condition_eval_interval="1h")
    daemon.start()
    time.sleep(1.0)
    latencies = []
    for _ in range(rounds):
        before = {r.run_id for r in storage.get_runs(limit=1000)}
        repo.materialize(["upstream"])
        event = storage.get_latest_materialization("upstream")
        deadline = time.monotonic() + 10
        launched = None
        while time.monotonic() < deadline and launched is None:
            for run in storage.get_runs(limit=20):
                if run.run_id not in before and run.launched_by == rs.LaunchedBy.condition():
                    launched = run
            time.sleep(0.005)
        if launched is not None:
            latencies.append(launched.start_time / 1e9 - event.timestamp / 1e9)
        daemon.wait_for_runs(10)
        time.sleep(0.3)
    daemon.stop()
    return {"rounds": len(latencies), "upstream_to_eager_start_ms_median": round(statistics.median(latencies) * 1000),
            "upstream_to_eager_start_ms_max": round(max(latencies) * 1000)}


def idle_cpu(seconds: float) -> dict[str, Any]:
    from rivers.automation.daemon import AutomationDaemon

    directory = _fresh()
    repo, storage = _daemon_repo(directory, rs.ScheduleStatus.Stopped)
    daemon = AutomationDaemon(repo, storage)
    daemon.start()
    time.sleep(2.0)  # settle: the first passes evaluate and persist the fresh state
    usage = resource.getrusage(resource.RUSAGE_SELF)
    started, cpu = time.monotonic(), usage.ru_utime + usage.ru_stime
    time.sleep(seconds)
    usage = resource.getrusage(resource.RUSAGE_SELF)
    used = usage.ru_utime + usage.ru_stime - cpu
    wall = time.monotonic() - started
    daemon.stop()
    return {"seconds": round(wall, 1), "idle_cpu_percent_of_a_core": round(100 * used / wall, 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", choices=["conditions", "schedule", "eager", "idle"], action="append")
    parser.add_argument("--assets", type=int, default=10_000)
    parser.add_argument("--daily", type=int, default=1_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=6.0)
    args = parser.parse_args()
    chosen = args.only or ["conditions", "schedule", "eager", "idle"]
    results: dict[str, Any] = {}
    if "conditions" in chosen:
        results["conditions"] = conditions(args.assets, args.daily, args.repeat)
    if "schedule" in chosen:
        results["schedule"] = schedule_latency(args.seconds)
    if "eager" in chosen:
        results["eager"] = eager_latency(max(args.repeat, 3))
    if "idle" in chosen:
        results["idle"] = idle_cpu(args.seconds * 2)
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
