"""The repositories bench/ui.py serves: a layered graph of ``RIVERS_BENCH_UI_ASSETS`` assets (lineage-only
edges, 10 groups), a ``wide`` asset whose run is timed for its events, an asset of 100,000 static partitions,
and a short chain the event-latency probe materialises."""

from __future__ import annotations

import os
import time
import rivers as rs

COUNT = int(os.environ.get("RIVERS_BENCH_UI_ASSETS", "1000"))
WIDTH = max(1, int(COUNT ** 0.5))
PARTITIONS = rs.PartitionsDefinition.static_([f"k{index:06d}" for index in range(100_000)])


def _node(index: int) -> rs.Asset:
    layer, column = divmod(index, WIDTH)
    parents = [] if layer == 0 else sorted({(layer - 1) * WIDTH + column, (layer - 1) * WIDTH + (column * 7 + 3) % WIDTH})

    def body() -> None:
        return None

    body.__name__ = f"n{index}"
    return rs.Asset(name=f"n{index}", group=f"g{column % 10}", deps=[rs.AssetDef.dep(f"n{p}") for p in parents])(body)


@rs.Asset(partitions_def=PARTITIONS, group="partitioned")
def days(context: rs.AssetExecutionContext) -> None:
    return None


def _probe(index: int) -> rs.Asset:
    def body() -> None:
        time.sleep(0.2)

    body.__name__ = f"probe{index}"
    deps = [rs.AssetDef.dep(f"probe{index - 1}")] if index else []
    return rs.Asset(name=f"probe{index}", group="probe", deps=deps)(body)


ASSETS = [_node(index) for index in range(COUNT)] + [days] + [_probe(index) for index in range(10)]
repo = rs.CodeRepository(assets=ASSETS)
