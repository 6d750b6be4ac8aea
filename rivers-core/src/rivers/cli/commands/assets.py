"""``rivers assets [TARGET]``: every asset with its group, kinds and last materialisation."""

from __future__ import annotations

import argparse
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from rivers.cli.argtypes import add_target_argument
from rivers.cli.context import CommandContext
from rivers.cli.errors import EXIT_OK
from rivers.cli.formatting import format_timestamp, short_version
from rivers.cli.table import format_table

if TYPE_CHECKING:
    from rivers.storage import Storage

__all__ = ["add_parser", "handle"]

_HEADERS = ["ASSET", "GROUP", "KINDS", "LAST MATERIALIZATION", "DATA VERSION"]


def add_parser(subparsers: Any, parents: list[argparse.ArgumentParser]) -> None:
    """Add the ``assets`` command."""
    parser = subparsers.add_parser(
        "assets",
        parents=parents,
        help="list assets and their last materialisation",
        description="List the assets of TARGET with their group, kinds, last materialisation (local time) "
        "and data version. Without TARGET, list the assets recorded in the project storage.",
    )
    add_target_argument(parser, optional=True)
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace, context: CommandContext) -> int:
    """Print one row per asset node."""
    console = context.console
    if args.target is not None:
        rows = _rows_of_target(context, args.target)
    elif context.project.storage_exists():
        rows = _rows_of_storage(context.project.storage())
    else:
        rows = []
    if not rows:
        console.print("no assets" + ("" if args.target else f" recorded in {context.project.storage_url}"))
        return EXIT_OK
    for line in format_table(_HEADERS, rows):
        console.print(line)
    return EXIT_OK


def _rows_of_target(context: CommandContext, target: str) -> list[list[object]]:
    """Rows for the asset nodes of TARGET's graph, in topological order."""
    from rivers.cli.target import load_target

    repository = load_target(target).repository
    with repository:
        storage = context.project.bind(repository)
        nodes = repository._state().graph.nodes
        return [
            _row(storage, name, node.group, node.kinds)
            for name, node in nodes.items()
            if node.kind not in ("task", "graph_task")
        ]


def _rows_of_storage(storage: Storage) -> list[list[object]]:
    """Rows for the assets registered in the storage by the last resolved repositories."""
    return [_row(storage, record.asset_key, record.group, record.kinds) for record in storage.get_asset_records()]


def _row(storage: Storage, name: str, group: str | None, kinds: Iterable[str]) -> list[object]:
    event = storage.get_latest_materialization(name)
    if event is None:
        return [name, group, ", ".join(kinds) or None, "never", None]
    return [name, group, ", ".join(kinds) or None, format_timestamp(event.timestamp), short_version(event.data_version)]
