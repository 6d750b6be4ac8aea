"""Dynamic fan-out: one graph asset mapping a trivial task over N elements, in-process.

    python bench/fanout.py                    # 10,000 instances, in-memory storage, 5 rounds
    python bench/fanout.py --instances 2000 --repeat 9 --storage sqlite

Each round resolves a fresh repository and materializes the graph asset
``fan = total(items().map(inc).collect())``: N + 3 steps (the producer, N
instances ``fan/inc__<i>``, the collect step, the consumer) plus the graph
step, each recording its events. It prints the median wall time of the run
(resolve excluded), the median per instance, and CPU time of the process.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import rivers as rs


def build(instances: int) -> rs.CodeRepository:
    @rs.Task
    def items() -> list:
        return list(range(instances))

    @rs.Task
    def inc(x: int) -> int:
        return x + 1

    @rs.Task
    def total(xs: list) -> int:
        return sum(xs)

    @rs.Asset.from_graph()
    def fan():
        return total(items().map(inc).collect())

    return rs.CodeRepository(assets=[fan], tasks=[items, inc, total], default_executor=rs.Executor.in_process())


def one_round(instances: int, storage_kind: str, directory: Path, index: int) -> tuple[float, float]:
    repo = build(instances)
    storage = rs.Storage.memory() if storage_kind == "memory" else rs.Storage.embedded(str(directory / f"{index}.db"))
    repo.resolve(storage)
    wall, cpu = time.perf_counter(), time.process_time()
    result = repo.materialize()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    assert result.success and repo.load_node("fan") == sum(range(1, instances + 1))
    return wall, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instances", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--storage", choices=("memory", "sqlite"), default="memory")
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args()
    walls, cpus = [], []
    with tempfile.TemporaryDirectory() as directory:
        for index in range(args.repeat):
            wall, cpu = one_round(args.instances, args.storage, Path(directory), index)
            walls.append(wall)
            cpus.append(cpu)
    figures = {
        "instances": args.instances,
        "storage": args.storage,
        "run_s_median": statistics.median(walls),
        "run_cpu_s_median": statistics.median(cpus),
        "us_per_instance": statistics.median(walls) / args.instances * 1e6,
    }
    print(f"fan-out of {args.instances} instances ({args.storage} storage), median of {args.repeat}: "
          f"{figures['run_s_median']:.3f} s wall, {figures['run_cpu_s_median']:.3f} s CPU, "
          f"{figures['us_per_instance']:.0f} us per instance")
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
