"""Calling schedule and sensor functions: arguments from annotations, async functions awaited, results checked.

Arguments are built from ``__annotations__`` only: the parameter annotated
with the evaluation context (optionally ``Context[ConfigT]``: the config is
instantiated without overrides) receives it, every other annotated
parameter must be a resource key, and unannotated parameters are not passed.
"""

from __future__ import annotations

import asyncio
import inspect
import typing
from typing import Any, Callable

from rivers.automation.requests import BackfillRequest, RunRequest, SensorResult, SkipReason
from rivers.exceptions import ExecutionError

__all__ = ["NO_RETURN_REASON", "call_evaluation", "normalise_requests"]

NO_RETURN_REASON = "Eval fn didn't return a RunRequest, no reason provided"


def _annotations(fn: Callable[..., Any]) -> dict[str, Any]:
    raw = dict(getattr(fn, "__annotations__", {}) or {})
    raw.pop("return", None)
    if not any(isinstance(value, str) for value in raw.values()):
        return raw
    namespace = dict(getattr(fn, "__globals__", {}))
    resolved: dict[str, Any] = {}
    for name, value in raw.items():
        if isinstance(value, str):
            try:
                value = eval(value, namespace)  # noqa: S307 - the user's own annotation
            except Exception:  # noqa: BLE001 - an unresolvable annotation stays text
                pass
        resolved[name] = value
    return resolved


def build_arguments(fn: Callable[..., Any], context_class: type, make_context: Callable[[Any], Any],
                    resources: dict[str, Any], owner: str, error: type[Exception]) -> dict[str, Any]:
    """The keyword arguments of ``fn``: the context (with its config) and the resources it names."""
    from rivers.resources import build_config

    arguments: dict[str, Any] = {}
    for name, annotation in _annotations(fn).items():
        origin = typing.get_origin(annotation) or annotation
        if origin is context_class or (isinstance(annotation, str) and annotation.split("[")[0].endswith(
                context_class.__name__)):
            args = typing.get_args(annotation)
            config = build_config(args[0], None, owner) if args else None
            arguments[name] = make_context(config)
        elif name in resources:
            arguments[name] = resources[name]
        else:
            raise error(f"Unknown parameter '{name}' in {owner}: not a context or registered resource")
    return arguments


def call_evaluation(fn: Callable[..., Any], arguments: dict[str, Any]) -> Any:
    """Call ``fn`` with ``arguments``; a coroutine (async function) is run to completion."""
    result = fn(**arguments)
    if inspect.isawaitable(result):
        result = _run_awaitable(result)
    return result


def _run_awaitable(awaitable: Any) -> Any:
    async def wait() -> Any:
        return await awaitable

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(wait())
    # called from inside a running loop (e.g. a notebook): run it on a helper thread's own loop
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, wait()).result()


def normalise_requests(result: Any, kind: str) -> tuple[list[Any], SkipReason | None, str | None, bool]:
    """``(requests, skip_reason, cursor, has_cursor)`` of what an evaluation function returned.

    ``kind`` is ``"Schedule"`` or ``"Sensor"`` (sensors may return a
    :class:`SensorResult`; only that sets the cursor).
    """
    if result is None:
        return [], SkipReason(NO_RETURN_REASON), None, False
    if isinstance(result, SkipReason):
        return [], result, None, False
    if isinstance(result, (RunRequest, BackfillRequest)):
        return [result], None, None, False
    if kind == "Sensor" and isinstance(result, SensorResult):
        return list(result.run_requests), result.skip_reason, result.cursor, True
    if isinstance(result, (str, bytes, dict)) or not hasattr(result, "__iter__"):
        raise ExecutionError(_bad_return(kind, result))
    requests = list(result)
    for item in requests:
        if not isinstance(item, (RunRequest, BackfillRequest)):
            raise ExecutionError(_bad_return(kind, item))
    return requests, None, None, False


def _bad_return(kind: str, value: Any) -> str:
    extra = ", SensorResult" if kind == "Sensor" else ""
    return (f"{kind} evaluation function must return RunRequest, BackfillRequest, SkipReason{extra}, list, or None; "
            f"got {type(value).__name__}")
