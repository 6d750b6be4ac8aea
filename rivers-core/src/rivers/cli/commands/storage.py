"""``rivers storage migrate`` (alias ``rivers db migrate``): bring the project storage's schema up to date;
``rivers storage prune --older-than 90d``: event-log retention, for backends that have it."""

from __future__ import annotations

import argparse
from typing import Any

from rivers.cli.context import CommandContext
from rivers.cli.errors import EXIT_OK, CliError

__all__ = ["add_parser", "handle_migrate", "handle_prune", "without_password"]


def add_parser(subparsers: Any, parents: list[argparse.ArgumentParser]) -> None:
    """Add the ``storage`` command (alias ``db``) and its ``migrate`` subcommand."""
    parser = subparsers.add_parser(
        "storage",
        aliases=["db"],
        parents=parents,
        help="manage the project storage (schema migrations)",
        description="Manage the project storage.",
    )
    actions = parser.add_subparsers(dest="storage_command", metavar="ACTION", required=True)
    migrate = actions.add_parser(
        "migrate",
        parents=parents,
        help="apply pending schema migrations",
        description=(
            "Apply every pending schema migration to the project storage (the URL of --storage, "
            "RIVERS_STORAGE_URL or rivers.toml), also those not applied automatically when a store is opened. "
            "Back the store up first. Running it again does nothing."
        ),
    )
    migrate.set_defaults(handler=handle_migrate)
    prune = actions.add_parser(
        "prune",
        parents=parents,
        help="delete old events and logs (event-log retention)",
        description=(
            "Delete the events and captured logs of runs that ended longer ago than --older-than. Run records "
            "and everything derived from events (asset records, latest materialisations, partition status) stay. "
            "Needs a storage backend with retention (e.g. PostgreSQL)."
        ),
    )
    prune.add_argument("--older-than", required=True, metavar="DURATION", help="e.g. 90d, 12h, 30m")
    prune.set_defaults(handler=handle_prune)


def handle_migrate(args: argparse.Namespace, context: CommandContext) -> int:
    """Migrate the project storage and say from which version to which."""
    console = context.console
    project = context.project
    url = project.storage_url
    scheme = url.partition("://")[0].lower()
    if scheme == "memory":
        console.print(f"{url}: an in-memory store has no schema to migrate")
        return EXIT_OK
    if scheme != "sqlite":
        return _migrate_plugin_backend(url, context)
    if not project.storage_exists():
        console.print(f"{url}: no storage yet (it is created at the current schema version when first used)")
        return EXIT_OK
    from rivers.plugins.builtin import sqlite_path
    from rivers.storage.sqlite import migrate_file

    report = migrate_file(sqlite_path(url))
    if not report.applied:
        console.print(f"{report.path}: schema version {report.to_version}, up to date")
        return EXIT_OK
    console.print(f"{report.path}: migrated from schema version {report.from_version} to {report.to_version}")
    for line in report.applied:
        console.print(f"  {line}")
    return EXIT_OK


def handle_prune(args: argparse.Namespace, context: CommandContext) -> int:
    """Prune the project storage's event log, if its backend has retention (``prune_events``)."""
    from rivers.storage.pools import parse_duration

    try:
        parse_duration(args.older_than, "--older-than")
    except ValueError as error:
        raise CliError(str(error)) from None
    storage = context.project.storage()
    prune = getattr(storage, "prune_events", None)
    if prune is None:
        raise CliError(f"storage backend {type(storage).__name__} has no event-log retention (prune_events)")
    report = prune(args.older_than)
    context.console.print(
        f"{without_password(context.project.storage_url)}: deleted {report.events} events and {report.logs} logs "
        f"of {report.runs} runs that ended more than {args.older_than} ago"
    )
    return EXIT_OK


def _migrate_plugin_backend(url: str, context: CommandContext) -> int:
    """A plugin backend migrates with its ``_migrate`` class method, if it has one."""
    from rivers.plugins import get_plugin_manager
    from rivers.plugins.components import STORAGE_BACKEND

    scheme = url.partition("://")[0].lower()
    factory = get_plugin_manager().lookup(STORAGE_BACKEND, scheme)
    migrate = getattr(factory, "_migrate", None)
    if migrate is None:
        raise CliError(
            f"storage backend of {scheme}:// has no migration command; it migrates its schema itself when "
            "opened (see the plugin's documentation)"
        )
    shown = without_password(url)
    for line in migrate(url, **context.project.config.storage_settings) or ["up to date"]:
        context.console.print(f"{shown}: {line}")
    return EXIT_OK


def without_password(url: str) -> str:
    """``url`` with the password of its user information replaced by ``***`` (for output)."""
    scheme, separator, rest = url.partition("://")
    authority, slash, path = rest.partition("/")
    user, at, host = authority.rpartition("@")
    if not separator or not at or ":" not in user:
        return url
    return f"{scheme}://{user.partition(':')[0]}:***@{host}{slash}{path}"
