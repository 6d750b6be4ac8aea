"""Argument types shared by the CLI's commands (argparse ``type=`` callables with clear messages)."""

from __future__ import annotations

import argparse
from typing import Callable

__all__ = ["int_at_least"]


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
