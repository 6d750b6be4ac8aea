"""Where the ``partitions`` workload's time goes: the first run (its imports and its own work) and each later run.

    python bench/first_run.py                                             # this interpreter's rivers
    python bench/first_run.py --python ../before/bin/python --python ../ours/bin/python

``compare.py --workloads partitions:200`` times 200 one-partition
``materialize()`` calls from the first one on, so its figure is
``(first run + 199 later runs) / 200``, and the first run is about half of
it: that run imports the execution and storage stack (about fifty modules)
and opens the store. This splits the figure. Each child process defines the
workload's daily-partitioned asset on the default embedded store (the
``.rivers`` directory of its working directory, kept between rounds as
``compare.py`` keeps it between repeats; the first round, which creates it,
is not counted) and times the first run and the later runs separately; a
second child does the same with every module the first run imports already
imported, which leaves the first run's own work. The difference is what
those imports cost. The variants alternate for ``--rounds`` rounds; printed
are medians and, per interpreter, the median of the per-round ratios of the
first interpreter's figure to its own (below 1: slower than the first).

The modules are found by a probe child (``sys.modules`` before and after a
first run, on a new store, after a first probe that may fill the user
caches); their count and the size of their bytecode files are printed too,
since unmarshalling and executing that code is most of the import time.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile

from _workload import PARTITION_WORKLOAD, child_result  # (run as a script from bench/)

#: the workload on the default store of the working directory, and its 200 keys
_SETUP = PARTITION_WORKLOAD + """
import importlib, json, time
keys = [rs.PartitionKey.single((day0 + dt.timedelta(days=i)).isoformat()) for i in range(200)]
"""

#: prints the modules the first run imports, with the size of each Python module's bytecode file (None: not Python)
_PROBE = _SETUP + """
import importlib.util
before = set(sys.modules)
assert repo.materialize(partition_key=keys[0]).success
sizes = {}
for name in sorted(set(sys.modules) - before):
    origin = getattr(sys.modules[name], "__file__", None) or ""
    cached = importlib.util.cache_from_source(origin) if origin.endswith(".py") else ""
    sizes[name] = os.path.getsize(cached) if cached and os.path.exists(cached) else None
print(json.dumps(sizes))
"""

#: times the first run and the later ones; argv[1]: a JSON list of modules to import first (or "[]")
_TIMED = _SETUP + """
for name in json.loads(sys.argv[1]):
    importlib.import_module(name)
started = time.perf_counter()
assert repo.materialize(partition_key=keys[0]).success
first = time.perf_counter()
for key in keys[1:]:
    assert repo.materialize(partition_key=key).success
done = time.perf_counter()
print(json.dumps({"first_ms": (first - started) * 1e3, "later_us": (done - first) / (len(keys) - 1) * 1e6,
                  "per_partition_us": (done - started) / len(keys) * 1e6}))
"""


def _median_ratio(first: list[float], other: list[float]) -> float:
    return statistics.median(a / b for a, b in zip(first, other))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--python", action="append", help="interpreter to measure (repeatable; default: this one)")
    parser.add_argument("--rounds", type=int, default=13, help="counted rounds of all variants (default 13)")
    args = parser.parse_args()
    if args.rounds < 1:
        parser.error(f"--rounds must be at least 1 (got {args.rounds}): the medians need one counted round")
    pythons = args.python or [sys.executable]
    with tempfile.TemporaryDirectory(prefix="rivers-first-run-") as root:
        directories = {python: os.path.join(root, str(index)) for index, python in enumerate(pythons)}
        modules: dict[str, dict[str, int | None]] = {}
        for python, directory in directories.items():
            os.mkdir(directory)
            for _ in range(2):  # the second probe: the first may fill the user caches (plugin scan, store image)
                with tempfile.TemporaryDirectory(prefix="probe-") as probe_directory:
                    modules[python] = child_result(python, _PROBE, probe_directory)
        variants = [(python, imported) for python in pythons for imported in (False, True)]
        results: dict[tuple[str, bool], list[dict[str, float]]] = {variant: [] for variant in variants}
        for round_number in range(args.rounds + 1):  # round 0 creates the stores: not counted
            order = variants if round_number % 2 else variants[::-1]
            for python, imported in order:
                names = json.dumps(sorted(modules[python]) if imported else [])
                measured = child_result(python, _TIMED, directories[python], names)
                if round_number:
                    results[(python, imported)].append(measured)
            print(f"round {round_number}/{args.rounds} done", file=sys.stderr)
    _report(pythons, modules, results)


def _report(pythons: list[str], modules: dict[str, dict[str, int | None]],
            results: dict[tuple[str, bool], list[dict[str, float]]]) -> None:
    def series(python: str, imported: bool, field: str) -> list[float]:
        return [measured[field] for measured in results[(python, imported)]]

    first = pythons[0]
    rows = [
        ("first run, ms", lambda p: series(p, False, "first_ms")),
        ("  its own work, ms (modules already imported)", lambda p: series(p, True, "first_ms")),
        ("  its imports, ms", lambda p: [a - b for a, b in zip(series(p, False, "first_ms"),
                                                                 series(p, True, "first_ms"))]),
        ("each later run, µs", lambda p: series(p, False, "later_us")),
        ("per partition (compare.py's figure), µs", lambda p: series(p, False, "per_partition_us")),
    ]
    width = max(len(label) for label, _ in rows)
    for python in pythons:
        bytecode = [size for size in modules[python].values() if size is not None]
        print(f"{python}: the first run imports {len(modules[python])} modules, {len(bytecode)} of them Python "
              f"with {sum(bytecode) / 1024:.0f} KB of bytecode")
    print()
    print(f"{'':<{width}}  " + "  ".join(f"{'median':>9} {'ratio':>6}" for _ in pythons))
    for label, values in rows:
        cells = []
        for python in pythons:
            measured = values(python)
            cells.append(f"{statistics.median(measured):9.2f} {_median_ratio(values(first), measured):6.3f}")
        print(f"{label:<{width}}  " + "  ".join(cells))
    print("\ncolumns: " + ", ".join(pythons) + f"; ratio: {first}'s figure / this one's (below 1: slower)")


if __name__ == "__main__":
    main()
