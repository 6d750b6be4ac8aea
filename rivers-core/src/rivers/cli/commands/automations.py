"""``rivers schedules|sensors|ticks|queue|automation``: inspect and control the automations of TARGET."""

from __future__ import annotations

import argparse
from typing import Any

from rivers.cli.argtypes import add_target_argument
from rivers.cli.context import CommandContext
from rivers.cli.errors import EXIT_OK, CliError

__all__ = ["add_parser"]


def add_parser(subparsers: Any, parents: list[argparse.ArgumentParser]) -> None:
    """Add the ``schedules``, ``sensors``, ``ticks``, ``queue`` and ``automation`` commands."""
    for kind in ("schedules", "sensors"):
        parser = subparsers.add_parser(kind, parents=parents, help=f"list, start or stop the {kind} of TARGET",
                                       description=f"List, start, stop and try the {kind} of TARGET; a status "
                                       "set here is stored and wins over default_status.")
        actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
        listing = actions.add_parser("list", parents=parents, help=f"list the {kind} and their status")
        add_target_argument(listing)
        listing.set_defaults(handler=_list, kind=kind)
        for action in ("start", "stop"):
            sub = actions.add_parser(action, parents=parents, help=f"{action} one of the {kind}")
            add_target_argument(sub)
            sub.add_argument("name")
            sub.set_defaults(handler=_start_stop, kind=kind, running=action == "start")
        if kind == "schedules":
            preview = actions.add_parser("preview", parents=parents, help="show the next tick times")
            add_target_argument(preview)
            preview.add_argument("name")
            preview.add_argument("--next", type=int, default=5, dest="count")
            preview.set_defaults(handler=_preview, kind=kind)
        else:
            tick = actions.add_parser("tick", parents=parents, help="evaluate a sensor once (launches nothing)")
            add_target_argument(tick)
            tick.add_argument("name")
            tick.add_argument("--cursor", default=None)
            tick.set_defaults(handler=_sensor_tick, kind=kind)
    ticks = subparsers.add_parser("ticks", parents=parents, help="the recorded ticks of a schedule or sensor")
    add_target_argument(ticks)
    ticks.add_argument("name")
    ticks.add_argument("--limit", type=int, default=20)
    ticks.set_defaults(handler=_ticks)
    queue = subparsers.add_parser("queue", parents=parents, help="runs waiting in the run queue")
    actions = queue.add_subparsers(dest="action", metavar="ACTION", required=True)
    listing = actions.add_parser("list", parents=parents, help="queued runs, in admission order")
    add_target_argument(listing)
    listing.set_defaults(handler=_queue_list)
    for action, handler in (("cancel", _queue_cancel), ("why", _queue_why)):
        sub = actions.add_parser(action, parents=parents, help=f"{action} a queued run")
        add_target_argument(sub)
        sub.add_argument("run_id")
        sub.set_defaults(handler=handler)
    automation = subparsers.add_parser("automation", parents=parents, help="explain automation conditions")
    actions = automation.add_subparsers(dest="action", metavar="ACTION", required=True)
    why = actions.add_parser("why", parents=parents, help="the evaluated condition tree of an asset")
    add_target_argument(why)
    why.add_argument("asset")
    why.add_argument("--partition", default=None)
    why.set_defaults(handler=_why)


def _bound(args: argparse.Namespace, context: CommandContext) -> tuple[Any, Any]:
    from rivers.cli.target import load_target

    repository = load_target(args.target).repository
    return repository, context.project.bind(repository)


def _items(repository: Any, kind: str) -> list[Any]:
    return repository.schedules if kind == "schedules" else repository.sensors


def _find(repository: Any, kind: str, name: str) -> Any:
    for item in _items(repository, kind):
        if item.name == name:
            return item
    known = ", ".join(item.name for item in _items(repository, kind)) or "none"
    raise CliError(f"no {kind[:-1]} named {name!r}; {kind}: {known}")


def _list(args: argparse.Namespace, context: CommandContext) -> int:
    from rivers.automation.statuses import is_running

    repository, storage = _bound(args, context)
    items = list(_items(repository, args.kind))
    if not items:
        context.console.print(f"no {args.kind} in {args.target}")
    for item in items:
        status = "Running" if is_running(storage, item) else "Stopped"
        what = item.cron_schedule if args.kind == "schedules" else (item.minimum_interval or "30s")
        target = item.job_name or ",".join(item.asset_selection or [])
        context.console.print(f"{item.name}  {status}  {what}  {target}")
    return EXIT_OK


def _start_stop(args: argparse.Namespace, context: CommandContext) -> int:
    from rivers.automation.statuses import set_running

    repository, storage = _bound(args, context)
    item = _find(repository, args.kind, args.name)
    set_running(storage, item.name, args.running)
    context.console.print(f"{args.kind[:-1]} {item.name}: {'Running' if args.running else 'Stopped'}")
    return EXIT_OK


def _preview(args: argparse.Namespace, context: CommandContext) -> int:
    import time
    from datetime import datetime, timezone

    from rivers.automation.cron_ticks import CronClock

    repository, _ = _bound(args, context)
    schedule = _find(repository, "schedules", args.name)
    clock = CronClock(schedule.cron_schedule, schedule.timezone)
    moment = time.time()
    for _ in range(max(args.count, 0)):
        moment = clock.next_after(moment)
        context.console.print(datetime.fromtimestamp(moment, timezone.utc).isoformat())
    return EXIT_OK


def _sensor_tick(args: argparse.Namespace, context: CommandContext) -> int:
    repository, storage = _bound(args, context)
    sensor = _find(repository, "sensors", args.name)
    cursor = args.cursor if args.cursor is not None else storage.get_automation_cursor(sensor.name)
    result = repository.evaluate_sensor(sensor.name, cursor=cursor)
    for request in result.run_requests:
        context.console.print(repr(request))
    if result.skip_reason is not None:
        context.console.print(f"skipped: {result.skip_reason.message}")
    context.console.print(f"cursor: {result.cursor}")
    return EXIT_OK


def _ticks(args: argparse.Namespace, context: CommandContext) -> int:
    from datetime import datetime, timezone

    from rivers.automation.daemon import CONDITIONS_TICK_NAME

    repository, storage = _bound(args, context)
    names = [item.name for item in (*repository.schedules, *repository.sensors)]
    if args.name not in names and args.name != CONDITIONS_TICK_NAME:
        raise CliError(f"no schedule or sensor named {args.name!r}; automations: "
                       f"{', '.join([*names, CONDITIONS_TICK_NAME])}")
    ticks = storage.get_ticks(args.name, limit=args.limit)
    if not ticks:
        context.console.print(f"no ticks recorded for {args.name} (the daemon records one per evaluation)")
    for tick in ticks:
        when = datetime.fromtimestamp(tick.timestamp / 1e9, timezone.utc).isoformat()
        detail = tick.error or tick.skip_reason or ", ".join(tick.run_ids + tick.backfill_ids)
        context.console.print(f"{when}  {tick.status}  {detail or ''}".rstrip())
    return EXIT_OK


def _why(args: argparse.Namespace, context: CommandContext) -> int:
    from rivers.automation.condition_store import ConditionStore
    from rivers.automation.validation import condition_of
    from rivers.automation.why import explain

    repository, storage = _bound(args, context)
    graph = repository.graph
    node = graph.nodes.get(args.asset)
    if node is None:
        raise CliError(f"no asset named {args.asset!r}")
    condition = condition_of(node)
    if condition is None:
        raise CliError(f"asset {args.asset!r} has no automation condition")
    keys: list[str] = []
    if node.partitions_def is not None:
        keys = [str(key) for key in node.partitions_def.get_partition_keys(
            dynamic_partitions=storage.get_dynamic_partitions)]
    for line in explain(condition, ConditionStore(storage).state_of(args.asset), keys, args.partition):
        context.console.print(line)
    return EXIT_OK


def _queue_list(args: argparse.Namespace, context: CommandContext) -> int:
    from rivers.automation.queue_report import queued_runs

    _, storage = _bound(args, context)
    for run in queued_runs(storage):
        context.console.print(f"{run.run_id}  priority {run.priority}  {run.job_name or ','.join(run.node_names)}")
    return EXIT_OK


def _queue_cancel(args: argparse.Namespace, context: CommandContext) -> int:
    repository, _ = _bound(args, context)
    if not repository.launcher.cancel(args.run_id):
        raise CliError(f"run {args.run_id} is unknown or has ended")
    context.console.print(f"run {args.run_id}: cancel requested")
    return EXIT_OK


def _queue_why(args: argparse.Namespace, context: CommandContext) -> int:
    from rivers.automation.queue_report import why_queued

    repository, storage = _bound(args, context)
    for line in why_queued(storage, repository.run_queue, args.run_id):
        context.console.print(line)
    return EXIT_OK
