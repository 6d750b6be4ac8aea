"""Executors: named launcher configurations.

An executor says *where* a run's steps go — which
:class:`~rivers.execution.launcher.StepLauncher` runs them — while the one
scheduler (:mod:`rivers.execution.scheduler`) decides *when*. Executors are
plugins: core registers ``in_process`` and ``parallel`` through the
``rivers_executors`` hook like any third party would, and
``Executor.from_plugin(name, **config)`` as well as the per-step
``rivers/executor`` / ``rivers/node/executor`` metadata look one up by name.

A plugin executor subclasses :class:`Executor` and implements
:meth:`Executor.launcher`; it may also choose the launchers for steps whose
values must stay in this process (:meth:`Executor.local_launcher`) and for
``async def`` steps (:meth:`Executor.async_launcher`).
"""

from __future__ import annotations

import abc
import functools
from typing import TYPE_CHECKING, Any

from rivers._registry import registry
from rivers.exceptions import PluginNotFoundError

if TYPE_CHECKING:
    from rivers.execution.coordinator import RunCoordinator
    from rivers.execution.launcher import StepLauncher
    from rivers.execution.local_launchers import InlineLauncher
    from rivers.execution.scheduler import RunEnd, StepScheduler


class Executor(abc.ABC):
    """How a run's steps are executed. Create one with a factory, e.g. ``Executor.in_process()``."""

    #: name under which the executor's plugin registers it
    plugin_name = ""
    #: True for executors that place steps on other machines and size them from ``compute=``
    #: (see :func:`rivers.definitions.compute.compute_for_attempt`); the built-ins ignore it
    places_work = False

    def __new__(cls, *args: object, **kwargs: object) -> Executor:
        if cls is Executor:
            raise TypeError("cannot create 'Executor' instances: use Executor.in_process() or Executor.from_plugin()")
        return super().__new__(cls)

    @abc.abstractmethod
    def launcher(self) -> StepLauncher:
        """A new launcher for the steps of one run (called once per run)."""

    def local_launcher(self) -> StepLauncher:
        """A new launcher for steps whose values live only in this process (the in-memory IO handler).

        Used when :meth:`launcher`'s launcher cannot run them
        (``capabilities.process_local_values`` is False). Default: inline.
        """
        return _inline_launcher()()

    def async_launcher(self) -> StepLauncher:
        """A new launcher for ``async def`` steps when :meth:`launcher`'s does not run them concurrently."""
        from rivers.execution.local_launchers import AsyncLauncher

        return AsyncLauncher(getattr(self, "max_async_concurrent", None))

    def execute(self, run: RunCoordinator) -> RunEnd:
        """Run every step of ``run`` (the scheduler with this executor's launchers)."""
        return _step_scheduler()(run, self).execute()

    @staticmethod
    def in_process() -> InProcessExecutor:
        """Run steps one after another in the calling process (async steps concurrently on one loop)."""
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
        executor: Executor = registry().create_executor(name, **config)
        return executor

    @staticmethod
    def kubernetes(worker_image: str | None = None, **config: Any) -> Executor:
        """Run every step as a Kubernetes Job (needs the ``rivers-executor-k8s`` plugin)."""
        return Executor.from_plugin("kubernetes", worker_image=worker_image, **config)



def check_executor_name(name: object, metadata_key: str, step: str) -> None:
    """At planning: ``name`` (from ``metadata_key`` of ``step``) must be a registered executor."""
    available = registry().component_names("executor")
    if isinstance(name, str) and name in available:
        return
    raise PluginNotFoundError(
        f"Unknown executor in {metadata_key} metadata of asset '{step}': {name!r}. Valid values: "
        + ", ".join(repr(n) for n in available) + " (executors registered through the rivers_executors hook)"
    )


class InProcessExecutor(Executor):
    """Runs steps serially in topological order in the calling thread; async steps concurrently on one loop."""

    plugin_name = "in_process"

    def launcher(self) -> StepLauncher:
        return _inline_launcher()()

    def __repr__(self) -> str:
        return "Executor.InProcess()"


Executor.InProcess = InProcessExecutor  # type: ignore[attr-defined]


def _count(name: str, value: object, default: int | None) -> int | None:
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
    ``rivers/executor: in_process``) run in the controller process, one at a
    time on a controller thread.
    """

    plugin_name = "parallel"

    def __init__(self, max_workers: int | None = None, max_async_concurrent: int | None = None) -> None:
        self.max_workers: int = _count("max_workers", max_workers, None) or available_cpus()
        self.max_async_concurrent: int | None = _count("max_async_concurrent", max_async_concurrent, None)

    def launcher(self) -> StepLauncher:
        from rivers.execution.process_launcher import ProcessLauncher

        return ProcessLauncher(self.max_workers)

    def local_launcher(self) -> StepLauncher:
        from rivers.execution.local_launchers import ThreadLauncher

        return ThreadLauncher(1)

    def __repr__(self) -> str:
        return f"Executor.Parallel(max_workers={self.max_workers}, max_async_concurrent={self.max_async_concurrent})"


Executor.Parallel = ParallelExecutor  # type: ignore[attr-defined]


# The engine and the inline launcher load when a run starts (not at ``import rivers``), and are kept: an
# import statement costs about 0.5 us each time it runs, and these run once per run.
@functools.cache
def _step_scheduler() -> type[StepScheduler]:
    from rivers.execution.scheduler import StepScheduler

    return StepScheduler


@functools.cache
def _inline_launcher() -> type[InlineLauncher]:
    from rivers.execution.local_launchers import InlineLauncher

    return InlineLauncher
