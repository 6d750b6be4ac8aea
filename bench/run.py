"""Benchmarks of rivers-core: import time, per-asset run cost, validation time.

    python bench/run.py                 # everything, human-readable
    python bench/run.py --json out.json

Every measurement runs in a fresh interpreter (``bench/_workload.py``) in a
fresh temporary directory, so the embedded default storage starts empty and
module caches do not leak between measurements. Medians of ``--repeat`` runs
are reported. Side-by-side comparisons with the published package and
Dagster use ``../shared/bench/compare.py`` (see README "Benchmarks").
"""

from __future__ import annotations

import argparse
import compileall
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


def _run(args: list[str]) -> dict:
    env = {**os.environ, "RIVERS_DISABLE_PLUGIN_AUTOLOAD": os.environ.get("RIVERS_DISABLE_PLUGIN_AUTOLOAD", "")}
    out = subprocess.run([sys.executable, str(HERE / "_workload.py"), *args], capture_output=True, text=True,
                         env=env, check=False)
    if out.returncode != 0:
        raise SystemExit(f"workload {args} failed:\n{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def _median(args: list[str], key: str, repeat: int) -> tuple[float, dict]:
    runs = [_run(args) for _ in range(repeat)]
    return statistics.median(r[key] for r in runs), runs[-1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--sizes", default="100,1000,10000")
    parser.add_argument("--json")
    options = parser.parse_args()
    # compile once so that no measurement pays for byte-compiling rivers itself
    compileall.compile_dir(str(ROOT / "rivers-core" / "src"), quiet=1)
    results: dict = {}

    import_ms, last = _median(["import"], "import_ms", max(options.repeat, 5))
    results["import"] = {"import_ms": import_ms, "networkx_imported": last["networkx_imported"],
                         "pluggy_imported": last["pluggy_imported"]}
    print(f"import rivers: {import_ms:.1f} ms (networkx imported: {last['networkx_imported']}, "
          f"pluggy imported: {last['pluggy_imported']})")
    first_use, _ = _median(["first-use"], "import_ms", max(options.repeat, 5))
    results["first_use"] = {"import_ms": first_use}
    print(f"import rivers + define an asset (loads the asset model): {first_use:.1f} ms")

    results["layered"] = {}
    for size in (int(s) for s in options.sizes.split(",")):
        per_asset, last = _median(["layered", str(size)], "us_per_asset", options.repeat)
        results["layered"][size] = {"us_per_asset": per_asset, **last}
        print(f"layered {size:>6} assets (in-process, embedded SQLite): {per_asset:8.1f} us/asset "
              f"(resolve {last['resolve_us_per_asset']:.1f}, run {last['run_us_per_asset']:.1f}; "
              f"second run {last['second_run_us_per_asset']:.1f} us/asset)")

    validate_s, _ = _median(["validate", "10000"], "validate_s", options.repeat)
    results["validate"] = {"n": 10000, "validate_s": validate_s}
    print(f"validate 10000 assets: {validate_s:.3f} s")
    if options.json:
        Path(options.json).write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
