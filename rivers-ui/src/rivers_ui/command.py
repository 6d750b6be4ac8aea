"""``rivers ui [TARGET]``: serve the web UI of a repository (installed by rivers-ui)."""

from __future__ import annotations

import argparse
from typing import Any

from rivers.cli.argtypes import add_target_argument
from rivers.cli.context import CommandContext
from rivers.cli.errors import EXIT_OK

__all__ = ["add_parser", "handle"]


def add_ui_options(parser: argparse.ArgumentParser) -> None:
    """``--host``, ``--port``, ``--allow-remote`` and ``--token`` (shared with ``rivers dev``)."""
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=3000, help="port (default 3000; 0 picks a free one)")
    parser.add_argument("--allow-remote", action="store_true",
                        help="allow a --host other than loopback; every request then needs the access token")
    parser.add_argument("--token", default=None,
                        help="the access token (default: RIVERS_UI_TOKEN, else generated for --allow-remote)")


def add_parser(subparsers: Any, parents: list[argparse.ArgumentParser]) -> None:
    """Add the ``ui`` command."""
    parser = subparsers.add_parser(
        "ui",
        parents=parents,
        help="serve the web UI: asset graph, runs live, backfills, automation",
        description="Serve the web UI of TARGET on 127.0.0.1:3000: the asset graph with a status per asset, "
        "the asset catalogue and pages, runs with their live event stream, backfills, schedules and sensors, "
        "the run queue and the plugins. Runs started from the UI run in this process. Stop with Ctrl-C.",
    )
    add_target_argument(parser, optional=True, default_help="default: [module] of rivers.toml")
    add_ui_options(parser)
    parser.set_defaults(handler=handle)


def prepared(args: argparse.Namespace, context: CommandContext) -> tuple[Any, Any, Any, str]:
    """Load TARGET, bind it to the project storage and build the app: ``(repository, app, socket, url)``."""
    from rivers_ui.app import UiSettings, create_app
    from rivers_ui.server import access_token_for, bind

    token = access_token_for(args.host, args.allow_remote, args.token)
    repository = context.load(args.target).repository
    context.project.bind(repository)
    settings = UiSettings(storage_url=context.project.storage_url, access_token=token)
    app = create_app(repository, settings=settings)
    sock = bind(args.host, args.port)
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    url = f"http://{shown}:{port}/" + (f"?token={token}" if token else "")
    return repository, app, sock, url


def handle(args: argparse.Namespace, context: CommandContext) -> int:
    """Serve until SIGINT/SIGTERM."""
    from rivers_ui.server import serve

    repository, app, sock, url = prepared(args, context)
    console = context.console
    with repository:
        serve(app, sock, on_started=lambda: console.print(f"rivers ui: serving {url}  (Ctrl-C to stop)"))
    console.print("rivers ui: stopped")
    return EXIT_OK
