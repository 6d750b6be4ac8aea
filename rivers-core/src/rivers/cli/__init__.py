"""The ``rivers`` command line.

::

    rivers materialize pipeline.py --select "group:raw"   run assets, print progress and a summary
    rivers validate pipeline.py                            build and check the graph
    rivers assets [pipeline.py]                            assets and their last materialisation
    rivers runs [--limit N] [--status S]                   recent runs of the project storage
    rivers run RUN_ID                                      one run: steps, errors, logs
    rivers plugins [--strict] [--json]                     installed plugins, their components, failures

Global options (before or after the command): ``--project-dir DIR``,
``--storage URL``, ``-q/--quiet``, ``--traceback``, ``--version``.

Importing this package is cheap: the parser and the commands are imported by
:func:`main`, and rivers' engine only by the commands that run something.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``rivers`` command with ``argv`` (default: ``sys.argv[1:]``); return the exit code.

    Exit codes: 0 success, 1 a failed run or invalid definitions, 2 a usage,
    target or configuration error, 130 interrupted.
    """
    from rivers.cli.app import run

    return run(argv)
