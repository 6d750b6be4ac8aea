"""``rivers validate TARGET``: build the graph and check every definition, without running anything."""

from __future__ import annotations

import argparse
from typing import Any

from rivers.cli.argtypes import add_target_argument
from rivers.cli.context import CommandContext
from rivers.cli.errors import EXIT_FAILURE, EXIT_OK, is_user_error
from rivers.cli.formatting import plural

__all__ = ["add_parser", "handle"]


def add_parser(subparsers: Any, parents: list[argparse.ArgumentParser]) -> None:
    """Add the ``validate`` command."""
    parser = subparsers.add_parser(
        "validate",
        parents=parents,
        help="check the definitions of TARGET (graph, jobs) and rivers.toml",
        description="Check the project settings (rivers.toml, pyproject.toml, RIVERS_* variables) as strictly as "
        "materialize uses them, then import TARGET and build and validate its graph, jobs, schedules and sensors. "
        "Nothing runs and no storage is opened. Exit 2 for a settings error (as materialize), 1 when a "
        "definition is invalid.",
    )
    add_target_argument(parser, optional=True, default_help="default: [module] of rivers.toml")
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace, context: CommandContext) -> int:
    """Print what TARGET defines; 1 with the error on stderr if a definition is invalid."""
    from rivers.repository_state import build_graph

    # settings first, exactly as materialize would use them: their errors are configuration errors (exit 2)
    context.project.config.check()
    try:
        loaded = context.load(args.target)
        repository = loaded.repository
        repository.validate()
    except Exception as error:
        if not is_user_error(error):
            raise
        context.console.error(f"error: {type(error).__name__}: {error}")
        return EXIT_FAILURE
    definition = repository.definition
    graph = build_graph(definition)
    assets = sum(1 for node in graph.nodes.values() if node.kind not in ("task", "graph_task"))
    counts = [plural(assets, "asset"), plural(len(graph.steps), "step"), plural(len(definition.jobs), "job")]
    context.console.print(f"{loaded.origin}: valid, {', '.join(counts)}")
    return EXIT_OK
