"""The bench's 200 trivial steps: 20 chains of 10 (importable by the pods' worker processes)."""

from __future__ import annotations

import os

import rivers as rs

CHAINS = 20
LENGTH = 10
FS = rs.io_handler("fs", base_dir=os.environ.get("RIVERS_BENCH_VALUES", "bench-values"))


def _define(name: str, upstream: str | None) -> rs.Asset:
    params = upstream or ""
    body = f"    return {upstream} + 1\n" if upstream else "    return 0\n"
    namespace = globals()
    exec(f"def {name}({params}):\n{body}", namespace)  # noqa: S102 - module-level functions pods import
    asset = rs.Asset(io_handler=FS)(namespace[name])
    namespace[name] = asset
    return asset


ASSETS = []
for chain in range(CHAINS):
    for position in range(LENGTH):
        ASSETS.append(_define(f"s{chain}_{position}", f"s{chain}_{position - 1}" if position else None))
