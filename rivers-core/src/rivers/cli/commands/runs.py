"""``rivers runs [--limit N] [--status S]``: the recent runs of the project storage."""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING, Any

from rivers.cli.argtypes import int_at_least
from rivers.cli.context import CommandContext
from rivers.cli.errors import EXIT_OK
from rivers.cli.formatting import format_duration, format_timestamp, one_line
from rivers.cli.reports import FAILURE
from rivers.cli.table import format_table

if TYPE_CHECKING:
    from rivers.cli.reports import RunReport

__all__ = ["add_parser", "handle", "parse_status", "run_to_dict"]

_HEADERS = ["RUN ID", "JOB", "STATUS", "STARTED", "DURATION", "STEPS", "FAILED"]
#: Length of the run ids shown; ``rivers run`` accepts such prefixes.
SHORT_ID = 8


def add_parser(subparsers: Any, parents: list[argparse.ArgumentParser]) -> None:
    """Add the ``runs`` command."""
    parser = subparsers.add_parser(
        "runs",
        parents=parents,
        help="list recent runs",
        description="List the most recent runs recorded in the project storage, newest first.",
    )
    parser.add_argument("-n", "--limit", type=int_at_least(0, "a number of runs"), default=20, metavar="N", help="at most N runs (20)")
    parser.add_argument(
        "--status",
        type=parse_status,
        metavar="S",
        help="only runs with this status: success, failure, started, queued, notstarted, canceled",
    )
    parser.add_argument(
        "--reconcile",
        action="store_true",
        help="say which runs were found dead: marked failed (reason 'process died'), resumable with "
        "`rivers resume`; the check itself always runs before listing",
    )
    parser.add_argument("--json", action="store_true", help="print the runs as JSON")
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace, context: CommandContext) -> int:
    """Print one row per run."""
    from rivers.cli.reports import load_report

    console = context.console
    project = context.project
    if not project.storage_exists():
        console.print("[]" if args.json else f"no runs recorded yet in {project.storage_url}")
        return EXIT_OK
    storage = project.storage()
    died = storage.reconcile_runs()  # never list a run whose process died as running
    if args.reconcile and not args.json:
        for run_id in died:
            console.print(f"Run {run_id}: failure (process died); `rivers resume {run_id[:SHORT_ID]}` continues it")
        console.info(f"reconciled: {len(died)} dead run{'s' if len(died) != 1 else ''}")
    records = storage.get_runs(limit=args.limit, status=args.status)
    if args.json:
        console.print(json.dumps([run_to_dict(load_report(storage, record)) for record in records], indent=2))
        return EXIT_OK
    if not records:
        console.print("no runs" + (f" with status {args.status}" if args.status else ""))
        return EXIT_OK
    rows = []
    for record in records:
        report = load_report(storage, record)
        failed = ", ".join(
            f"{step.key} ({step.attempts} attempts)" if step.retries else step.key
            for step in report.steps if step.status == FAILURE
        )
        rows.append(
            [
                record.run_id[:SHORT_ID],
                report.job,
                report.status_text,
                format_timestamp(record.start_time),
                format_duration(report.duration_s) if record.end_time else "running",
                len(report.steps),
                one_line(failed, 40) or None,
            ]
        )
    for line in format_table(_HEADERS, rows, align="lllllr"):
        console.print(line)
    return EXIT_OK


def run_to_dict(report: RunReport, *, steps: bool = False) -> dict[str, Any]:
    """A run as plain JSON data (with its steps when ``steps``)."""
    record = report.record
    key = record.partition_key
    document: dict[str, Any] = {
        "run_id": record.run_id, "job": report.job, "status": report.status,
        "start_time": record.start_time, "end_time": record.end_time, "duration_s": report.duration_s,
        "partition_key": None if key is None else str(key), "tags": dict(record.tags),
        "launched_by": {"kind": record.launched_by.kind, "name": record.launched_by.name,
                        "backfill_id": record.launched_by.backfill_id},
        "steps_total": len(report.steps), "failed_steps": report.keys(FAILURE),
        "reason": report.reason, "attempts": report.attempts, "gap_s": report.gap_s,
    }
    if steps:
        document["steps"] = [
            {"key": step.key, "status": step.status, "duration_s": step.duration_s, "error": step.error,
             "attempts": step.attempts, "skipped_because": step.skipped_because}
            for step in report.steps
        ]
        document["materializations"] = [
            {"asset": event.asset_key, "timestamp": event.timestamp, "data_version": event.data_version,
             "partition_key": None if event.partition_key is None else str(event.partition_key)}
            for event in report.materializations
        ]
    return document


def parse_status(text: str) -> str:
    """A run status as stored (``Success``), from any case; ``cancelled`` is accepted too."""
    from rivers.storage.records import RUN_STATUSES

    wanted = text.strip().lower().replace("cancelled", "canceled").replace("_", "").replace("-", "")
    for status in RUN_STATUSES:
        if status.lower() == wanted:
            return status
    raise argparse.ArgumentTypeError(
        f"unknown status {text!r}; choose from {', '.join(status.lower() for status in RUN_STATUSES)}"
    )
