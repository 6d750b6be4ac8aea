"""``rivers assets [TARGET]``: every asset with its group, kinds, last materialisation, partitions and staleness.

``--graph`` prints the lineage instead: a text tree, or ``--format dot`` /
``--format mermaid`` for export. ``--json`` prints the table's data.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from rivers.cli.argtypes import add_target_argument
from rivers.cli.context import CommandContext
from rivers.cli.errors import EXIT_OK, CliError
from rivers.cli.formatting import format_timestamp, short_version
from rivers.cli.table import format_table

if TYPE_CHECKING:
    from rivers.cli.partition_status import PartitionStatus
    from rivers.storage import RunRecord, Storage
    from rivers.storage.queries import AssetCatalogueEntry

__all__ = ["add_parser", "handle"]

_HEADERS = ["ASSET", "GROUP", "KINDS", "LAST MATERIALIZATION", "DATA VERSION", "PARTITIONS", "STATUS"]
_STALENESS = {"UpToDate": "up to date", "Stale": "stale", "Missing": "missing"}


def add_parser(subparsers: Any, parents: list[argparse.ArgumentParser]) -> None:
    """Add the ``assets`` command."""
    parser = subparsers.add_parser(
        "assets",
        parents=parents,
        help="list assets: last materialisation, partition counts, staleness (or --graph)",
        description="List the assets of TARGET with their group, kinds, last materialisation (local time), "
        "data version, partitions (materialised / failed / missing) and staleness (up to date, stale and "
        "why, missing). Without TARGET (and no [module] configured), list the assets recorded in the "
        "project storage.",
    )
    add_target_argument(parser, optional=True, default_help="default: [module] of rivers.toml, else the storage")
    parser.add_argument("--graph", action="store_true", help="print the lineage instead of the table")
    parser.add_argument("--format", choices=("text", "dot", "mermaid"), default="text",
                        help="with --graph: a text tree (default), Graphviz dot or a Mermaid flowchart")
    parser.add_argument("--json", action="store_true", help="print the assets as JSON")
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace, context: CommandContext) -> int:
    """Print one row per asset node, or the lineage."""
    console = context.console
    target = context.target_or_configured(args.target)
    if args.graph:
        if target is None:
            raise CliError("--graph needs TARGET (or [module] in rivers.toml): the lineage comes from the code")
        for line in _graph(context, target, args.format):
            console.print(line)
        return EXIT_OK
    if target is not None:
        documents = _documents_of_target(context, target)
    elif context.project.storage_exists():
        documents = _documents_of_storage(context.project.storage())
    else:
        documents = []
    if args.json:
        console.print(json.dumps(documents, indent=2))
        return EXIT_OK
    if not documents:
        console.print("no assets" + ("" if target else f" recorded in {context.project.storage_url}"))
        return EXIT_OK
    for line in format_table(_HEADERS, [_row(document) for document in documents]):
        console.print(line)
    return EXIT_OK


# ---------------------------------------------------------------------------
# The table
# ---------------------------------------------------------------------------


def _documents_of_target(context: CommandContext, target: str) -> list[dict[str, Any]]:
    """Data for the asset nodes of TARGET's graph, in topological order."""
    from rivers.cli.partition_status import partition_status, recent_runs
    from rivers.execution.partition_requests import dynamic_lookup

    repository = context.load(target).repository
    with repository:
        storage = context.project.bind(repository)
        nodes = repository.resolved.graph.nodes
        catalogue = {entry.asset_key: entry for entry in storage.get_asset_catalogue()}
        runs: list[RunRecord] | None = None
        documents = []
        for name, node in nodes.items():
            if node.kind in ("task", "graph_task"):
                continue
            status: PartitionStatus | None = None
            if node.partitions_def is not None:
                runs = recent_runs(storage) if runs is None else runs
                keys = node.partitions_def.get_partition_keys(dynamic_partitions=dynamic_lookup(storage))
                status = partition_status(storage, name, keys, runs)
            documents.append(_document(name, node.group, node.kinds, catalogue.get(name), status))
        return documents


def _documents_of_storage(storage: Storage) -> list[dict[str, Any]]:
    """Data for the assets registered in the storage by the last resolved repositories."""
    return [_document(entry.asset_key, entry.record.group, entry.record.kinds, entry, None)
            for entry in storage.get_asset_catalogue()]


def _document(name: str, group: str | None, kinds: Iterable[str], entry: AssetCatalogueEntry | None,
              partitions: PartitionStatus | None) -> dict[str, Any]:
    event = entry.last_materialization if entry is not None else None
    return {
        "asset": name, "group": group, "kinds": list(kinds),
        "last_materialization": None if event is None else event.timestamp,
        "data_version": None if event is None else event.data_version,
        "partitions": None if partitions is None else partitions.counts(),
        "staleness": entry.staleness if entry is not None else "Missing",
        "stale_causes": [cause.reason for cause in entry.stale_causes] if entry is not None else [],
    }


def _row(document: dict[str, Any]) -> list[object]:
    when = document["last_materialization"]
    counts = document["partitions"]
    partitions = None
    if counts is not None:
        partitions = f"{counts['materialized']}/{counts['total']} ok"
        if counts["failed"]:
            partitions += f", {counts['failed']} failed"
        if counts["missing"]:
            partitions += f", {counts['missing']} missing"
    status = _STALENESS.get(document["staleness"], str(document["staleness"]).lower())
    if document["stale_causes"]:
        status += f" ({document['stale_causes'][0]})"
    return [document["asset"], document["group"], ", ".join(document["kinds"]) or None,
            "never" if when is None else format_timestamp(when), short_version(document["data_version"]),
            partitions, status]


# ---------------------------------------------------------------------------
# The lineage
# ---------------------------------------------------------------------------


def _graph(context: CommandContext, target: str, style: str) -> list[str]:
    repository = context.load(target).repository
    graph = repository.resolved.graph
    names = [name for name, node in graph.nodes.items() if node.kind not in ("graph_task",)]
    known = set(names)
    edges = [(parent, name) for name in names for parent in graph.parents(name) if parent in known]
    if style == "dot":
        return ["digraph rivers {", "  rankdir=LR;", *(f'  "{name}";' for name in names),
                *(f'  "{a}" -> "{b}";' for a, b in edges), "}"]
    if style == "mermaid":
        ids = {name: f"n{index}" for index, name in enumerate(names)}
        return ["flowchart LR", *(f'  {ids[name]}["{name}"]' for name in names),
                *(f"  {ids[a]} --> {ids[b]}" for a, b in edges)]
    return _tree(names, edges, context.console.unicode)


def _tree(names: list[str], edges: list[tuple[str, str]], unicode: bool) -> list[str]:
    """Each root, then its downstream assets indented; an asset already shown is marked ``(above)``."""
    if unicode:
        tee, elbow, pipe = "\u251c\u2500\u2500 ", "\u2514\u2500\u2500 ", "\u2502   "
    else:
        tee, elbow, pipe = "|-- ", "`-- ", "|   "
    children: dict[str, list[str]] = {name: [] for name in names}
    has_parent = set()
    for parent, child in edges:
        children[parent].append(child)
        has_parent.add(child)
    lines: list[str] = []
    shown: set[str] = set()

    def walk(name: str, prefix: str, last: bool, depth: int) -> None:
        branch = "" if depth == 0 else (elbow if last else tee)
        repeated = name in shown and bool(children[name])
        lines.append(f"{prefix}{branch}{name}{'  (above)' if repeated else ''}")
        if repeated:
            return
        shown.add(name)
        below = prefix + ("" if depth == 0 else ("    " if last else pipe))
        for index, child in enumerate(children[name]):
            walk(child, below, index == len(children[name]) - 1, depth + 1)

    for root in (name for name in names if name not in has_parent):
        walk(root, "", True, 0)
    return lines
