"""``rivers run RUN_ID``: one run in detail: steps, materialisations, logs and tracebacks."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from rivers.cli.context import CommandContext
from rivers.cli.errors import EXIT_OK, CliError
from rivers.cli.formatting import format_duration, format_timestamp, short_version
from rivers.cli.table import format_table

if TYPE_CHECKING:
    from rivers.cli.reports import RunReport
    from rivers.storage import RunRecord, Storage

__all__ = ["add_parser", "find_run", "handle"]

#: How many recent runs a run id prefix is matched against.
_PREFIX_SCAN = 1000


def add_parser(subparsers: Any, parents: list[argparse.ArgumentParser]) -> None:
    """Add the ``run`` command."""
    parser = subparsers.add_parser(
        "run",
        parents=parents,
        help="show one run: steps, materialisations, logs",
        description="Show a recorded run: its steps with status, duration and error, the values it "
        "materialised, and the logs and tracebacks its steps left.",
    )
    parser.add_argument("run_id", metavar="RUN_ID", help="a run id, or a unique prefix of a recent one")
    parser.add_argument("--json", action="store_true", help="print the run, its steps and materialisations as JSON")
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace, context: CommandContext) -> int:
    """Print the run's header, step table, materialisations and logs."""
    from rivers.cli.reports import load_report, step_table

    console = context.console
    if not context.project.storage_exists():
        raise CliError(f"run {args.run_id!r} not found: no runs recorded yet in {context.project.storage_url}")
    storage = context.project.storage()
    report = load_report(storage, find_run(storage, args.run_id))
    if args.json:
        import json

        from rivers.cli.commands.runs import run_to_dict

        console.print(json.dumps(run_to_dict(report, steps=True), indent=2))
        return EXIT_OK
    for line in format_table(None, _header(report)):
        console.print(line)
    headers, rows = step_table(report)
    _section(context, "Steps", format_table(headers, rows, align="llr"))
    materialized = [
        [event.asset_key, format_timestamp(event.timestamp), short_version(event.data_version)]
        for event in report.materializations
    ]
    _section(context, "Materializations", format_table(["ASSET", "TIME", "DATA VERSION"], materialized))
    _section(context, "Retried attempts", _retried_attempts(storage, report))
    _print_logs(context, storage, report)
    return EXIT_OK


def find_run(storage: Storage, run_id: str) -> RunRecord:
    """The run ``run_id``, or the only recent run whose id starts with it.

    :raises CliError: if no run or several runs match.
    """
    record = storage.get_run(run_id)
    if record is not None:
        return record
    matches = [run for run in storage.get_runs(limit=_PREFIX_SCAN) if run.run_id.startswith(run_id)]
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise CliError(f"run {run_id!r} not found; `rivers runs` lists the recent runs")
    listed = ", ".join(run.run_id for run in matches[:5])
    raise CliError(f"run id prefix {run_id!r} is ambiguous: {listed}{', ...' if len(matches) > 5 else ''}")


def _header(report: RunReport) -> list[list[object]]:
    record = report.record
    rows: list[list[object]] = [
        ["Run:", record.run_id],
        ["Job:", report.job],
        ["Status:", report.status_text],
        ["Started:", format_timestamp(record.start_time)],
        ["Finished:", format_timestamp(record.end_time)],
        ["Duration:", format_duration(report.duration_s)],
        ["Launched by:", _launched_by(record)],
    ]
    if report.attempts > 1:  # a resumed run: its running time above, the wait between its attempts apart
        rows.append(["Attempts:", f"{report.attempts} (gap between attempts: {format_duration(report.gap_s)})"])
    if record.partition_key is not None:
        rows.append(["Partition:", record.partition_key])
    if record.tags:
        rows.append(["Tags:", ", ".join(f"{key}={value}" for key, value in record.tags)])
    return rows


def _launched_by(record: RunRecord) -> str:
    """``manual``, ``schedule daily``, ``backfill <id>``."""
    launched = record.launched_by
    reference = launched.name if launched.name is not None else launched.backfill_id
    return f"{launched.kind} {reference}" if reference else launched.kind


def _section(context: CommandContext, title: str, lines: list[str]) -> None:
    if not lines:
        return
    context.console.print()
    context.console.print(f"{title}:")
    for line in lines:
        context.console.print("  " + line)


def _retried_attempts(storage: Storage, report: RunReport) -> list[str]:
    """One row per failed attempt that was retried: step, attempt, reason, its error, the wait before the next."""
    rows: list[list[object]] = []
    errors: dict[tuple[str, int], str] = {}
    if any(step.retry_events for step in report.steps):
        for log in storage.get_run_logs(report.run_id):
            marker = f"{report.run_id}:{log.step_key}:attempt-"
            if log.id.startswith(marker) and log.stderr:
                lines = [line for line in log.stderr.strip().splitlines() if line.strip()]
                number = log.id[len(marker):]
                if number.isdigit():
                    errors[(log.step_key, int(number))] = lines[-1] if lines else ""
    for step in report.steps:
        for attempt, reason, delay_ms in step.retry_events:
            rows.append([step.key, attempt, reason, errors.get((step.key, attempt)),
                         format_duration(delay_ms / 1000)])
    if not rows:
        return []
    return format_table(["STEP", "ATTEMPT", "REASON", "ERROR", "RETRIED AFTER"], rows, align="lrlll")


def _print_logs(context: CommandContext, storage: Storage, report: RunReport) -> None:
    """Captured ``context.log`` records, stdout and stderr (tracebacks) of each step."""
    console = context.console
    for log in storage.get_run_logs(report.run_id):
        for stream, text in (("logs", log.logs), ("stdout", log.stdout), ("stderr", log.stderr)):
            if text and text.strip():
                console.print()
                console.print(f"--- {log.step_key} ({stream}) ---")
                console.print(text.rstrip())
