"""Which steps may run in a pod: values must cross machines through their IO handlers."""

from __future__ import annotations

from typing import Any

from rivers.exceptions import ConfigurationError


def _handlers(runtime: Any) -> list[Any]:
    handlers = [load.handler for load in runtime.inputs]
    handlers.extend(write.handler for write in runtime.outputs.values())
    if runtime.self_handler is not None:
        handlers.append(runtime.self_handler)
    return handlers


def _describe(handler: Any) -> str:
    name = getattr(handler, "name", None) or getattr(handler, "plugin_name", None)
    return f"'{name}' ({type(handler).__name__})" if isinstance(name, str) else type(handler).__name__


def refuse_process_local(plan: Any, executor_name: str, aliases: tuple[str, ...] = ("k8s",)) -> None:
    """Raise before any pod starts when a step for this executor keeps values only in this process.

    :raises ConfigurationError: naming the asset, its handler and the handlers to use instead.
    """
    from rivers.repository_state import keeps_values_in_process

    names = (None, executor_name, *aliases)
    for planned in plan.steps:
        if not planned.process_local or planned.executor not in names:
            continue
        handler = next((h for h in _handlers(planned.runtime) if keeps_values_in_process(h)), None)
        raise ConfigurationError(
            f"Asset '{planned.key}' cannot run in a Kubernetes pod: its IO handler "
            f"{_describe(handler)} keeps values in the controller's memory, which pods cannot reach. "
            "Give it a handler that pods share, e.g. io_handler=rs.io_handler('s3', bucket=...) or "
            "rs.io_handler('fs', base_dir=...) on a volume mounted in every pod (volumes=/volume_mounts=), "
            "or pin the step to the controller with metadata={'rivers/executor': 'in_process'}"
        )
