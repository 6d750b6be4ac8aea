"""How a user function's parameters are read: context, self, upstream values.

The analysis runs once, when the function is decorated, and reads the code
object directly (``inspect.signature`` only for callables that are not plain
functions): validating ten thousand assets must not pay for it again.
"""

from __future__ import annotations

import inspect
import sys
import typing
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from rivers.context import AssetExecutionContext, TaskExecutionContext
from rivers.definitions.self_dependency import SelfDependency

if TYPE_CHECKING:
    from types import FrameType
    from typing import TypeAlias

    #: The context class a step's first parameter asks for.
    ContextClass: TypeAlias = "type[AssetExecutionContext | TaskExecutionContext]"

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
        "misplaced_context",
        "self_type",
        "has_self",
        "value_names",
        "annotations",
        "return_annotation",
        "annotated_names",
        "_config_type",
        "_namespace",
    )

    def __init__(self, fn: Callable[..., Any]) -> None:
        namespace = _Namespace(fn)
        names, annotated_names, annotations, return_annotation = _read_parameters(fn, namespace)
        self._namespace = namespace
        self.names = names
        self.annotations = annotations
        self.annotated_names = annotated_names
        self.return_annotation = return_annotation
        self.context_name: str | None = None
        self.context_class: ContextClass | None = None
        self.context_by_name_only = False
        self._config_type: object = None
        self.misplaced_context: str | None = None
        self.self_type: object = None
        self.has_self = False
        values = []
        for position, name in enumerate(names):
            annotation = annotations.get(name)
            context_class = context_class_of(annotation)
            config_text = None
            if context_class is None and isinstance(annotation, str):
                context_class, config_text = _context_class_of_text(annotation, namespace)
            if context_class is not None:
                if position == 0:
                    self.context_name = name
                    self.context_class = context_class
                    if config_text is not None:
                        self._config_type = config_text  # resolved on first use (see config_type)
                    else:
                        args = typing.get_args(annotation)
                        self._config_type = args[0] if args else None
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
                elif isinstance(annotation, str):
                    origin, inner = _origin_of_text(annotation, namespace)
                    if origin is SelfDependency:
                        # ``SelfDependency[T]`` whose T does not resolve: still a self-dependency
                        self.annotations = {**annotations, "self": SelfDependency}
                        self.self_type = inner
                continue
            values.append(name)
        self.value_names = tuple(values)
        namespace.done_decorating()

    @property
    def config_type(self) -> object:
        """Generic argument of the context annotation (``None`` if there is none).

        A string annotation (``from __future__ import annotations``) whose
        class was not defined yet when the function was decorated is
        evaluated again here, when the step is prepared; a name that still
        does not resolve stays a ``str`` (the step then fails with a
        ConfigurationError naming it).
        """
        config_type = self._config_type
        if isinstance(config_type, str):
            resolved = self._namespace.evaluate(config_type)
            if resolved is not _UNRESOLVED:
                self._config_type = config_type = resolved
        return config_type

    @config_type.setter
    def config_type(self, value: object) -> None:
        self._config_type = value

    @property
    def self_is_dependency(self) -> bool:
        """``self`` is annotated ``SelfDependency[T]`` (so it can be injected)."""
        annotation = self.annotations.get("self")
        return annotation is SelfDependency or typing.get_origin(annotation) is SelfDependency


def context_class_of(annotation: object) -> ContextClass | None:
    """The context class an annotation asks for, or ``None``."""
    if annotation is None:
        return None
    origin = typing.get_origin(annotation) or annotation
    if origin in CONTEXT_CLASSES:
        return origin
    return None


def _origin_of_text(text: str, namespace: _Namespace) -> tuple[object, str | None]:
    """``("X[inner]")`` -> (value of ``X``, ``"inner"``); ``_UNRESOLVED`` when ``X`` does not evaluate."""
    head, bracket, rest = text.strip().partition("[")
    origin = namespace.evaluate(head.strip())
    if not bracket:
        return origin, None
    inner = rest.rstrip()
    if not inner.endswith("]"):
        return _UNRESOLVED, None
    return origin, inner[:-1].strip() or None


def _context_class_of_text(text: str, namespace: _Namespace) -> tuple[ContextClass | None, str | None]:
    """For an annotation string that did not evaluate: ``(context class, config text)``.

    ``"rs.AssetExecutionContext[Cfg]"`` whose ``Cfg`` is not defined yet is
    still a context parameter; its config class is resolved later.
    """
    origin, inner = _origin_of_text(text, namespace)
    if origin is _UNRESOLVED or origin not in CONTEXT_CLASSES:
        return None, None
    return origin, inner


def _read_parameters(
    fn: Callable[..., Any], namespace: _Namespace
) -> tuple[tuple[str, ...], frozenset[str], dict[str, object], object]:
    code = getattr(fn, "__code__", None)
    if code is None or not inspect.isfunction(fn):
        return _read_with_inspect(fn)
    positional = code.co_argcount
    kwonly = code.co_kwonlyargcount
    arg_names = code.co_varnames[: positional + kwonly]
    with_defaults = set(arg_names[positional - len(fn.__defaults__ or ()) : positional])
    with_defaults.update(fn.__kwdefaults__ or ())
    raw = fn.__annotations__
    annotations = _resolve_annotations(raw, namespace) if raw else {}
    names = tuple(n for n in arg_names if n not in with_defaults)
    annotated = frozenset(n for n in raw if n != "return")
    return names, annotated, annotations, annotations.get("return", inspect.Signature.empty)


def _read_with_inspect(fn: Callable[..., Any]) -> tuple[tuple[str, ...], frozenset[str], dict[str, object], object]:
    signature = inspect.signature(fn)
    names = []
    annotations: dict[str, object] = {}
    for parameter in signature.parameters.values():
        if parameter.kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD):
            continue
        if parameter.annotation is not parameter.empty:
            annotations[parameter.name] = parameter.annotation
        if parameter.default is parameter.empty:
            names.append(parameter.name)
    return tuple(names), frozenset(annotations), annotations, signature.return_annotation


_UNRESOLVED = object()


class _Namespace:
    """Where the string annotations of a function (PEP 563) are evaluated.

    First the function's globals; when a name is missing there, the
    variables the function closes over and the locals of the frame that
    decorated it (a config class defined inside a test or factory function),
    the way pydantic resolves forward references of local models. Those
    locals are captured only while the function is being decorated, and only
    when a name did not resolve from the globals.
    """

    __slots__ = ("_fn", "_extra", "_decorating")

    def __init__(self, fn: Callable[..., Any]) -> None:
        self._fn = fn
        self._extra: dict[str, Any] | None = None
        self._decorating = True

    def done_decorating(self) -> None:
        self._decorating = False

    def _globals(self) -> dict[str, Any]:
        fn = self._fn
        namespace = getattr(fn, "__globals__", None)
        if namespace is None:
            namespace = getattr(sys.modules.get(getattr(fn, "__module__", None) or ""), "__dict__", None)
        return namespace if namespace is not None else {}

    def evaluate(self, text: str) -> object:
        """The value of the expression ``text``, or ``_UNRESOLVED``."""
        namespace = self._globals()
        try:
            return eval(text, namespace)  # noqa: S307 - annotations are the user's own code
        except Exception:  # noqa: BLE001 - any failure means "not resolvable here"
            pass
        if self._extra is None and self._decorating:
            self._extra = self._capture_extra()
        if not self._extra:
            return _UNRESOLVED
        try:
            return eval(text, namespace, self._extra)  # noqa: S307
        except Exception:  # noqa: BLE001
            return _UNRESOLVED

    def _capture_extra(self) -> dict[str, Any]:
        extra = _decorating_frame_locals()
        closure = getattr(self._fn, "__closure__", None)
        code = getattr(self._fn, "__code__", None)
        if closure and code is not None:
            for name, cell in zip(code.co_freevars, closure):
                try:
                    extra[name] = cell.cell_contents
                except ValueError:  # an empty cell
                    continue
        return extra


def _decorating_frame_locals() -> dict[str, Any]:
    """Locals of the innermost frame outside rivers: the code decorating the function.

    A module-level frame contributes nothing (its names are the globals).
    """
    frame: FrameType | None = sys._getframe(1)
    while frame is not None:
        module = frame.f_globals.get("__name__", "")
        if module != "rivers" and not module.startswith("rivers."):
            return {} if frame.f_code.co_name == "<module>" else dict(frame.f_locals)
        frame = frame.f_back
    return {}


def _resolve_annotations(raw: dict[str, Any], namespace: _Namespace) -> dict[str, object]:
    """Evaluate string annotations (PEP 563); keep the string where that fails."""
    if not any(isinstance(v, str) for v in raw.values()):
        return dict(raw)
    resolved = {}
    for name, value in raw.items():
        if isinstance(value, str):
            evaluated = namespace.evaluate(value)
            if evaluated is not _UNRESOLVED:
                value = evaluated
        resolved[name] = value
    return resolved


def signature_of(fn: Callable[..., Any]) -> FunctionSignature:
    """The :class:`FunctionSignature` of ``fn`` (computed once per decoration)."""
    return FunctionSignature(fn)
