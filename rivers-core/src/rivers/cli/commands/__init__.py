"""The commands of ``rivers``.

Each module has ``add_parser(subparsers, parents)``, which adds its parser and
sets ``handler`` to a function ``(args, context) -> exit code``. Modules
import rivers' engine inside their handlers, so building the parser is cheap.
"""

from __future__ import annotations

from rivers.cli.commands import (
    assets,
    backfill,
    backfills,
    materialize,
    plugins,
    pools,
    resume,
    run,
    runs,
    storage,
    validate,
)

__all__ = ["COMMANDS"]

#: The command modules, in the order ``rivers --help`` lists them.
COMMANDS = (materialize, backfill, backfills, resume, validate, assets, runs, run, pools, plugins, storage)
