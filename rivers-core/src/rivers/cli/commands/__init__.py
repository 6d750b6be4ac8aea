"""The commands of ``rivers``.

Each module has ``add_parser(subparsers, parents)``, which adds its parser and
sets ``handler`` to a function ``(args, context) -> exit code``. Modules
import rivers' engine inside their handlers, so building the parser is cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

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
from rivers.cli.commands import automations, daemon

if TYPE_CHECKING:
    from types import ModuleType

__all__ = ["COMMANDS"]

#: The command modules, in the order ``rivers --help`` lists them.
COMMANDS: tuple[ModuleType, ...] = (
    materialize, backfill, backfills, resume, validate, assets, runs, run, pools, plugins, storage)
COMMANDS += (daemon, automations)
