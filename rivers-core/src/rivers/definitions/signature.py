"""How a user function's parameters are read: context, self, upstream values.

The analysis runs once, when the function is decorated, and reads the code
object directly (``inspect.signature`` only for callables that are not plain
functions): validating ten thousand assets must not pay for it again.
"""

from __future__ import annotations

import inspect
import sys
import typing
from typing import Any, Callable

from rivers.context import AssetExecutionContext, TaskExecutionContext
from rivers.definitions.self_dependency import SelfDependency

CONTEXT_CLASSES = (AssetExecutionContext, TaskExecutionContext)


class FunctionSignature:
    """The injectable parameters of a user function, classified once.

    Attributes:
        names: every injectable parameter, in declaration order (parameters
            with defaults, ``*args`` and ``**kwargs`` are left to Python).
        context_name: the first parameter when it receives the context.
        context_class: the context class it asks for (``None``: asset context).
        context_by_name_only: the context was recognised by the name
            ``context`` alone (a node called ``context`` would win).
        config_type: generic argument of the context annotation, if any.
        misplaced_context: a context-annotated parameter that is not first.
        self_type: ``T`` of ``self: SelfDependency[T]`` (``None`` if absent).
        has_self: a ``self`` parameter exists.
        value_names: parameters that receive upstream values or resources.
        annotations: resolved annotations by parameter name.
        return_annotation: resolved return annotation (``inspect.Signature.empty`` if none).
    """

    __slots__ = (
        "names",
        "context_name",
        "context_class",
        "context_by_name_only",
        "config_type",
        "misplaced_context",
        "self_type",
        "has_self",
        "value_names",
        "annotations",
        "return_annotation",
        "annotated_names",
    )

    def __init__(self, fn: Callable[..., Any]) -> None:
        names, annotated_names, annotations, return_annotation = _read_parameters(fn)
        self.names = names
        self.annotations = annotations
        self.annotated_names = annotated_names
        self.return_annotation = return_annotation
        self.context_name: str | None = None
        self.context_class: type | None = None
        self.context_by_name_only = False
        self.config_type: Any = None
        self.misplaced_context: str | None = None
        self.self_type: Any = None
        self.has_self = False
        values = []
        for position, name in enumerate(names):
            annotation = annotations.get(name)
            context_class = context_class_of(annotation)
            if context_class is not None:
                if position == 0:
                    self.context_name = name
                    self.context_class = context_class
                    args = typing.get_args(annotation)
                    self.config_type = args[0] if args else None
                elif self.misplaced_context is None:
                    self.misplaced_context = name
                continue
            if position == 0 and name == "context" and annotation is None:
                self.context_name = name
                self.context_by_name_only = True
                continue
            if name == "self":
                self.has_self = True
                if typing.get_origin(annotation) is SelfDependency or annotation is SelfDependency:
                    args = typing.get_args(annotation)
                    self.self_type = args[0] if args else None
                continue
            values.append(name)
        self.value_names = tuple(values)

    @property
    def self_is_dependency(self) -> bool:
        """``self`` is annotated ``SelfDependency[T]`` (so it can be injected)."""
        annotation = self.annotations.get("self")
        return annotation is SelfDependency or typing.get_origin(annotation) is SelfDependency


def context_class_of(annotation: Any) -> type | None:
    """The context class an annotation asks for, or ``None``."""
    if annotation is None:
        return None
    origin = typing.get_origin(annotation) or annotation
    if origin in CONTEXT_CLASSES:
        return origin
    return None


def _read_parameters(fn: Callable[..., Any]) -> tuple[tuple[str, ...], frozenset[str], dict[str, Any], Any]:
    code = getattr(fn, "__code__", None)
    if code is None or not inspect.isfunction(fn):
        return _read_with_inspect(fn)
    positional = code.co_argcount
    kwonly = code.co_kwonlyargcount
    arg_names = code.co_varnames[: positional + kwonly]
    with_defaults = set(arg_names[positional - len(fn.__defaults__ or ()) : positional])
    with_defaults.update(fn.__kwdefaults__ or ())
    raw = fn.__annotations__
    annotations = _resolve_annotations(fn, raw) if raw else {}
    names = tuple(n for n in arg_names if n not in with_defaults)
    annotated = frozenset(n for n in raw if n != "return")
    return names, annotated, annotations, annotations.get("return", inspect.Signature.empty)


def _read_with_inspect(fn: Callable[..., Any]) -> tuple[tuple[str, ...], frozenset[str], dict[str, Any], Any]:
    signature = inspect.signature(fn)
    names = []
    annotations: dict[str, Any] = {}
    for parameter in signature.parameters.values():
        if parameter.kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD):
            continue
        if parameter.annotation is not parameter.empty:
            annotations[parameter.name] = parameter.annotation
        if parameter.default is parameter.empty:
            names.append(parameter.name)
    return tuple(names), frozenset(annotations), annotations, signature.return_annotation


def _resolve_annotations(fn: Callable[..., Any], raw: dict[str, Any]) -> dict[str, Any]:
    """Evaluate string annotations (PEP 563) in the function's module; keep what fails."""
    if not any(isinstance(v, str) for v in raw.values()):
        return dict(raw)
    namespace = dict(getattr(sys.modules.get(fn.__module__), "__dict__", {}))
    namespace.update(getattr(fn, "__globals__", {}))
    resolved = {}
    for name, value in raw.items():
        if isinstance(value, str):
            try:
                value = eval(value, namespace)  # noqa: S307 - annotations are the user's own code
            except Exception:
                pass
        resolved[name] = value
    return resolved


def signature_of(fn: Callable[..., Any]) -> FunctionSignature:
    """The :class:`FunctionSignature` of ``fn`` (computed once per decoration)."""
    return FunctionSignature(fn)
