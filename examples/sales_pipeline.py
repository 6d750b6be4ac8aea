"""An example pipeline: raw orders and customers → cleaned → revenue report.

Run it with the project's main command (see the README):

    rivers materialize examples/sales_pipeline.py

It uses only the built-ins: values stay in memory for the run, and every run,
step and materialisation is recorded in the embedded SQLite storage under
``.rivers/`` so that ``rivers runs`` and ``rivers assets`` can show them.
"""

from __future__ import annotations

import dataclasses
import random
from collections import defaultdict

import rivers as rs

REGIONS = ("north", "south", "east", "west")


@dataclasses.dataclass
class Currency:
    """A resource: how amounts are displayed."""

    symbol: str = "€"
    decimals: int = 2


@dataclasses.dataclass
class ReportConfig:
    """Typed run config of the `revenue_report` asset."""

    top_n: int = 3


@rs.Hook.failure(name="log_failure")
def log_failure(ctx: rs.HookContext) -> None:
    print(f"asset {ctx.asset_name} failed in run {ctx.run_id}: {ctx.error}")


@rs.Asset(group="raw", kinds="table", description="Orders as exported by the shop, with some bad rows.")
def raw_orders(context: rs.AssetExecutionContext) -> list[dict]:
    rng = random.Random(42)
    orders = [
        {
            "id": i,
            "customer_id": rng.randrange(50),
            "amount": round(rng.uniform(-5, 250), 2),
        }
        for i in range(2_000)
    ]
    context.add_output_metadata({"rows": len(orders)})
    return orders


@rs.Asset(group="raw", kinds="table")
def raw_customers() -> list[dict]:
    rng = random.Random(7)
    return [{"id": i, "region": rng.choice(REGIONS)} for i in range(50)]


@rs.Asset(group="clean", kinds="table", code_version="1")
def orders(context: rs.AssetExecutionContext, raw_orders: list[dict]) -> rs.Output:
    """Orders with a positive amount."""
    valid = [o for o in raw_orders if o["amount"] > 0]
    context.log.info("dropped %d invalid orders", len(raw_orders) - len(valid))
    return rs.Output(valid, metadata={"rows": len(valid), "dropped": len(raw_orders) - len(valid)})


@rs.Asset(group="clean", kinds="table")
def customer_regions(raw_customers: list[dict]) -> dict[int, str]:
    return {c["id"]: c["region"] for c in raw_customers}


@rs.Asset(group="report", hooks=[log_failure])
def revenue_by_region(orders: list[dict], customer_regions: dict[int, str]) -> dict[str, float]:
    totals: dict[str, float] = defaultdict(float)
    for order in orders:
        totals[customer_regions[order["customer_id"]]] += order["amount"]
    return {region: round(total, 2) for region, total in sorted(totals.items())}


@rs.Asset(group="report", kinds="markdown")
def revenue_report(
    context: rs.AssetExecutionContext[ReportConfig],
    revenue_by_region: dict[str, float],
    currency: Currency,
) -> str:
    ranked = sorted(revenue_by_region.items(), key=lambda item: item[1], reverse=True)
    lines = ["| region | revenue |", "|---|---|"]
    lines += [f"| {region} | {currency.symbol}{total:,.{currency.decimals}f} |"
              for region, total in ranked[: context.config.top_n]]
    report = "\n".join(lines)
    context.add_output_metadata({"report": rs.MetadataValue.md(report)})
    return report


repository = rs.CodeRepository(
    assets=[raw_orders, raw_customers, orders, customer_regions, revenue_by_region, revenue_report],
    resources={"currency": Currency()},
)

if __name__ == "__main__":
    result = repository.materialize()
    print(result)
    print(repository.load_node("revenue_report"))
