"""``rivers backfills``, ``rivers backfill-status ID`` and ``rivers backfill-cancel ID``: stored backfills.

None of them imports a TARGET (the published package's optional MODULE
argument is accepted and ignored) or sets up resources.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from rivers.cli.argtypes import int_at_least
from rivers.cli.context import CommandContext
from rivers.cli.errors import EXIT_OK
from rivers.cli.formatting import format_timestamp
from rivers.cli.table import format_table

__all__ = ["add_parser"]

_HEADERS = ["BACKFILL ID", "STATUS", "CREATED", "PARTITIONS", "DONE", "FAILED", "CANCELED", "RUNS"]
#: Length of the backfill ids shown; every backfill command accepts such prefixes.
SHORT_ID = 8


def add_parser(subparsers: Any, parents: list[argparse.ArgumentParser]) -> None:
    """Add ``backfills``, ``backfill-status`` and ``backfill-cancel``."""
    listing = subparsers.add_parser(
        "backfills", parents=parents, help="list stored backfills",
        description="List the backfills recorded in the project storage, newest first.",
    )
    listing.add_argument("-n", "--limit", type=int_at_least(0, "a number of backfills"), default=20, metavar="N",
                         help="at most N backfills (20)")
    listing.add_argument("--json", action="store_true", help="print them as JSON")
    listing.set_defaults(handler=_list)
    for name, verb, flag, handler in (("backfill-status", "show", "--status", _status),
                                      ("backfill-cancel", "cancel", "--cancel", _cancel)):
        parser = subparsers.add_parser(
            name, parents=parents, help=f"{verb} a stored backfill (same as backfill {flag})",
            description=f"{verb.capitalize()} backfill ID (a unique prefix is enough) from the project storage.",
        )
        parser.add_argument("backfill_id", metavar="ID", help="a backfill id or a unique prefix")
        parser.add_argument("module", metavar="TARGET", nargs="?", help="accepted for the published package's "
                            "scripts; not needed")
        if name == "backfill-status":
            parser.add_argument("--json", action="store_true", help="print the backfill as JSON")
        parser.set_defaults(handler=handler)


def _status(args: argparse.Namespace, context: CommandContext) -> int:
    from rivers.cli.stored_backfills import show

    return show(context, args.backfill_id, as_json=args.json)


def _cancel(args: argparse.Namespace, context: CommandContext) -> int:
    from rivers.cli.stored_backfills import cancel

    return cancel(context, args.backfill_id)


def _list(args: argparse.Namespace, context: CommandContext) -> int:
    from rivers.cli.stored_backfills import record_to_dict, stored_backfills

    console = context.console
    records = stored_backfills(context.project.storage())[: args.limit] if context.project.storage_exists() else []
    if args.json:
        console.print(json.dumps([record_to_dict(record) for record in records], indent=2))
        return EXIT_OK
    if not records:
        console.print(f"no backfills recorded in {context.project.storage_url}")
        return EXIT_OK
    rows = []
    for record in records:
        status = record.to_status()
        rows.append([record.backfill_id[:SHORT_ID], record.status, format_timestamp(record.created),
                     status.total_partitions, status.completed_partitions, status.failed_partitions,
                     status.canceled_partitions, len(record.run_ids)])
    for line in format_table(_HEADERS, rows, align="lllrrrrr"):
        console.print(line)
    return EXIT_OK
