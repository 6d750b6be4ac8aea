"""The hook implementation rivers finds through the ``rivers`` entry point ``kubernetes``.

Registering costs nothing: neither the executor module nor the
``kubernetes`` client is imported until an executor is created.
"""

from __future__ import annotations

from typing import Any

from rivers.plugins import hookimpl


def _kubernetes(**config: Any) -> Any:
    from rivers_executor_k8s.executor import KubernetesExecutor

    return KubernetesExecutor(**config)


@hookimpl
def rivers_executors() -> dict[str, Any]:
    """``kubernetes`` (alias ``k8s``): :class:`rivers_executor_k8s.KubernetesExecutor`."""
    return {"kubernetes": _kubernetes, "k8s": _kubernetes}


@hookimpl
def rivers_cli_commands() -> dict[str, Any]:
    """``rivers k8s cleanup``: :mod:`rivers_executor_k8s.cli` (the ``kubernetes`` client is imported when it runs)."""
    from rivers_executor_k8s.cli import add_parser

    return {"k8s": add_parser}
