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
    #: True for executors that place steps on other machines and size them from ``compute=``
    #: (see :func:`rivers.definitions.compute.compute_for_attempt`); the built-ins ignore it
    places_work = False

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
    def parallel(max_workers: int | None = None, max_async_concurrent: int | None = None) -> ParallelExecutor:
        """Run sync steps in worker processes and async steps concurrently on an event loop.

        ``max_workers`` defaults to the number of CPUs available to this
        process; ``max_async_concurrent`` caps concurrent async steps (None:
        no cap).
        """
        return ParallelExecutor(max_workers, max_async_concurrent)

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
        if _parallel_override_plans and id(run.plan) in _parallel_override_plans:
            # some steps asked for rivers/executor: parallel; the others still run here, one at a time
            from rivers.execution.parallel import execute_parallel

            execute_parallel(ParallelExecutor(), run, default_local=True)
            return
        if run.step_pools:
            from rivers.execution.pools import execute_in_process_with_pools

            execute_in_process_with_pools(run)
            return
        for planned in run.plan.steps:
            if run.cancel_requested():
                break
            run.run_here(planned)

    def __repr__(self) -> str:
        return "Executor.InProcess()"


Executor.InProcess = InProcessExecutor  # type: ignore[attr-defined]

#: plans with steps whose metadata says ``rivers/executor: parallel`` (id -> plan), noted when planned
_parallel_override_plans: dict[int, Any] = {}


def note_parallel_overrides(plan: Any) -> None:
    """Remember that ``plan`` has steps that run in worker processes even under the in-process executor."""
    if len(_parallel_override_plans) >= 256:
        _parallel_override_plans.pop(next(iter(_parallel_override_plans)))
    _parallel_override_plans[id(plan)] = plan


def _count(name: str, value: Any, default: int | None) -> int | None:
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int or None, got {type(value).__name__}")
    if value < 0:
        raise OverflowError(f"{name} must not be negative, got {value} (can't convert negative int to unsigned)")
    if value == 0:
        raise ValueError(f"{name} must be at least 1, got 0")
    return value


def available_cpus() -> int:
    """CPUs this process may run on."""
    import os

    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


class ParallelExecutor(Executor):
    """Runs sync steps in a pool of worker processes and async steps on the controller's event loop.

    A step starts as soon as the steps it depends on are done. Steps whose
    values go through the in-memory IO handler (or with metadata
    ``rivers/executor: in_process``) run in the controller process.
    """

    plugin_name = "parallel"

    def __init__(self, max_workers: int | None = None, max_async_concurrent: int | None = None) -> None:
        self.max_workers: int = _count("max_workers", max_workers, None) or available_cpus()
        self.max_async_concurrent: int | None = _count("max_async_concurrent", max_async_concurrent, None)
        #: warn once per run about steps kept in the controller for their in-memory handler
        self._warn_in_memory = True
        # load the scheduler, worker pool and payload code now rather than inside the first run
        import rivers.execution.parallel  # noqa: F401

    def execute(self, run: RunCoordinator) -> None:
        from rivers.execution.parallel import execute_parallel

        execute_parallel(self, run)

    def __repr__(self) -> str:
        return f"Executor.Parallel(max_workers={self.max_workers})"


Executor.Parallel = ParallelExecutor  # type: ignore[attr-defined]
