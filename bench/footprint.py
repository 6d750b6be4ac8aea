"""The code one steady-state partition run executes: Python calls and bytecode cache lines, by module.

    python bench/footprint.py                                   # this interpreter's rivers
    python bench/footprint.py --python ../before/bin/python --python ../ours/bin/python
    python bench/footprint.py --functions 20                    # also the 20 widest functions

``bench/instructions.py`` counts the instructions of a run, which machine
noise cannot move; but two versions with equal counts can still differ in
time, because a run that executes more distinct code misses the CPU's
first-level caches more often. This measures that footprint without
valgrind: for each interpreter it runs the ``partitions`` workload's loop
(one ``materialize()`` per daily partition, in-process, embedded SQLite
storage, the group commit an hour away) for ``--warm`` runs, then traces
one more run at opcode level (``sys.settrace``) and reports

* ``calls``: Python function calls the run makes, and how many distinct
  functions they are;
* ``lines``: distinct 64-byte lines of bytecode (inline caches included,
  as CPython 3.11 lays them out) the run executes, in total and per
  module. A run re-reads all of them every time, so their number, against
  a first-level data cache of 32-48 KB, is what the cache misses follow.

Only Python code is seen (the C functions it calls are not). The trace
slows the traced run down a hundredfold; the figures are counts, not times.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from typing import TypedDict

from _workload import PARTITION_RUNS_SETUP  # (run as a script from bench/)

_TRACED_RUN = PARTITION_RUNS_SETUP + r"""
import collections, json

warm = int(sys.argv[1])
for key in keys[:warm]:
    assert repo.materialize(partition_key=key).success

lines = collections.defaultdict(set)  # code object -> indexes of the 64-byte lines executed
calls = collections.Counter()

def trace(frame, event, arg):
    if event == "call":
        frame.f_trace_opcodes = True
        calls[frame.f_code] += 1
    elif event == "opcode":
        lines[frame.f_code].add(frame.f_lasti // 32)  # f_lasti counts 2-byte code units
    return trace

sys.settrace(trace)
assert repo.materialize(partition_key=keys[warm]).success
sys.settrace(None)

def where(code):
    path = code.co_filename.replace(os.sep, "/")
    for marker in ("site-packages/", "/src/", "lib/python"):
        if marker in path:
            path = path.split(marker, 1)[1]
            break
    return path

functions = [
    {"module": where(code), "name": f"{code.co_name}:{code.co_firstlineno}", "lines": len(lines[code]),
     "calls": calls[code]}
    for code in set(lines) | set(calls) if code.co_filename != "<string>"
]
print(json.dumps(functions))
os._exit(0)
"""


class _Function(TypedDict):
    """One function the traced run executed (the JSON the child prints)."""

    module: str
    name: str
    lines: int
    calls: int


def _footprint(python: str, warm: int) -> list[_Function]:
    with tempfile.TemporaryDirectory(prefix="rivers-footprint-") as directory:
        done = subprocess.run([python, "-c", _TRACED_RUN, str(warm)], cwd=directory, capture_output=True,
                              text=True, check=False)
    if done.returncode != 0 or not done.stdout.strip():
        sys.exit(f"{python}: the traced run failed:\n{done.stderr.strip()}")
    functions: list[_Function] = json.loads(done.stdout.strip().splitlines()[-1])
    return functions


def _by_module(functions: list[_Function]) -> dict[str, int]:
    modules: dict[str, int] = {}
    for function in functions:
        modules[function["module"]] = modules.get(function["module"], 0) + function["lines"]
    return modules


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--python", action="append", help="interpreter to measure (repeatable; default: this one)")
    parser.add_argument("--warm", type=int, default=50, help="untraced runs before the traced one (default 50)")
    parser.add_argument("--modules", type=int, default=25, help="modules to list (default 25)")
    parser.add_argument("--functions", type=int, default=0, help="also list this many widest functions")
    args = parser.parse_args()
    pythons = args.python or [sys.executable]
    results = {python: _footprint(python, args.warm) for python in pythons}
    for python, functions in results.items():
        total_calls = sum(function["calls"] for function in functions)
        total_lines = sum(function["lines"] for function in functions)
        print(f"{python}: {total_calls} Python calls of {len(functions)} distinct functions, "
              f"{total_lines} bytecode lines of 64 bytes ({total_lines * 64 / 1024:.0f} KB) per run")
    modules = {python: _by_module(functions) for python, functions in results.items()}
    names = sorted({name for per in modules.values() for name in per},
                   key=lambda name: -max(per.get(name, 0) for per in modules.values()))
    print("\nbytecode lines per module" + "".join(f"  [{index}]" for index in range(len(pythons))))
    for name in names[:args.modules]:
        print(f"  {name:<48}" + "".join(f"{modules[python].get(name, 0):>5}" for python in pythons))
    for index, (python, functions) in enumerate(results.items()):
        if args.functions:
            print(f"\n[{index}] {python}: widest functions (lines, calls)")
            for function in sorted(functions, key=lambda function: -function["lines"])[:args.functions]:
                print(f"  {function['lines']:>4} {function['calls']:>3}  {function['module']} {function['name']}")


if __name__ == "__main__":
    main()
