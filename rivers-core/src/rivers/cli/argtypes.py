"""Argument types shared by the CLI's commands (argparse ``type=`` callables with clear messages)."""

from __future__ import annotations

import argparse
from typing import Callable

__all__ = ["add_target_argument", "int_at_least"]

_TARGET_HELP = "pipeline.py, my_pkg.pipeline, or either with :attribute"


def add_target_argument(parser: argparse.ArgumentParser, *, optional: bool = False, default_help: str = "") -> None:
    """Add the ``TARGET`` positional (the file or module defining the repository) to ``parser``."""
    help_text = f"{_TARGET_HELP} ({default_help})" if default_help else _TARGET_HELP
    parser.add_argument("target", metavar="TARGET", nargs="?" if optional else None, help=help_text)


def int_at_least(minimum: int, what: str = "integer") -> Callable[[str], int]:
    """A ``type=`` that accepts whole numbers ``>= minimum`` and names ``what`` it expected otherwise."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = minimum - 1
        if value < minimum:
            raise argparse.ArgumentTypeError(f"expected {what} of at least {minimum}, got {text!r}")
        return value

    parse.__name__ = f"int_at_least_{minimum}"
    return parse
