"""``rivers backfill TARGET (--partition KEY ... | --from KEY --to KEY)``: run many partitions with progress.

Also ``--status ID`` (show a stored backfill, e.g. one running in another
process), ``--cancel ID`` and ``--rerun ID`` (the failed and canceled
partitions of a finished backfill).
"""

from __future__ import annotations

import argparse
from typing import Any

from rivers.cli.argtypes import add_target_argument, int_at_least
from rivers.cli.context import CommandContext
from rivers.cli.errors import EXIT_FAILURE, EXIT_OK, CliError
from rivers.cli.table import format_table

__all__ = ["add_parser", "handle"]

_STRATEGIES = ("multi_run", "single_run")


def add_parser(subparsers: Any, parents: list[argparse.ArgumentParser]) -> None:
    """Add the ``backfill`` command."""
    parser = subparsers.add_parser(
        "backfill",
        parents=parents,
        help="materialise many partitions of TARGET's assets (or show / cancel / rerun a backfill)",
        description="Run the selected partitioned assets for every key given with --partition, or for the "
        "inclusive range --from/--to, printing progress after each run and a summary. Exit 1 when a "
        "partition failed.",
    )
    add_target_argument(parser)
    parser.add_argument("-s", "--select", metavar="EXPR", action="append",
                        help="assets to backfill (names or selection expressions); repeatable; default: all")
    parser.add_argument("-p", "--partition", metavar="KEY", action="append",
                        help='a partition key ("2024-01-01", or "date=2024-01-01|region=eu"); repeatable')
    parser.add_argument("--from", dest="from_key", metavar="KEY", help="first key of an inclusive range")
    parser.add_argument("--to", dest="to_key", metavar="KEY", help="last key of an inclusive range")
    parser.add_argument("--strategy", choices=_STRATEGIES, help="one run per key (multi_run) or one run for all")
    parser.add_argument("--stop-on-failure", action="store_true",
                        help="cancel the remaining partitions after a failure")
    parser.add_argument("--max-concurrency", metavar="N", type=int_at_least(1, "a whole number of runs"), default=4,
                        help="how many runs may run at the same time (default 4; 1 runs them in order)")
    parser.add_argument("--dry-run", action="store_true", help="print the plan (partitions and runs) and exit")
    parser.add_argument("--status", metavar="ID", help="show the stored state of backfill ID and exit")
    parser.add_argument("--cancel", metavar="ID", help="ask backfill ID to stop launching runs")
    parser.add_argument("--rerun", metavar="ID", help="re-run the failed and canceled partitions of backfill ID")
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace, context: CommandContext) -> int:
    """Run, show, cancel or rerun a backfill."""
    from rivers.cli.target import load_target

    repository = load_target(args.target).repository
    with repository:
        context.project.bind(repository)
        if args.status:
            return _show(context, repository, args.status)
        if args.cancel:
            return _cancel(context, repository, args.cancel)
        printer = _ProgressLine(context)
        if args.rerun:
            result = repository.rerun_backfill(args.rerun, dry_run=args.dry_run, progress=printer)
        else:
            result = repository.backfill(
                selection=args.select, partition_keys=_keys(args, repository), partition_range=_range(args),
                strategy=_strategy(args.strategy), dry_run=args.dry_run,
                failure_policy="stop_on_failure" if args.stop_on_failure else "continue",
                max_concurrency=args.max_concurrency, progress=printer,
            )
    if result.is_dry_run:
        context.console.print(f"Dry run: {result.num_partitions} partition(s) in {result.num_runs} run(s)")
        return EXIT_OK
    return _summary(context, result, args.target)


def _keys(args: argparse.Namespace, repository: Any) -> list[Any] | None:
    """The ``--partition`` keys; text with ``=`` is a multi key only if the selection has a multi definition.

    (``"a=b"`` is also a valid static key: read as multi, it would not be one.)
    """
    if not args.partition:
        if args.from_key is None and args.to_key is None:
            raise CliError("give the partitions: --partition KEY (repeatable) or --from KEY --to KEY")
        return None
    from rivers.partitions.keys import parse_display

    multi = any("=" in text for text in args.partition) and _selects_multi_definition(repository, args.select)
    return [parse_display(text, multi=multi and "=" in text) for text in args.partition]


def _selects_multi_definition(repository: Any, selection: Any) -> bool:
    """Whether an asset of ``selection`` (all assets if None) is partitioned by a multi definition."""
    from rivers.partitions.base import PartitionsDefinition

    state = repository._state()
    nodes = state.graph.nodes
    names = state.step_names(state.select(selection, include_upstream=False))
    return any(isinstance(nodes[name].partitions_def, PartitionsDefinition.Multi) for name in names)


def _range(args: argparse.Namespace) -> Any:
    if args.from_key is None and args.to_key is None:
        return None
    if args.from_key is None or args.to_key is None:
        raise CliError("--from and --to go together (an inclusive range)")
    from rivers.partitions.ranges import PartitionKeyRange

    return PartitionKeyRange.single(args.from_key, args.to_key)


def _strategy(name: str | None) -> Any:
    if name is None:
        return None
    from rivers.partitions.strategy import BackfillStrategy

    return BackfillStrategy.single_run() if name == "single_run" else BackfillStrategy.multi_run()


class _ProgressLine:
    """Prints ``partitions done / failed / remaining`` after every run of the backfill."""

    def __init__(self, context: CommandContext) -> None:
        self.console = context.console

    def __call__(self, record: Any) -> None:
        total = len(record.statuses)
        done, failed = record.count("completed"), record.count("failed")
        self.console.info(
            f"[run {len(record.run_ids)}] partitions: {done} done, {failed} failed, "
            f"{total - done - failed - record.count('canceled')} remaining of {total}"
        )


def _summary(context: CommandContext, result: Any, target: str) -> int:
    console = context.console
    failed = [str(key) for key, status in result.partition_statuses.items() if status == "failed"]
    rows = [["Partitions", str(result.num_partitions)], ["Runs", str(result.num_runs)],
            ["Completed", str(result.completed)], ["Failed", str(result.failed)], ["Canceled", str(result.canceled)]]
    console.info()
    for line in format_table(None, rows, align="lr"):
        console.info(line)
    if failed:
        console.error("failed partitions: " + ", ".join(failed[:20]) + (" ..." if len(failed) > 20 else ""))
        console.error(f"re-run them with: rivers backfill {target} --rerun {result.backfill_id}")
    console.print(f"Backfill {result.backfill_id}: {console.status(result.status)}")
    return EXIT_OK if result.status == "CompletedSuccess" else EXIT_FAILURE


def _cancel(context: CommandContext, repository: Any, backfill_id: str) -> int:
    status = repository.get_backfill(backfill_id)
    if status is None:
        raise CliError(f"backfill '{backfill_id}' not found in this project's storage")
    if status.status not in ("Requested", "InProgress"):
        context.console.print(f"Backfill {backfill_id} already finished: {status.status}; nothing to cancel")
        return EXIT_OK
    signalled = repository.cancel_backfill(backfill_id)
    context.console.print(f"Backfill {backfill_id}: cancel {'signalled' if signalled else 'requested'}")
    return EXIT_OK


def _show(context: CommandContext, repository: Any, backfill_id: str) -> int:
    status = repository.get_backfill(backfill_id)
    if status is None:
        raise CliError(f"backfill '{backfill_id}' not found in this project's storage")
    rows = [["Status", status.status], ["Partitions", str(status.total_partitions)],
            ["Completed", str(status.completed_partitions)], ["Failed", str(status.failed_partitions)],
            ["Canceled", str(status.canceled_partitions)], ["Remaining", str(status.remaining_partitions)],
            ["Runs", str(len(status.run_ids))]]
    for line in format_table(["Backfill", backfill_id], rows, align="ll"):
        context.console.print(line)
    if status.error:
        context.console.error(f"first error: {status.error}")
    return EXIT_OK
