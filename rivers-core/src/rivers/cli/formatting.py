"""Formatting durations, timestamps, versions and messages for humans."""

from __future__ import annotations

import time

__all__ = ["format_duration", "format_timestamp", "one_line", "plural", "short_version"]


def format_duration(seconds: float | None) -> str:
    """``0.012s``, ``3.45s``, ``42.1s``, ``2m 03s``, ``1h 05m``; ``-`` for ``None``."""
    if seconds is None:
        return "-"
    if seconds < 1:
        return f"{seconds:.3f}s"
    if seconds < 10:
        return f"{seconds:.2f}s"
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes}m {secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m"


def format_timestamp(timestamp_ns: int | None) -> str:
    """A nanosecond timestamp as local time, ``2024-05-01 14:03:59``; ``-`` for ``None``."""
    if not timestamp_ns:
        return "-"
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(timestamp_ns / 1e9))


def short_version(version: str | None, length: int = 8) -> str | None:
    """The first ``length`` characters of a data or code version (``None`` stays ``None``)."""
    return version[:length] if version else None


def one_line(text: str | None, width: int = 100) -> str:
    """The first line of ``text``, cut to ``width`` characters with ``...``."""
    line = (text or "").strip().splitlines()[0] if (text or "").strip() else ""
    return line if len(line) <= width else line[: width - 3] + "..."


def plural(count: int, noun: str, plural_noun: str | None = None) -> str:
    """``1 step``, ``2 steps``."""
    return f"{count} {noun if count == 1 else plural_noun or noun + 's'}"
