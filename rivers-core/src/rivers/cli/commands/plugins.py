"""``rivers plugins``: installed plugins, the components they provide, and the broken ones."""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING, Any

from rivers.cli.context import CommandContext
from rivers.cli.errors import EXIT_FAILURE, EXIT_OK
from rivers.cli.table import format_table

if TYPE_CHECKING:
    from collections.abc import Sequence

    from rivers.plugins import BrokenPlugin, PluginInfo

__all__ = ["add_parser", "handle"]


def add_parser(subparsers: Any, parents: list[argparse.ArgumentParser]) -> None:
    """Add the ``plugins`` command."""
    parser = subparsers.add_parser(
        "plugins",
        parents=parents,
        help="list plugins, their components and hooks, and broken plugins",
        description="List every plugin (built-ins included) with its distribution, the component names "
        "it provides per kind and the hooks it implements, then the plugins that failed to load.",
    )
    parser.add_argument("--strict", action="store_true", help="exit 1 if any plugin is broken")
    parser.add_argument("--json", action="store_true", help="print the listing as JSON")
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace, context: CommandContext) -> int:
    """Print the plugins and the broken ones; 1 with ``--strict`` when some are broken."""
    import rivers.plugins

    plugins = rivers.plugins.list_plugins()
    broken = rivers.plugins.broken_plugins()
    clash = published_package_clash()
    if args.json:
        document = {"plugins": [p.to_dict() for p in plugins], "broken": [b.to_dict() for b in broken],
                    "warnings": [clash] if clash else []}
        context.console.print(json.dumps(document, indent=2, sort_keys=True))
    else:
        _print_plugins(context, plugins)
        _print_broken(context, broken)
    if clash:
        context.console.error(f"warning: {clash}")
    return EXIT_FAILURE if args.strict and broken else EXIT_OK


#: The distribution name of the published package, which installs the same import package ``rivers``.
PUBLISHED_DISTRIBUTION = "rivers"


def published_package_clash() -> str | None:
    """A warning when the published ``rivers`` distribution is installed next to ``rivers-core``."""
    from importlib import metadata

    try:
        version = metadata.version(PUBLISHED_DISTRIBUTION)
    except metadata.PackageNotFoundError:
        return None
    return (f"the published package '{PUBLISHED_DISTRIBUTION}' {version} is installed in this environment next to "
            "rivers-core; both provide the import name 'rivers', so one overwrites the other's files. "
            f"Use separate virtual environments (pip uninstall {PUBLISHED_DISTRIBUTION} here).")


def _print_plugins(context: CommandContext, plugins: list[PluginInfo]) -> None:
    from rivers.plugins.components import KINDS

    console = context.console
    for index, plugin in enumerate(plugins):
        if index:
            console.print()
        origin = " ".join(part for part in (plugin.distribution, plugin.version) if part) or plugin.source
        console.print(f"{plugin.name}  ({origin}){'  [built-in]' if plugin.builtin else ''}")
        rows: list[list[object]] = [
            [f"{KINDS[kind].plural}:" if kind in KINDS else f"{kind}:", ", ".join(names)]
            for kind, names in plugin.components.items()
            if names
        ]
        rows.append(["hooks:", ", ".join(plugin.hooks) or None])
        for line in format_table(None, rows, indent="  "):
            console.print(line)


def _print_broken(context: CommandContext, broken: list[BrokenPlugin]) -> None:
    console = context.console
    if not broken:
        return
    console.print()
    console.print(f"Broken plugins ({len(broken)}):")
    for plugin in broken:
        console.print()
        origin = " ".join(part for part in (plugin.distribution, plugin.version) if part) or "registered in code"
        console.print(f"{plugin.name}  ({origin})")
        rows: list[Sequence[object]] = [
            ["entry point:", plugin.name],
            ["failed at:", plugin.stage],
            ["error:", plugin.cause],
            *(["at:" if index == 0 else "", frame] for index, frame in enumerate(plugin.traceback)),
        ]
        for line in format_table(None, rows, indent="  "):
            console.print(line)
