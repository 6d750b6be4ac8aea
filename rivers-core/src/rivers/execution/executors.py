"""Executors decide where and when steps run; the built-in one runs them in-process.

Executors are plugins: core registers ``in_process`` through the
``rivers_executors`` hook like any third party would, and
``Executor.from_plugin(name, **config)`` looks one up by name.
"""

from __future__ import annotations

import abc
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rivers.execution.coordinator import RunCoordinator


class Executor(abc.ABC):
    """How a run's steps are executed. Create one with a factory, e.g. ``Executor.in_process()``.

    A plugin executor subclasses it and implements :meth:`execute`, driving
    the :class:`~rivers.execution.coordinator.RunCoordinator` it is given.
    """

    #: name under which the executor's plugin registers it
    plugin_name = ""

    def __new__(cls, *args: Any, **kwargs: Any) -> Executor:
        if cls is Executor:
            raise TypeError("cannot create 'Executor' instances: use Executor.in_process() or Executor.from_plugin()")
        return super().__new__(cls)

    @abc.abstractmethod
    def execute(self, run: RunCoordinator) -> None:
        """Run every step of ``run`` (skipping those whose upstream failed)."""

    @staticmethod
    def in_process() -> InProcessExecutor:
        """Run steps one after another in the calling process."""
        return InProcessExecutor()

    @staticmethod
    def from_plugin(name: str, **config: Any) -> Executor:
        """The executor a plugin registered under ``name``, configured with ``config``."""
        from rivers.plugins import create_executor

        return create_executor(name, **config)

    @staticmethod
    def kubernetes(worker_image: str | None = None, **config: Any) -> Executor:
        """Run every step as a Kubernetes Job (needs the ``rivers-executor-k8s`` plugin)."""
        return Executor.from_plugin("kubernetes", worker_image=worker_image, **config)


class InProcessExecutor(Executor):
    """Runs steps serially in topological order in the calling process."""

    plugin_name = "in_process"

    def execute(self, run: RunCoordinator) -> None:
        for planned in run.plan.steps:
            if run.cancel_requested():
                break
            run.run_here(planned)

    def __repr__(self) -> str:
        return "Executor.InProcess()"


Executor.InProcess = InProcessExecutor  # type: ignore[attr-defined]
