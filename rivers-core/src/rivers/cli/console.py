"""Writing to the terminal: quiet mode, colours only on a TTY, ASCII fallback for symbols."""

from __future__ import annotations

import codecs
import os
import sys
from typing import TextIO

__all__ = ["Console"]

# status -> (UTF-8 symbol, ASCII fallback, colour)
_SYMBOLS: dict[str, tuple[str, str, str]] = {
    "success": ("\u2714", "ok", "green"),
    "failure": ("\u2718", "FAIL", "red"),
    "skipped": ("\u21b7", "skip", "yellow"),
}
_COLORS = {"green": "32", "red": "31", "yellow": "33", "bold": "1", "dim": "2"}


class Console:
    """Where the commands write: results to ``out``, errors and tracebacks to ``err``.

    :param quiet: Drop :meth:`info` lines (progress, tables); results and
        errors are still written.
    :param color: Force colours on or off; by default they are used when
        ``out`` is a TTY, ``NO_COLOR`` is unset and ``TERM`` is not ``dumb``
        (``FORCE_COLOR`` forces them).
    """

    def __init__(
        self,
        out: TextIO | None = None,
        err: TextIO | None = None,
        *,
        quiet: bool = False,
        color: bool | None = None,
    ) -> None:
        self.out = out if out is not None else sys.stdout
        self.err = err if err is not None else sys.stderr
        self.quiet = quiet
        self.color = _wants_color(self.out) if color is None else color
        self.unicode = _can_encode(self.out, "".join(symbol for symbol, _, _ in _SYMBOLS.values()))

    def print(self, text: str = "") -> None:
        """Write a line of results to ``out``."""
        print(text, file=self.out, flush=True)

    def info(self, text: str = "") -> None:
        """Write a line of progress or detail to ``out``, unless quiet."""
        if not self.quiet:
            self.print(text)

    def error(self, text: str) -> None:
        """Write a line to ``err``."""
        print(text, file=self.err, flush=True)

    def style(self, text: str, color: str) -> str:
        """``text`` in ``color`` (a name of ``_COLORS``) when colours are on."""
        if not self.color:
            return text
        return f"\x1b[{_COLORS[color]}m{text}\x1b[0m"

    def symbol(self, status: str) -> str:
        """The mark of a step status (``success``, ``failure``, ``skipped``), padded to one width."""
        symbol, ascii_symbol, color = _SYMBOLS[status]
        if self.unicode:
            return self.style(symbol, color)
        width = max(len(ascii) for _, ascii, _ in _SYMBOLS.values())
        return self.style(ascii_symbol, color) + " " * (width - len(ascii_symbol))

    def status(self, status: str) -> str:
        """A run or step status word, coloured like its symbol."""
        color = {"success": "green", "failure": "red", "skipped": "yellow", "canceled": "yellow"}.get(status)
        return self.style(status, color) if color else status


def _wants_color(stream: TextIO) -> bool:
    if os.environ.get("NO_COLOR"):
        return False
    if os.environ.get("FORCE_COLOR"):
        return True
    if os.environ.get("TERM") == "dumb":
        return False
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


def _can_encode(stream: TextIO, text: str) -> bool:
    encoding = getattr(stream, "encoding", None) or "ascii"
    try:
        codecs.lookup(encoding)
        text.encode(encoding)
    except (LookupError, UnicodeEncodeError):
        return False
    return True
