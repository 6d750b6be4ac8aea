"""What the per-run features of the execution and storage contracts cost a one-partition run, by wall clock.

    python bench/feature_cost.py                                          # this interpreter's rivers
    python bench/feature_cost.py --python ../before/bin/python --python ../ours/bin/python

Each run of the ``partitions`` loop (one ``materialize()`` per daily
partition, in-process, embedded SQLite storage, the group commit an hour
away) records two things the code before those contracts did not: the
partition status of its asset (``partition-status``: in progress while a
step runs, failed, cleared) and its watch by the process's heartbeat
(``run-monitoring``: owner record and heartbeat of a run that goes on).
For every interpreter this times the loop as shipped and, where the
features exist, with each of them and with both turned off
(``_workload.FEATURES_OFF``: measurement only). Each child process times
``--runs`` runs one by one after 20 warm ones and reports their median;
the variants alternate for ``--rounds`` rounds, so machine drift hits all
alike. Printed: the median of the rounds, and the median of the per-round
ratios to the first line (below 1: faster than it).

``instructions.py --without FEATURE`` counts the same difference in
instructions.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile

from _workload import FEATURES_OFF, PARTITION_RUNS_SETUP, child_result  # (run as a script from bench/)

_PROBE = """
import importlib.util
print(all(importlib.util.find_spec(name) for name in ("rivers.runs.heartbeat", "rivers.execution.partition_progress")))
"""

_TIMED_RUNS = """
import json, statistics, time
warm = len(keys) - int(sys.argv[1])
for key in keys[:warm]:
    assert repo.materialize(partition_key=key).success
times = []
for key in keys[warm:]:
    started = time.perf_counter()
    assert repo.materialize(partition_key=key).success
    times.append(time.perf_counter() - started)
print(json.dumps({"us_per_run": statistics.median(times) * 1e6}))
os._exit(0)  # the exit's commit is not a run's work
"""


def _variants(pythons: list[str]) -> list[tuple[str, str, str]]:
    """``(label, interpreter, child source)`` of every measurement, the first interpreter as shipped first."""
    variants = []
    for python in pythons:
        variants.append((f"{python} (as shipped)", python, PARTITION_RUNS_SETUP + _TIMED_RUNS))
        probe = subprocess.run([python, "-c", _PROBE], capture_output=True, text=True, check=False)
        if probe.stdout.strip() != "True":
            continue  # code without these features: nothing to turn off
        for name, source in FEATURES_OFF.items():
            variants.append((f"{python} without {name}", python, PARTITION_RUNS_SETUP + source + _TIMED_RUNS))
        variants.append((f"{python} without both", python,
                         PARTITION_RUNS_SETUP + "".join(FEATURES_OFF.values()) + _TIMED_RUNS))
    return variants


def _measure(python: str, source: str, runs: int) -> float:
    with tempfile.TemporaryDirectory(prefix="rivers-feature-cost-") as directory:
        return float(child_result(python, source, directory, str(runs))["us_per_run"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--python", action="append", help="interpreter to measure (repeatable; default: this one)")
    parser.add_argument("--runs", type=int, default=200, help="timed runs per child process (default 200)")
    parser.add_argument("--rounds", type=int, default=11, help="rounds of all variants, alternating (default 11)")
    args = parser.parse_args()
    variants = _variants(args.python or [sys.executable])
    times: list[list[float]] = [[] for _ in variants]
    for round_number in range(args.rounds):
        for index, (_, python, source) in enumerate(variants):
            times[index].append(_measure(python, source, args.runs))
        print(f"round {round_number + 1}/{args.rounds} done", file=sys.stderr)
    width = max(len(label) for label, _, _ in variants)
    print(f"{'variant':<{width}}  µs per run  ratio to the first line")
    for (label, _, _), measured in zip(variants, times):
        ratio = statistics.median(this / first for this, first in zip(measured, times[0]))
        print(f"{label:<{width}}  {statistics.median(measured):10.1f}  {ratio:.3f}")


if __name__ == "__main__":
    main()
