"""Options shared by the commands that start runs: ``--tag k=v``, ``--executor NAME``, ``--config FILE|JSON``."""

from __future__ import annotations

import argparse
import json
import os
from typing import TYPE_CHECKING, Any

from rivers.cli.errors import CliError

if TYPE_CHECKING:
    from rivers.cli.context import CommandContext

__all__ = ["add_run_options", "executor_of", "run_config", "tag_pair"]


def tag_pair(text: str) -> tuple[str, str]:
    """``key=value`` as a run tag."""
    key, separator, value = text.partition("=")
    if not separator or not key.strip():
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    return key.strip(), value.strip()


def add_run_options(parser: argparse.ArgumentParser) -> None:
    """Add ``--tag``, ``--executor`` and ``--config`` to a command that starts runs."""
    parser.add_argument("--tag", metavar="KEY=VALUE", type=tag_pair, action="append", default=None,
                        help="a tag of the run(s); repeatable")
    parser.add_argument("--executor", metavar="NAME",
                        help="the executor for this run (in_process, parallel, a plugin's name), overriding "
                        "[executor] of rivers.toml and the repository's default")
    parser.add_argument("--config", metavar="FILE|JSON",
                        help='run config: a JSON object (\'{"orders": {"limit": 5}}\') or a .json/.toml file')


def executor_of(context: CommandContext, name: str | None) -> Any:
    """The executor ``--executor NAME`` asks for (with the settings of ``[executor]`` when it names the same one)."""
    if name is None:
        return None
    from rivers.exceptions import ConfigurationError
    from rivers.plugins import create_executor

    config = context.project.config
    settings = config.executor_settings if name == config.executor_name else {}
    try:
        return create_executor(name, **settings)
    except ConfigurationError as error:
        raise type(error)(f"--executor {name!r}: {error}") from error


def run_config(text: str | None) -> dict[str, Any] | None:
    """``--config``: inline JSON, or a ``.json`` / ``.toml`` file holding a table."""
    if text is None:
        return None
    stripped = text.strip()
    if stripped.startswith("{"):
        try:
            value = json.loads(stripped)
        except json.JSONDecodeError as error:
            raise CliError(f"--config: invalid JSON ({error}); pass an object like '{{\"asset\": {{\"k\": 1}}}}'") \
                from error
        return _table(value, "--config")
    if not os.path.isfile(text):
        raise CliError(f"--config {text!r}: no such file, and not a JSON object (it would start with '{{')")
    try:
        if text.endswith(".toml"):
            import tomllib

            with open(text, "rb") as file:
                value = tomllib.load(file)
        else:
            with open(text, encoding="utf-8") as file:
                value = json.load(file)
    except (ValueError, OSError) as error:
        raise CliError(f"--config {text}: cannot be read ({error}); give a JSON or TOML file") from error
    return _table(value, f"--config {text}")


def _table(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise CliError(f"{where}: expected an object of config by asset, got {type(value).__name__}")
    return value
