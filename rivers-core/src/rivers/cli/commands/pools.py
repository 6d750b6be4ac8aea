"""``rivers pools list | info POOL | set POOL LIMIT``: the concurrency pools of the project storage."""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING, Any

from rivers.cli.argtypes import int_at_least
from rivers.cli.context import CommandContext
from rivers.cli.errors import EXIT_OK, CliError
from rivers.cli.formatting import format_timestamp
from rivers.cli.table import format_table

if TYPE_CHECKING:
    from rivers.storage.pools import PoolInfo

__all__ = ["add_parser"]


def add_parser(subparsers: Any, parents: list[argparse.ArgumentParser]) -> None:
    """Add ``pools`` and its sub-commands."""
    parser = subparsers.add_parser("pools", parents=parents, help="list, inspect and set concurrency pools",
                                   description="The concurrency pools recorded in the project storage.")
    actions = parser.add_subparsers(dest="pools_command", metavar="ACTION", required=True)
    listing = actions.add_parser("list", parents=parents, help="every pool with its limit and claims")
    listing.add_argument("--json", action="store_true", help="print them as JSON")
    listing.set_defaults(handler=_list)
    info = actions.add_parser("info", parents=parents, help="one pool and the steps holding its slots")
    info.add_argument("pool", metavar="POOL")
    info.add_argument("--json", action="store_true", help="print it as JSON")
    info.set_defaults(handler=_info)
    setter = actions.add_parser("set", parents=parents, help="set (create or change) a pool's slot limit")
    setter.add_argument("pool", metavar="POOL")
    setter.add_argument("limit", metavar="LIMIT", type=int_at_least(0, "a number of slots"))
    setter.add_argument("--lease-duration", default="5m", metavar="DURATION",
                        help="how long a claim lasts unless renewed (e.g. 30s, 5m, 1h; default 5m)")
    setter.set_defaults(handler=_set)


def _pool_dict(info: PoolInfo) -> dict[str, Any]:
    return {"pool": info.pool_key, "limit": info.slot_limit, "claimed": info.claimed_count,
            "pending": info.pending_count, "lease_duration_secs": info.lease_duration_secs}


def _list(args: argparse.Namespace, context: CommandContext) -> int:
    infos = context.project.storage().get_all_pool_infos() if context.project.storage_exists() else []
    if args.json:
        context.console.print(json.dumps([_pool_dict(info) for info in infos], indent=2))
    elif not infos:
        context.console.print("no pools configured")
    else:
        rows = [[i.pool_key, i.slot_limit, i.claimed_count, i.pending_count, f"{i.lease_duration_secs}s"]
                for i in infos]
        for line in format_table(["POOL", "LIMIT", "CLAIMED", "PENDING", "LEASE"], rows, align="lrrrr"):
            context.console.print(line)
    return EXIT_OK


def _info(args: argparse.Namespace, context: CommandContext) -> int:
    storage = context.project.storage()
    try:
        info = storage.get_pool_info(args.pool)
    except Exception as error:  # noqa: BLE001 - storages raise their own "unknown pool" errors
        known = ", ".join(i.pool_key for i in storage.get_all_pool_infos()) or "none"
        raise CliError(f"pool {args.pool!r}: {error} (pools: {known}; `rivers pools set POOL LIMIT` adds one)") \
            from error
    holders = storage.get_pool_slot_holders(args.pool)
    if args.json:
        document = _pool_dict(info)
        document["holders"] = [{"run_id": h.run_id, "step_key": h.step_key, "slots": h.slots_consumed,
                                "lease_expires_at": h.lease_expires_at} for h in holders]
        context.console.print(json.dumps(document, indent=2))
        return EXIT_OK
    rows: list[list[object]] = [
        ["Pool:", info.pool_key], ["Slot limit:", info.slot_limit], ["Lease:", f"{info.lease_duration_secs}s"],
        ["Claimed:", f"{info.claimed_count}/{info.slot_limit}"], ["Pending:", info.pending_count]]
    for line in format_table(None, rows):
        context.console.print(line)
    if holders:
        context.console.print()
        table = [[h.run_id, h.step_key, h.slots_consumed, format_timestamp(h.lease_expires_at)] for h in holders]
        for line in format_table(["RUN ID", "STEP", "SLOTS", "LEASE EXPIRES"], table, align="llrl"):
            context.console.print(line)
    else:
        context.console.print("no active slot holders")
    return EXIT_OK


def _set(args: argparse.Namespace, context: CommandContext) -> int:
    storage = context.project.storage()
    try:
        storage.set_pool_limit(args.pool, args.limit, args.lease_duration)
    except ValueError as error:
        raise CliError(f"pools set {args.pool} {args.limit}: {error}") from error
    context.console.print(f"Pool '{args.pool}' set to limit={args.limit}, lease_duration={args.lease_duration}")
    return EXIT_OK
