"""Tasks: units of work composed inside graph assets, or run standalone."""

from __future__ import annotations

import inspect
from typing import TYPE_CHECKING, Any, Callable

from rivers.definitions.composition import MappableNode, active_composition
from rivers.definitions.options import (
    FunctionDefinition,
    check_io_handler,
    check_partitions_def,
    check_retry,
    check_tags,
)
from rivers.definitions.signature import FunctionSignature, signature_of
from rivers.exceptions import AssetDefinitionError, TaskDefinitionError

if TYPE_CHECKING:
    from rivers.definitions.asset_def import PartitionMappingTable
    from rivers.definitions.retry import RetryPolicy
    from rivers.io_handlers.base import BaseIOHandler
    from rivers.partitions.base import PartitionsDefinition


class Task(MappableNode, FunctionDefinition):
    """A function usable as a step inside ``Asset.from_graph`` bodies.

    Outside a graph body, calling the task runs the function directly; inside
    one, the call is recorded and becomes the step ``<graph>/<task>``.
    """

    def __init__(
        self,
        wraps: Callable[..., Any] | None = None,
        name: str | None = None,
        tags: list[str] | None = None,
        partitions_def: PartitionsDefinition | str | None = None,
        partition_mapping: PartitionMappingTable | None = None,
        io_handler: BaseIOHandler | str | None = None,
        retry: RetryPolicy | str | None = None,
    ) -> None:
        self._name = name
        self.tags = check_tags(tags, f"Task {name!r}")
        self.partitions_def = check_partitions_def(partitions_def)
        self.partition_mapping = partition_mapping
        self._io_handler = check_io_handler(io_handler)
        self.retry = check_retry(retry)
        self._fn: Callable[..., Any] | None = None
        self._signature: FunctionSignature | None = None
        if wraps is not None:
            self._bind(wraps)

    def _bind(self, fn: Callable[..., Any]) -> None:
        if not callable(fn):
            raise AssetDefinitionError("Non callable function provided as input")
        self._fn = fn
        self._signature = signature_of(fn)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if self._fn is None:
            if len(args) == 1 and not kwargs and callable(args[0]):
                self._bind(args[0])
                return self
            raise TaskDefinitionError(f"Task {self._name!r} is not bound to a function")
        composition = active_composition()
        if composition is not None:
            return composition.record_task(self, args, kwargs)
        return self._fn(*args, **kwargs)

    @property
    def name(self) -> str:
        """``name=`` if given, else the function's name."""
        if self._name is not None:
            return self._name
        if self._fn is None:
            raise TaskDefinitionError("Task has no name: pass name=... or decorate a function")
        return self._fn.__name__

    @property
    def io_handler(self) -> BaseIOHandler | None:
        """The task's own handler instance, if any."""
        return None if isinstance(self._io_handler, str) else self._io_handler

    @property
    def is_async(self) -> bool:
        """The wrapped function is ``async def``."""
        return self._fn is not None and inspect.iscoroutinefunction(self._fn)

    def __repr__(self) -> str:
        return f"Task(name={self.name!r})"


class BashTask(Task):
    """A task that runs a shell command and returns its standard output."""

    def __init__(
        self,
        name: str,
        command: str | list[str],
        env: dict[str, str] | None = None,
        cwd: str | None = None,
        tags: list[str] | None = None,
        partition_mapping: PartitionMappingTable | None = None,
        io_handler: BaseIOHandler | str | None = None,
        retry: RetryPolicy | str | None = None,
    ) -> None:
        if isinstance(command, list):
            if not command:
                raise TaskDefinitionError("command list must not be empty")
            if not all(isinstance(part, str) for part in command):
                raise TypeError("command must be a str or list of str")
        elif not isinstance(command, str):
            raise TypeError(f"command must be a str or list of str, got {type(command).__name__}")
        super().__init__(self._run, name=name, tags=tags, partition_mapping=partition_mapping,
                         io_handler=io_handler, retry=retry)
        self.command = command
        self.env = env
        self.cwd = cwd

    def _run(self) -> str:
        import os
        import subprocess

        environment = {**os.environ, **(self.env or {})}
        completed = subprocess.run(
            self.command,
            shell=isinstance(self.command, str),
            cwd=self.cwd,
            env=environment,
            capture_output=True,
            text=True,
        )
        if completed.returncode != 0:
            raise OSError(f"Command failed with exit status: {completed.returncode}: {completed.stderr.strip()}")
        return completed.stdout.removesuffix("\n")

    def __repr__(self) -> str:
        return f"BashTask(name={self.name!r})"
