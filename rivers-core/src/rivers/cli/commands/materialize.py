"""``rivers materialize TARGET [--select EXPR ...]``: run assets with live progress and a summary."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from rivers.cli.argtypes import add_target_argument
from rivers.cli.run_options import add_run_options, executor_of, run_config
from rivers.cli.context import CommandContext
from rivers.cli.errors import EXIT_FAILURE, EXIT_OK, Propagate
from rivers.cli.table import format_table

if TYPE_CHECKING:
    from rivers.repository import CodeRepository

__all__ = ["add_parser", "handle"]


def add_parser(subparsers: Any, parents: list[argparse.ArgumentParser]) -> None:
    """Add the ``materialize`` command."""
    parser = subparsers.add_parser(
        "materialize",
        parents=parents,
        help="materialise assets of TARGET and record the run",
        description="Materialise the assets of TARGET (all, or --select), print a line per step, "
        "a summary and, for failures, their tracebacks on stderr. Without TARGET, the [module] of "
        "rivers.toml runs. Exit 1 when the run failed.",
    )
    add_target_argument(parser, optional=True, default_help="default: [module] of rivers.toml")
    parser.add_argument(
        "-s",
        "--select",
        metavar="EXPR",
        action="append",
        help='assets to run: names or selection expressions ("group:raw", "+revenue", "orders*"); repeatable',
    )
    parser.add_argument(
        "--partition-key", "--partition", dest="partition_key", metavar="KEY",
        help='the partition to run ("2024-01-01", or "date=2024-01-01|region=eu" for a multi key)',
    )
    add_run_options(parser)
    parser.add_argument("--dry-run", action="store_true", help="print the steps that would run, then exit")
    parser.add_argument(
        "--raise",
        dest="raise_error",
        action="store_true",
        help="after the summary, re-raise the first step failure as a Python exception (for debuggers)",
    )
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace, context: CommandContext) -> int:
    """Run the selection, then print the summary; 0 on success, 1 on a failed run."""
    from rivers.cli.progress import ProgressPrinter, printing_progress, step_keys_of
    from rivers.cli.reports import load_report, print_summary, print_tracebacks
    from rivers.cli.selection_info import parse_key, require_key

    loaded = context.load(args.target)
    repository = loaded.repository
    config = run_config(args.config)
    failure: Exception | None = None
    with repository:
        storage = context.project.bind(repository)
        executor = executor_of(context, args.executor)
        key = None
        if args.partition_key is not None:
            key = parse_key(args.partition_key, repository, args.select)
        else:
            require_key(repository, args.select, "--partition-key")
        if args.dry_run:
            return _print_plan(context, repository, args.select, key, executor)
        printer = ProgressPrinter(context.console, step_keys_of(repository))
        with printing_progress(printer):
            from rivers.cli.commands.resume import remember_target

            root = context.project.config.root if args.target is None else None
            run_id = remember_target(storage, loaded.origin, args.select, import_root=root)
            try:
                result = repository.materialize(selection=args.select, raise_on_error=args.raise_error,
                                                run_id_override=run_id, partition_key=key, tags=args.tag,
                                                config=config, executor=executor)
                run_id, success = result.run_id, result.success
            except Exception as error:
                if not args.raise_error or printer.run_id is None:
                    raise  # the run never started: a selection or definition error
                failure, run_id, success = error, printer.run_id, False
    record = storage.get_run(run_id)
    if record is None:  # pragma: no cover - the engine records every run it starts
        context.console.print(f"Run {run_id}: {'success' if success else 'failure'}")
    else:
        report = load_report(storage, record)
        print_summary(context.console, report)
        print_tracebacks(context.console, storage, report)
    if failure is not None:
        raise Propagate(failure)
    return EXIT_OK if success else EXIT_FAILURE


def _print_plan(context: CommandContext, repository: CodeRepository, selection: Sequence[str] | None,
                key: Any, executor: Any) -> int:
    """``--dry-run``: the steps in the order they would run, each with the steps it waits for."""
    state = repository.resolved
    plan, _ = state.materialize_plan(selection, key)
    graph = state.graph
    keys = [step.key for step in plan.steps]
    planned = set(keys)
    chosen = executor or repository.default_executor
    executor_name = type(chosen).__name__ if chosen is not None else "InProcessExecutor"
    partition = f", partition {key}" if key is not None else ""
    context.console.print(f"Plan: {len(keys)} step(s){partition}, executor {executor_name}")
    rows = []
    for index, step_key in enumerate(keys, 1):
        waits = sorted({graph.nodes[p].step_key for p in graph.parents(step_key) if p in graph.nodes} & planned
                       - {step_key}) if step_key in graph.nodes else []
        rows.append([f"{index}.", step_key, ("after " + ", ".join(waits)) if waits else None])
    for line in format_table(None, rows, align="rll", indent="  "):
        context.console.print(line)
    return EXIT_OK
