"""docs/plugins.md documents every hook of rivers.hookspecs with its exact signature."""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable
from pathlib import Path

import pytest

from rivers import hookspecs

DOCS = Path(__file__).resolve().parents[3] / "docs" / "plugins.md"
# A documented hook is a heading whose whole text is the signature in backticks.
HEADING = re.compile(r"^#+ `(?P<signature>(?P<name>rivers_\w+)\(.*\).*)`\s*$", re.MULTILINE)


def hook_specs() -> dict[str, Callable[..., object]]:
    return {
        name: function
        for name, function in vars(hookspecs).items()
        if callable(function) and getattr(function, "rivers_spec", None) is not None
    }


def render(function: Callable[..., object]) -> str:
    """``name(arg: Type, ...) -> Return`` as written in the source annotations."""
    annotations = function.__annotations__
    params = ", ".join(
        f"{name}: {annotations[name]}" if name in annotations else name
        for name in inspect.signature(function).parameters
    )
    return f"{function.__name__}({params}) -> {annotations.get('return', 'None')}"


def documented() -> dict[str, str]:
    return {match["name"]: match["signature"] for match in HEADING.finditer(DOCS.read_text(encoding="utf-8"))}


def test_there_are_hooks_to_document() -> None:
    assert {"rivers_io_handlers", "rivers_run_finished"} <= set(hook_specs())


@pytest.mark.parametrize("name", sorted(hook_specs()))
def test_hook_is_documented_with_its_signature(name: str) -> None:
    docs = documented()
    assert name in docs, f"{name} is not documented in {DOCS} (add a '#### `{render(hook_specs()[name])}`' heading)"
    assert docs[name] == render(hook_specs()[name])


def test_documented_hooks_exist() -> None:
    assert sorted(set(documented()) - set(hook_specs())) == []
