"""The command line's helpers, in-process: tables, durations, TARGET parsing, console symbols."""

from __future__ import annotations

import io

import pytest
from rivers.cli.console import Console
from rivers.cli.formatting import format_duration, one_line, plural, short_version
from rivers.cli.table import format_table
from rivers.cli.target import parse_target


def test_format_table_aligns_columns_and_strips_trailing_space() -> None:
    lines = format_table(["STEP", "TIME", "NOTE"], [["orders", "0.1s", None], ["revenue", "12.0s", "x\ny"]], align="lr")
    assert lines == [
        "STEP      TIME  NOTE",
        "orders    0.1s  -",
        "revenue  12.0s  x y",
    ]
    assert format_table(None, [["a:", 1]], indent="  ") == ["  a:  1"]
    assert format_table(["A"], []) == ["A"]
    assert format_table(None, []) == []


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(None, "-"), (0.0123, "0.012s"), (3.456, "3.46s"), (42.12, "42.1s"), (123, "2m 03s"), (3900, "1h 05m")],
)
def test_format_duration(seconds: float | None, text: str) -> None:
    assert format_duration(seconds) == text


def test_small_formatters() -> None:
    assert one_line("ValueError: boom\n  more") == "ValueError: boom"
    assert one_line("x" * 20, width=10) == "xxxxxxx..."
    assert one_line(None) == ""
    assert plural(1, "step") == "1 step" and plural(2, "step") == "2 steps"
    assert short_version("0123456789abcdef") == "01234567" and short_version(None) is None


@pytest.mark.parametrize(
    ("target", "parts"),
    [
        ("pipeline.py", ("pipeline.py", None)),
        ("pipeline.py:repo", ("pipeline.py", "repo")),
        ("my_pkg.pipeline:defs", ("my_pkg.pipeline", "defs")),
        ("C:\\code\\pipeline.py", ("C:\\code\\pipeline.py", None)),
        ("weird:not an attribute", ("weird:not an attribute", None)),
    ],
)
def test_parse_target(target: str, parts: tuple[str, str | None]) -> None:
    assert parse_target(target) == parts


def _stream(encoding: str) -> io.TextIOWrapper:
    return io.TextIOWrapper(io.BytesIO(), encoding=encoding)


def test_console_symbols_fall_back_to_ascii_and_colour_only_when_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FORCE_COLOR", raising=False)
    monkeypatch.delenv("NO_COLOR", raising=False)
    utf8 = Console(_stream("utf-8"), _stream("utf-8"))
    assert not utf8.color  # not a TTY
    assert [utf8.symbol(s) for s in ("success", "failure", "skipped")] == ["\u2714", "\u2718", "\u21b7"]
    ascii_console = Console(_stream("ascii"), _stream("ascii"))
    assert [ascii_console.symbol(s) for s in ("success", "failure", "skipped")] == ["ok  ", "FAIL", "skip"]
    coloured = Console(_stream("utf-8"), _stream("utf-8"), color=True)
    assert coloured.status("failure") == "\x1b[31mfailure\x1b[0m"
    assert coloured.status("started") == "started"
    monkeypatch.setenv("FORCE_COLOR", "1")
    assert Console(_stream("utf-8"), _stream("utf-8")).color


def test_quiet_console_keeps_results() -> None:
    out = io.StringIO()
    console = Console(out, io.StringIO(), quiet=True)
    console.info("progress")
    console.print("result")
    assert out.getvalue() == "result\n"
