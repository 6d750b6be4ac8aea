"""Instructions per one-partition run, counted by valgrind: a per-run cost that machine noise cannot move.

    python bench/instructions.py                       # this interpreter's rivers
    python bench/instructions.py --python ../before/bin/python --python ../ours/bin/python

Wall-clock medians of short runs swing by a quarter between sessions on a
shared machine; the number of instructions the interpreter executes does
not (two counts agree to a few in a million). For each interpreter this
runs the ``partitions`` workload's loop (one ``materialize()`` per daily
partition, in-process, embedded SQLite storage) under ``valgrind
--tool=cachegrind`` twice, with ``--runs`` and with five times as many runs,
and prints the difference per run: imports, store creation and the first
run cancel out (a first, uncounted process fills the user caches that later
processes read: the plugin scan and the empty-store image). The store's group commit is set an hour away, so no
background commit falls inside the count (they are counted where they
happen in a real process: off the run's thread). Instructions are not time
(cache misses are not in them), so read them beside the wall-clock
figures of ``compare.py``; they tell reliably whether a change to the run
path does less work. Needs ``valgrind`` (Debian: ``apt-get install valgrind``).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile

from _workload import FEATURES_OFF, PARTITION_RUNS_SETUP  # (run as a script from bench/)

_LOOP = """
for key in keys:
    assert repo.materialize(partition_key=key).success
os._exit(0)  # the exit's commit is not a run's work
"""


def _instructions(python: str, runs: int, features_off: list[str]) -> int:
    source = PARTITION_RUNS_SETUP + "".join(FEATURES_OFF[name] for name in features_off) + _LOOP
    with tempfile.TemporaryDirectory(prefix="rivers-instructions-") as directory:
        done = subprocess.run(
            ["valgrind", "--tool=cachegrind", "--cache-sim=no", "--cachegrind-out-file=/dev/null",
             python, "-c", source, str(runs)],
            cwd=directory, capture_output=True, text=True, env={**os.environ, "PYTHONHASHSEED": "0"}, check=False,
        )
    found = re.search(r"I\s+refs:\s+([\d,]+)", done.stderr)
    if done.returncode != 0 or found is None:
        raise SystemExit(f"{python}: valgrind failed:\n{done.stderr[-2000:]}")
    return int(found.group(1).replace(",", ""))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--python", action="append", help="interpreter to measure (repeatable; default: this one)")
    parser.add_argument("--runs", type=int, default=100, help="runs of the shorter count (the longer one: 5x)")
    parser.add_argument("--without", action="append", default=[], choices=sorted(FEATURES_OFF),
                        help="count with this per-run feature turned off (repeatable; see feature_cost.py)")
    args = parser.parse_args()
    if shutil.which("valgrind") is None:
        raise SystemExit("valgrind is not installed (Debian: apt-get install valgrind)")
    for python in args.python or [sys.executable]:
        _instructions(python, 1, [])  # warm the user caches (plugin scan, empty-store image): later processes hit them
        short = _instructions(python, args.runs, args.without)
        long = _instructions(python, args.runs * 5, args.without)
        per_run = (long - short) / (args.runs * 4)
        without = f" without {', '.join(args.without)}" if args.without else ""
        print(f"{python}{without}: {per_run:,.0f} instructions per one-partition run")


if __name__ == "__main__":
    main()
