"""``rivers resume RUN_ID [TARGET]``: finish a run whose process died, without redoing finished steps.

``rivers materialize`` remembers, for every run it starts, which TARGET and
selection it ran (in the storage's key-value area), so ``rivers resume
RUN_ID`` needs nothing else. Runs started from Python need the TARGET.
Steps that succeeded in the interrupted attempt are not run again; their
stored values are loaded by the steps that need them.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from rivers.cli.argtypes import add_target_argument
from rivers.cli.context import CommandContext
from rivers.cli.errors import EXIT_FAILURE, EXIT_OK, CliError

if TYPE_CHECKING:
    from rivers.storage import Storage

__all__ = ["add_parser", "handle", "remember_target"]

_KEY = "rivers/cli/run-target/{run_id}"


def add_parser(subparsers: Any, parents: list[argparse.ArgumentParser]) -> None:
    """Add the ``resume`` command."""
    parser = subparsers.add_parser(
        "resume",
        parents=parents,
        help="finish an interrupted run, skipping the steps it completed",
        description="Resume run RUN_ID (a run whose process was killed or crashed): steps that succeeded are "
        "not run again, the others run now under the same run id. TARGET defaults to the one `rivers "
        "materialize` recorded for the run. Exit 1 when the resumed run failed.",
    )
    parser.add_argument("run_id", metavar="RUN_ID", help="a run id, or a unique prefix of a recent one")
    add_target_argument(parser, optional=True, default_help="default: the run's own")
    parser.set_defaults(handler=handle)


def remember_target(storage: Storage, target: str, selection: Sequence[str] | None,
                    import_root: str | None = None) -> str:
    """Record what a new run is about to run; returns the run id to start it with.

    ``import_root`` is where a module TARGET is imported from (the project
    directory of a configured ``[module]``; default: the working directory).
    """
    from rivers._ids import random_uuid4
    from rivers.cli.target import is_file_target, parse_target

    run_id = random_uuid4()
    location, attribute = parse_target(target)
    if is_file_target(location):
        location = os.path.abspath(location)
    absolute = f"{location}:{attribute}" if attribute else location
    record = {"target": absolute, "select": list(selection) if selection else None, "cwd": os.getcwd(),
              "import_root": import_root or os.getcwd()}
    storage.kv_set(_KEY.format(run_id=run_id), json.dumps(record).encode("utf-8"))
    return run_id


def _remembered(storage: Storage, run_id: str) -> dict[str, Any] | None:
    raw = storage.kv_get(_KEY.format(run_id=run_id))
    return None if raw is None else json.loads(raw.decode("utf-8"))


def handle(args: argparse.Namespace, context: CommandContext) -> int:
    """Resume the run, then print the same summary ``materialize`` prints."""
    from rivers.cli.commands.run import find_run
    from rivers.cli.progress import ProgressPrinter, printing_progress, step_keys_of
    from rivers.cli.reports import load_report, print_summary, print_tracebacks
    from rivers.cli.target import load_target

    project = context.project
    if not project.storage_exists():
        raise CliError(f"run {args.run_id!r} not found: no runs recorded yet in {project.storage_url}")
    record = find_run(project.storage(), args.run_id)
    remembered = _remembered(project.storage(), record.run_id)
    target = args.target or (remembered or {}).get("target")
    if not target:
        raise CliError(
            f"run {record.run_id} was not started by `rivers materialize`; pass its TARGET: "
            f"rivers resume {record.run_id} pipeline.py"
        )
    if record.status == "Success":
        context.console.print(f"Run {record.run_id}: already succeeded, nothing to resume")
        return EXIT_OK
    root = (remembered or {}).get("import_root")
    if not args.target and root and root not in sys.path:
        sys.path.insert(0, root)  # a module TARGET imports from where `materialize` imported it
    repository = load_target(target).repository
    with repository:
        storage = project.bind(repository)
        if storage.get_run(record.run_id) is None:
            raise CliError(f"run {record.run_id} is not in the storage the repository of {target} uses")
        printer = ProgressPrinter(context.console, step_keys_of(repository))
        with printing_progress(printer):
            result = repository.execute_run(record.run_id, resume=True, raise_on_error=False)
    report = load_report(storage, storage.get_run(result.run_id) or record)
    print_summary(context.console, report)
    print_tracebacks(context.console, storage, report)
    return EXIT_OK if result.success else EXIT_FAILURE
