"""``rivers daemon TARGET``: run the automation daemon in the foreground."""

from __future__ import annotations

import argparse
import signal
import threading
from typing import Any

from rivers.cli.argtypes import add_target_argument
from rivers.cli.context import CommandContext
from rivers.cli.errors import EXIT_OK

__all__ = ["add_parser", "handle"]


def add_parser(subparsers: Any, parents: list[argparse.ArgumentParser]) -> None:
    """Add the ``daemon`` command."""
    parser = subparsers.add_parser(
        "daemon",
        parents=parents,
        help="run schedules, sensors and automation conditions of TARGET (foreground)",
        description="Tick every running schedule and sensor of TARGET, evaluate its automation conditions and "
        "launch the runs they request, printing a line per tick. Stops cleanly on SIGINT/SIGTERM, after the "
        "current tick. Several daemons on one storage elect one leader.",
    )
    add_target_argument(parser)
    parser.add_argument("--once", action="store_true", help="do one pass (one tick of what is due) and exit")
    parser.add_argument("--condition-eval-interval", default="30s",
                        help="fallback interval of condition evaluation (default 30s)")
    parser.add_argument("--max-ticks-retained", type=int, default=100, help="ticks kept per automation")
    parser.add_argument("--lease", default="5s", help="leader lease duration (default 5s)")
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace, context: CommandContext) -> int:
    """Run the daemon until a signal (or one pass with ``--once``)."""
    from rivers.automation.daemon import AutomationDaemon
    from rivers.cli.target import load_target

    repository = load_target(args.target).repository
    storage = context.project.bind(repository)
    console = context.console

    reported: list[Any] = []

    def report(tick: Any) -> None:
        reported.append(tick)
        detail = tick.error or tick.skip_reason or ", ".join(tick.run_ids + tick.backfill_ids)
        console.print(f"tick {tick.automation_type} {tick.automation_name}: {tick.status}"
                      + (f" ({detail})" if detail else ""))

    daemon = AutomationDaemon(repository, storage, max_ticks_retained=args.max_ticks_retained,
                              condition_eval_interval=args.condition_eval_interval, lease_duration=args.lease,
                              on_tick=report)
    if args.once:
        led = daemon.run_once(wait=True)
        daemon.wait_for_runs()
        daemon.stop()
        if not led:
            console.print("another daemon holds the leader lease; nothing ticked")
        elif not reported:
            console.print(f"nothing ticked: {_automations(repository)} (a stopped schedule or sensor ticks once "
                          "started: `rivers schedules start TARGET NAME`)")
        return EXIT_OK
    stopping = threading.Event()

    def on_signal(signum: int, frame: Any) -> None:
        stopping.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        console.print(f"automation daemon {daemon.owner} started ({_automations(repository)})")
        daemon.start()
        while not stopping.wait(0.5):
            pass
        console.print("stopping: finishing the current tick")
    finally:
        daemon.stop()
        daemon.wait_for_runs(30)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    console.print("automation daemon stopped")
    return EXIT_OK


def _automations(repository: Any) -> str:
    """``"2 schedules, 1 sensor, 3 assets with an automation condition"``: what the daemon looks after."""
    conditioned = sum(1 for asset in repository.assets.values() if getattr(asset, "automation_condition", None))

    def count(number: int, what: str) -> str:
        return f"{number} {what}{'' if number == 1 else 's'}"

    return (f"{count(len(repository.schedules), 'schedule')}, {count(len(repository.sensors), 'sensor')}, "
            f"{count(conditioned, 'asset')} with an automation condition")
