"""The hook implementation rivers finds through the ``rivers`` entry point (kept light: no imports)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rivers.plugins import hookimpl


@hookimpl
def rivers_executors() -> dict[str, Callable[..., Any]]:
    """Contribute the ``threadpool`` executor."""
    from rivers_threadpool_executor.launcher import ThreadPoolStepExecutor

    return {"threadpool": ThreadPoolStepExecutor}
