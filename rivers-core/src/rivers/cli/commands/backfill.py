"""``rivers backfill TARGET (--partition KEY ... | --from KEY --to KEY | --range ... | --missing | --failed)``.

Runs many partitions with a progress line per run. Also ``--status ID``
(show a stored backfill, e.g. one running in another process), ``--cancel
ID`` (both without TARGET) and ``--rerun ID`` (the failed and canceled
partitions of a finished backfill); ids may be unique prefixes.
``--no-block`` only records the backfill (``Requested``) for the automation
daemon and prints its id and how to follow it. The published package's
spellings work too: ``--assets/-a a,b``, ``--partitions a,b``,
``--concurrency/-c N``, ``--on-failure continue|stop_on_failure``,
``--strategy dim=mode,...``.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from rivers.cli.argtypes import add_target_argument, int_at_least
from rivers.cli.context import CommandContext
from rivers.cli.errors import EXIT_FAILURE, EXIT_OK, CliError
from rivers.cli.run_options import add_run_options, executor_of, run_config
from rivers.cli.table import format_table

if TYPE_CHECKING:
    from rivers.backfills.state import BackfillRecord
    from rivers.partitions.strategy import BackfillStrategy
    from rivers.repository import CodeRepository
    from rivers.storage import Storage

__all__ = ["add_parser", "handle"]

_STRATEGIES = ("multi_run", "single_run")
_POLICIES = ("continue", "stop_on_failure")


def add_parser(subparsers: Any, parents: list[argparse.ArgumentParser]) -> None:
    """Add the ``backfill`` command."""
    parser = subparsers.add_parser(
        "backfill",
        parents=parents,
        help="materialise many partitions of TARGET's assets (or show / cancel / rerun a backfill)",
        description="Run the selected partitioned assets for every key given with --partition, the inclusive "
        "range --from/--to (or --range per dimension), or the keys not yet materialised (--missing) or "
        "failed (--failed), printing the backfill id, a line per run (its keys, the first line of a "
        "failure) and a summary. Exit 1 when a partition failed.",
    )
    add_target_argument(parser, optional=True, default_help="default: [module] of rivers.toml")
    parser.add_argument("-s", "--select", metavar="EXPR", action="append",
                        help="assets to backfill (names or selection expressions); repeatable; default: all")
    parser.add_argument("-a", "--assets", metavar="A,B", help="comma-separated asset names (the published "
                        "package's spelling of --select)")
    parser.add_argument("-p", "--partition", metavar="KEY", action="append",
                        help='a partition key ("2024-01-01", or "date=2024-01-01|region=eu"); repeatable')
    parser.add_argument("--partitions", metavar="K1,K2", help="comma-separated partition keys")
    parser.add_argument("--from", dest="from_key", metavar="KEY", help="first key of an inclusive range")
    parser.add_argument("--to", dest="to_key", metavar="KEY", help="last key of an inclusive range")
    parser.add_argument("--range", dest="ranges", metavar="DIM=FROM..TO", action="append",
                        help="a range of one dimension of a multi definition (DIM=FROM..TO or DIM=K1,K2); "
                        "repeatable; dimensions left out take every key")
    parser.add_argument("--missing", action="store_true",
                        help="only the partitions (of the range, or of the definition) not materialised yet")
    parser.add_argument("--failed", action="store_true",
                        help="only the partitions whose latest run failed")
    parser.add_argument("--strategy", metavar="MODE",
                        help="multi_run (one run per key), single_run (one run for all) or, for a multi "
                        "definition, per dimension: date=single_run,region=multi_run")
    parser.add_argument("--stop-on-failure", action="store_true",
                        help="cancel the remaining partitions after a failure")
    parser.add_argument("--on-failure", choices=_POLICIES, help="continue (default) or stop_on_failure")
    parser.add_argument("-c", "--max-concurrency", "--concurrency", dest="max_concurrency", metavar="N",
                        type=int_at_least(1, "a whole number of runs"), default=4,
                        help="how many runs may run at the same time (default 4; 1 runs them in order)")
    add_run_options(parser)
    parser.add_argument("--dry-run", action="store_true", help="print the plan (partitions and runs) and exit")
    parser.add_argument("--no-block", action="store_true",
                        help="only record the backfill (status Requested) and print its id; the automation daemon "
                        "(`rivers daemon` or `rivers dev` on this project) executes it")
    parser.add_argument("--status", metavar="ID", help="show the stored state of backfill ID and exit (no TARGET)")
    parser.add_argument("--cancel", metavar="ID", help="ask backfill ID to stop launching runs (no TARGET)")
    parser.add_argument("--rerun", metavar="ID", help="re-run the failed and canceled partitions of backfill ID")
    parser.add_argument("--json", action="store_true", help="with --status: print the backfill as JSON")
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace, context: CommandContext) -> int:
    """Run, show, cancel or rerun a backfill."""
    from rivers.cli import stored_backfills

    if args.status:
        return stored_backfills.show(context, args.status, as_json=args.json)
    if args.cancel:
        return stored_backfills.cancel(context, args.cancel)
    selection = _selection(args)
    repository = context.load(args.target).repository
    with repository:
        storage = context.project.bind(repository)
        printer = _Progress(context, storage)
        executor = executor_of(context, args.executor)
        if args.rerun:
            record = stored_backfills.find_backfill(storage, args.rerun)
            result = repository.rerun_backfill(record.backfill_id, dry_run=args.dry_run, progress=printer,
                                               block=not args.no_block)
            return _finish(context, result, args)
        results = []
        for group_selection, keys, key_range in _requests(args, repository, storage, selection):
            if keys == []:
                context.console.print("nothing to backfill: " + ("no partition is missing" if args.missing
                                                                 else "no partition failed"))
                continue
            result = repository.backfill(
                selection=group_selection, partition_keys=keys, partition_range=key_range,
                strategy=_strategy(args.strategy), dry_run=args.dry_run, failure_policy=_policy(args),
                max_concurrency=args.max_concurrency, progress=printer, tags=args.tag,
                config=run_config(args.config), executor=executor, block=not args.no_block,
            )
            results.append(result)
    codes = [_finish(context, result, args) for result in results]
    return max(codes, default=EXIT_OK)


def _finish(context: CommandContext, result: Any, args: argparse.Namespace) -> int:
    if result.is_dry_run:
        keys = [str(key) for key in result.partition_keys]
        shown = ", ".join(keys[:10]) + (" ..." if len(keys) > 10 else "")
        context.console.print(f"Dry run: {result.num_partitions} partition(s) in {result.num_runs} run(s): {shown}")
        return EXIT_OK
    if args.no_block:
        return _requested(context, result.requested)
    return _summary(context, result, args.target)


def _requested(context: CommandContext, result: Any) -> int:
    """What ``--no-block`` prints: the id of the recorded backfill, who runs it and how to follow it."""
    console = context.console
    backfill_id = result.backfill_id
    console.print(f"Backfill {backfill_id}: {console.status(result.status)}")
    console.info(f"{result.num_partitions} partition(s) in {result.num_runs} run(s), executed by the automation "
                 "daemon: `rivers daemon` (or `rivers dev`) on this project")
    console.info(f"follow it: rivers backfill --status {backfill_id}")
    console.info(f"cancel it: rivers backfill --cancel {backfill_id}")
    return EXIT_OK


# ---------------------------------------------------------------------------
# What to backfill
# ---------------------------------------------------------------------------


def _selection(args: argparse.Namespace) -> list[str] | None:
    names = list(args.select or [])
    if args.assets is not None:
        listed = [name.strip() for name in args.assets.split(",") if name.strip()]
        if not listed:
            raise CliError("--assets is empty; omit it to backfill every partitioned asset")
        names.extend(listed)
    return names or None


def _policy(args: argparse.Namespace) -> str:
    if args.stop_on_failure and args.on_failure == "continue":
        raise CliError("--stop-on-failure and --on-failure continue contradict each other; give one")
    return "stop_on_failure" if args.stop_on_failure else (args.on_failure or "continue")


def _requests(args: argparse.Namespace, repository: CodeRepository, storage: Storage,
              selection: list[str] | None) -> list[tuple[list[str] | None, list[Any] | None, Any]]:
    """``(selection, keys, range)`` of each backfill to start: one, or one per partitions definition."""
    from rivers.cli.selection_info import parse_keys, partitioned_groups

    texts = list(args.partition or [])
    if args.partitions is not None:
        texts.extend(key.strip() for key in args.partitions.split(",") if key.strip())
    ways = [name for name, given in (("--partition/--partitions", texts),
                                     ("--from/--to", args.from_key is not None or args.to_key is not None),
                                     ("--range", args.ranges)) if given]
    if len(ways) > 1:
        raise CliError(f"{' and '.join(ways)} are two ways of naming partitions; give one")
    if not ways and not (args.missing or args.failed):
        raise CliError("give the partitions: --partition KEY (repeatable) or --from KEY --to KEY "
                       "(or --range DIM=FROM..TO, --missing, --failed)")
    groups = partitioned_groups(repository, selection)
    if not groups:
        raise CliError("the selection has no partitioned asset; backfills run partitions "
                       "(use `rivers materialize` for unpartitioned assets)")
    key_range = _range(args)
    keys = parse_keys(texts, repository, selection) if texts else None
    if len(groups) > 1:
        if ways:
            raise CliError(_mixed_message(args, groups))
        return [(names, _filtered(args, storage, definition, names, None, None), None)
                for definition, names in groups]
    if args.missing or args.failed:
        definition, names = groups[0]
        return [(selection, _filtered(args, storage, definition, names, keys, key_range), None)]
    return [(selection, keys, key_range)]


def _mixed_message(args: argparse.Namespace, groups: list[tuple[Any, list[str]]]) -> str:
    target = args.target or ""
    lines = ["the selection mixes partitions definitions, whose keys one backfill cannot share; "
             "backfill each on its own:"]
    for definition, names in groups:
        selects = " ".join(f"-s {name}" for name in names)
        command = " ".join(part for part in ("rivers backfill", target, selects, "--from KEY --to KEY") if part)
        lines.append(f"  {_describe(definition)} ({', '.join(names)}): {command}")
    lines.append("  (or pass --missing / --failed alone: one backfill per definition is planned)")
    return "\n".join(lines)


def _describe(definition: Any) -> str:
    text = definition.describe() if hasattr(definition, "describe") else repr(definition)
    return text if len(text) <= 60 else text[:57] + "..."


def _filtered(args: argparse.Namespace, storage: Storage, definition: Any, names: list[str],
              keys: list[Any] | None, key_range: Any) -> list[Any]:
    """The keys (given, of the range, or every key) that are missing (``--missing``) or failed (``--failed``)."""
    from rivers.cli.partition_status import partition_status, recent_runs
    from rivers.execution.partition_requests import dynamic_lookup
    from rivers.partitions.keys import from_stored_text

    dynamic = dynamic_lookup(storage)
    if keys is None:
        if key_range is not None:
            keys = list(definition.resolve_range(key_range, dynamic_partitions=dynamic))
        else:
            keys = list(definition.get_partition_keys(dynamic_partitions=dynamic))
    runs = recent_runs(storage)
    wanted: set[str] = set()
    for name in names:
        status = partition_status(storage, name, keys, runs)
        if args.missing:
            wanted.update(status.missing)
        if args.failed:
            wanted.update(status.failed)
    ordered = [key.stored_text() for key in keys]
    return [from_stored_text(text) for text in ordered if text in wanted]


def _range(args: argparse.Namespace) -> Any:
    from rivers.partitions.ranges import PartitionKeyRange

    if args.ranges:
        dimensions: dict[str, Any] = {}
        for text in args.ranges:
            dimension, separator, spec = text.partition("=")
            if not separator or not dimension.strip() or not spec.strip():
                raise CliError(f"--range {text!r}: expected DIM=FROM..TO or DIM=K1,K2")
            if ".." in spec:
                first, _, last = spec.partition("..")
                dimensions[dimension.strip()] = (first.strip(), last.strip())
            else:
                dimensions[dimension.strip()] = [key.strip() for key in spec.split(",") if key.strip()]
        return PartitionKeyRange.multi(dimensions)
    if args.from_key is None and args.to_key is None:
        return None
    if args.from_key is None or args.to_key is None:
        raise CliError("--from and --to go together (an inclusive range)")
    return PartitionKeyRange.single(args.from_key, args.to_key)


def _strategy(text: str | None) -> BackfillStrategy | None:
    if text is None:
        return None
    from rivers.partitions.strategy import BackfillStrategy

    if text in _STRATEGIES:
        return BackfillStrategy.single_run() if text == "single_run" else BackfillStrategy.multi_run()
    multi: list[str] = []
    single: list[str] = []
    for part in text.split(","):
        dimension, separator, mode = part.partition("=")
        mode = mode.strip()
        if not separator or not dimension.strip() or mode not in _STRATEGIES:
            raise CliError(f"--strategy {text!r}: expected multi_run, single_run, or DIM=multi_run|single_run,...")
        (multi if mode == "multi_run" else single).append(dimension.strip())
    return BackfillStrategy.per_dimension(multi_run=multi, single_run=single)


# ---------------------------------------------------------------------------
# Progress and summary
# ---------------------------------------------------------------------------


class _Progress:
    """Prints the backfill id when it starts, then one line per finished run: its keys and outcome, the counts."""

    def __init__(self, context: CommandContext, storage: Storage) -> None:
        self.console = context.console
        self.storage = storage
        self.seen: set[str] = set()
        self.statuses: list[str] = []

    def started(self, record: BackfillRecord) -> None:
        """Called by the backfill once it is stored, before its first run."""
        self.statuses = list(record.statuses)
        self.seen = set(record.run_ids)
        self.console.info(f"Backfill {record.backfill_id}: {len(record.partition_keys)} partition(s)")

    def __call__(self, record: BackfillRecord) -> None:
        if len(self.statuses) != len(record.statuses):  # a rerun's first call, without started()
            self.statuses = ["pending"] * len(record.statuses)
        changed = [key for key, old, new in zip(record.partition_keys, self.statuses, record.statuses) if old != new]
        self.statuses = list(record.statuses)
        new_runs = [run_id for run_id in record.run_ids if run_id not in self.seen]
        self.seen.update(new_runs)
        total = len(record.statuses)
        done, failed = record.count("completed"), record.count("failed")
        remaining = total - done - failed - record.count("canceled")
        states = {record.statuses[record.partition_keys.index(key)] for key in changed}
        outcome = "failed" if "failed" in states else "canceled" if "canceled" in states else "ok"
        keys = _shown(changed) if changed else "(once-only stage)"
        self.console.info(f"[run {len(record.run_ids)}] {keys}: {outcome}; partitions: {done} done, {failed} "
                          f"failed, {remaining} remaining of {total}")
        if outcome == "failed":
            for run_id in new_runs:
                error = self._first_error(run_id)
                if error:
                    self.console.info(f"    {error}")

    def _first_error(self, run_id: str) -> str | None:
        from rivers.cli.formatting import one_line
        from rivers.cli.reports import FAILURE, load_report

        run = self.storage.get_run(run_id)
        if run is None:
            return None
        for step in load_report(self.storage, run).steps:
            if step.status == FAILURE and step.error:
                return f"{step.key}: {one_line(step.error)}"
        return None


def _shown(keys: Sequence[str], limit: int = 3) -> str:
    from rivers.partitions.keys import from_stored_text

    texts = [str(from_stored_text(key)) for key in keys]
    return ", ".join(texts[:limit]) + (f" (+{len(texts) - limit})" if len(texts) > limit else "")


def _summary(context: CommandContext, result: Any, target: str | None) -> int:
    console = context.console
    failed = [str(key) for key, status in result.partition_statuses.items() if status == "failed"]
    rows = [["Partitions", str(result.num_partitions)], ["Runs", str(result.num_runs)],
            ["Completed", str(result.completed)], ["Failed", str(result.failed)], ["Canceled", str(result.canceled)]]
    console.info()
    for line in format_table(None, rows, align="lr"):
        console.info(line)
    if failed:
        console.error("failed partitions: " + ", ".join(failed[:20]) + (" ..." if len(failed) > 20 else ""))
        console.error(f"re-run them with: rivers backfill {target + ' ' if target else ''}--rerun {result.backfill_id}")
    console.print(f"Backfill {result.backfill_id}: {console.status(result.status)}")
    return EXIT_OK if result.status == "CompletedSuccess" else EXIT_FAILURE
