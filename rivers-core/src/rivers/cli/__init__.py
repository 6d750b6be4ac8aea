"""The ``rivers`` command line.

::

    rivers materialize [TARGET] [--select EXPR] [--partition-key KEY] [--dry-run]   run assets, progress, summary
    rivers backfill [TARGET] (--from K --to K | -p KEY ... | --missing | --failed)   run many partitions
    rivers backfills | backfill-status ID | backfill-cancel ID                       stored backfills
    rivers validate [TARGET]                                  check the settings, build and check the graph
    rivers assets [TARGET] [--graph [--format dot|mermaid]]   assets: materialisations, partitions, staleness
    rivers runs [--limit N] [--status S]                      recent runs of the project storage
    rivers run RUN_ID                                         one run: steps, errors, logs
    rivers resume RUN_ID                                      finish an interrupted run
    rivers pools list | info POOL | set POOL LIMIT            concurrency pools
    rivers plugins [--strict] [--json]                        installed plugins, their components, failures

Without TARGET, the ``[module]`` of the project settings is used. Global
options (before or after the command): ``--project-dir DIR``, ``--storage
URL``, ``--storage-path PATH``, ``--memory``, ``--repo-var NAME``,
``-q/--quiet``, ``--traceback``, ``--version``. ``--json`` on the listing
commands prints JSON for scripts.

Importing this package is cheap: the parser and the commands are imported by
:func:`main`, and rivers' engine only by the commands that run something.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``rivers`` command with ``argv`` (default: ``sys.argv[1:]``); return the exit code.

    Exit codes: 0 success, 1 a failed run or invalid definitions, 2 a usage,
    target or configuration error, 130 interrupted, 141 the output's reader went away.
    """
    from rivers.cli.app import run

    return run(argv)
