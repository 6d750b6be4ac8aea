"""Checking a step's return value against its return annotation."""

from __future__ import annotations

import inspect
import types
import typing
from typing import Any, Callable

from rivers.definitions.results import RESULT_WRAPPERS, DynamicOutput

Checker = Callable[[object], bool]


def return_checker(annotation: object) -> tuple[Checker, str] | None:
    """A predicate for values matching ``annotation`` and its display name, or None to skip."""
    if annotation is inspect.Signature.empty or annotation is None or annotation is Any or annotation is type(None):
        return None
    if isinstance(annotation, str):
        return None  # unresolvable forward reference: nothing to check against
    allowed = _allowed_types(annotation)
    if allowed is None:
        return None
    name = getattr(annotation, "__name__", None) or str(annotation).replace("typing.", "")
    return (lambda value: isinstance(value, allowed)), name


def _allowed_types(annotation: object) -> tuple[type, ...] | None:
    if annotation in RESULT_WRAPPERS or annotation is DynamicOutput:
        return None
    origin = typing.get_origin(annotation)
    if origin is typing.Union or origin is types.UnionType:
        members: list[type] = []
        for arg in typing.get_args(annotation):
            if arg is type(None):
                members.append(type(None))
                continue
            allowed = _allowed_types(arg)
            if allowed is None:
                return None
            members.extend(allowed)
        return tuple(members)
    if origin is not None:
        return (origin,) if isinstance(origin, type) else None
    if isinstance(annotation, type):
        return (annotation,)
    return None
