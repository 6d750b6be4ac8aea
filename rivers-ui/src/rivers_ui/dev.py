"""``rivers dev TARGET``: the automation daemon (as ``rivers daemon`` runs it) and the web UI in one process.

SIGINT/SIGTERM stop the UI server first, then the daemon after its current
tick (its runs are waited for up to 30 s); the command then exits 0.
"""

from __future__ import annotations

import argparse
from typing import Any

from rivers.cli.argtypes import add_target_argument
from rivers.cli.context import CommandContext
from rivers.cli.errors import EXIT_OK

from rivers_ui.command import add_ui_options, prepared

__all__ = ["add_parser", "handle"]


def add_parser(subparsers: Any, parents: list[argparse.ArgumentParser]) -> None:
    """Add the ``dev`` command."""
    parser = subparsers.add_parser(
        "dev",
        parents=parents,
        help="the automation daemon and the web UI of TARGET in one process (rivers-ui)",
        description="Run TARGET's schedules, sensors and automation conditions (as `rivers daemon` does) and "
        "serve the web UI on 127.0.0.1:3000, in one process. Stop with Ctrl-C (or SIGTERM).",
    )
    add_target_argument(parser, optional=True, default_help="default: [module] of rivers.toml")
    add_ui_options(parser)
    parser.add_argument("--condition-eval-interval", default="30s",
                        help="fallback interval of condition evaluation (default 30s)")
    parser.add_argument("--lease", default="5s", help="daemon leader lease duration (default 5s)")
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace, context: CommandContext) -> int:
    """Start the daemon, serve the UI until a signal, then stop both."""
    from rivers.automation.daemon import AutomationDaemon

    from rivers_ui.server import serve

    repository, app, sock, url = prepared(args, context)
    console = context.console

    def report(tick: Any) -> None:
        detail = tick.error or tick.skip_reason or ", ".join(tick.run_ids + tick.backfill_ids)
        console.print(f"tick {tick.automation_type} {tick.automation_name}: {tick.status}"
                      + (f" ({detail})" if detail else ""))

    daemon = AutomationDaemon(repository, repository.storage, condition_eval_interval=args.condition_eval_interval,
                              lease_duration=args.lease, on_tick=report)
    with repository:
        daemon.start()
        try:
            serve(app, sock, on_started=lambda: console.print(
                f"rivers dev: automation daemon {daemon.owner} running; UI on {url}  (Ctrl-C to stop)"))
        finally:
            daemon.stop()
            daemon.wait_for_runs(30)
    console.print("rivers dev: stopped")
    return EXIT_OK
