"""The step launcher protocol: *where* a step attempt runs.

The scheduler (:mod:`rivers.execution.scheduler`) decides *when* a step
runs — the ready set, skips, pools, retries with backoff, stop requests,
resume — and hands each attempt to a :class:`StepLauncher`. A launcher
starts the attempt somewhere (this thread, a thread pool, a worker process,
a Kubernetes Job, a Ray task…), and reports exactly one outcome per attempt
through :meth:`LaunchContext.report` — synchronously from :meth:`launch`, or
later from any thread (callback style), or from a file descriptor the
scheduler watches for it (poll style, :meth:`LaunchContext.watch`). An
attempt whose runner disappeared (process killed, pod evicted) is reported
with :meth:`LaunchContext.report_lost`: the scheduler then records the
failure and retries it when the step's policy admits infrastructure
failures.

Launchers never record events, claim pool slots, sleep for backoff or
decide retries: a launcher that runs an attempt remotely builds the
:class:`~rivers.execution.wire.StepRequest` with
:meth:`LaunchContext.request` and turns the runner's
:class:`~rivers.execution.wire.StepReport` back into an outcome with
:func:`rivers.execution.wire.outcome_of`.

Lifecycle, per run: :meth:`StepLauncher.open` (before its first attempt),
:meth:`~StepLauncher.has_room` / :meth:`~StepLauncher.launch` (many times),
:meth:`~StepLauncher.terminate` (on a stop request, for attempts in flight),
:meth:`~StepLauncher.adopt` (on resume, for steps the crashed controller had
started), :meth:`~StepLauncher.close` (always, at the end of the run).
"""

from __future__ import annotations

import abc
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rivers.execution.outcome import StepOutcome
    from rivers.definitions.failures import FailureReason
    from rivers.execution.plan import ExecutionPlan, PlannedStep
    from rivers.execution.step_runner import RunState


class LauncherCapabilities:
    """What a launcher can do; the scheduler routes steps by these.

    * ``process_local_values``: it runs steps in this process, so steps whose
      values live only here (the in-memory IO handler) may use it;
    * ``needs_importable``: the runner is another process or machine, so the
      step's functions, handlers and resources must be importable by
      reference there (or picklable by value);
    * ``runs_async``: it runs ``async def`` steps concurrently (else they go
      to the run's asyncio launcher);
    * ``blocking``: :meth:`StepLauncher.launch` runs the attempt to the end
      before it returns (in the scheduler's thread).
    """

    __slots__ = ("process_local_values", "needs_importable", "runs_async", "blocking")

    def __init__(self, *, process_local_values: bool, needs_importable: bool, runs_async: bool = False,
                 blocking: bool = False) -> None:
        self.process_local_values = process_local_values
        self.needs_importable = needs_importable
        self.runs_async = runs_async
        self.blocking = blocking

    def __repr__(self) -> str:
        flags = ", ".join(f"{name}={getattr(self, name)}" for name in self.__slots__)
        return f"LauncherCapabilities({flags})"


class StepAttempt:
    """One attempt of one planned step, as handed to a launcher.

    ``attempt`` is 1-based; ``announce`` says whether the attempt records the
    step's ``StepStart`` (the first attempt of a step that did not start in an
    earlier, crashed controller). ``handle`` is free for the launcher (its
    worker, future, Job name…).
    """

    __slots__ = ("key", "planned", "attempt", "announce", "launched_ns", "handle", "launcher")

    def __init__(self, planned: PlannedStep, attempt: int, announce: bool) -> None:
        #: the step's key
        self.key: str = planned.key
        self.planned = planned
        self.attempt = attempt
        self.announce = announce
        self.launched_ns = 0
        self.handle: Any = None
        self.launcher: StepLauncher | None = None

    def __repr__(self) -> str:
        return f"StepAttempt({self.key!r}, attempt={self.attempt})"


class LaunchContext(abc.ABC):
    """What the scheduler offers the launchers of one run."""

    #: the run's id
    run_id: str
    #: the run's shared state (config, retry default, partition, data versions)
    state: RunState
    #: the run's plan, read-only: every planned step by key (``plan.by_key``), with its upstream steps
    #: and dependants, for a launcher that runs several steps together (the Kubernetes executor's
    #: ``bundle=``: a chain in one pod). Attempts are still launched one by one, each when it is ready.
    plan: ExecutionPlan

    @abc.abstractmethod
    def report(self, attempt: StepAttempt, outcome: StepOutcome) -> None:
        """The attempt ended with ``outcome``; thread-safe, callable from :meth:`StepLauncher.launch` itself."""

    @abc.abstractmethod
    def report_lost(self, attempt: StepAttempt, error: BaseException, reason: FailureReason | None = None) -> None:
        """The attempt's runner disappeared before reporting (thread-safe); ``error`` says how.

        ``reason`` classifies the loss for the retry policy (default
        ``FailureReason.INFRASTRUCTURE``; e.g. ``OUT_OF_MEMORY`` for a pod
        killed for its memory, ``TIMEOUT`` for a deadline), so that
        ``RetryOn.TRANSIENT`` and ``ComputeEscalation`` apply.
        """

    @abc.abstractmethod
    def watch(self, fd: int, callback: Callable[[], None]) -> None:
        """Call ``callback()`` on the scheduler's thread whenever ``fd`` is readable (or hung up)."""

    @abc.abstractmethod
    def unwatch(self, fd: int) -> None:
        """Stop watching ``fd``."""

    @abc.abstractmethod
    def concurrent_state(self) -> RunState:
        """A run state with its own event-id prefix, for an attempt running beside others in this process."""

    def run_in_this_process(self, attempt: StepAttempt, state: RunState | None = None) -> StepOutcome:
        """Run ``attempt`` in the calling thread and return its outcome (never raises for the step's errors).

        ``state``: a :meth:`concurrent_state` when the attempt runs beside
        others (threads); None uses the run's own state (one attempt at a
        time, in the scheduler's thread).
        """
        return run_here(attempt, self.state if state is None else state)

    @abc.abstractmethod
    def request(self, attempt: StepAttempt, *, runtime_token: int = 0, runtime_blob: bytes | None = None,
                run_token: int = 0, run_blob: bytes | None = None) -> bytes:
        """The wire :class:`~rivers.execution.wire.StepRequest` of ``attempt`` as bytes.

        Without blobs the request is self-contained (the runtime and run
        header are encoded into it); a launcher whose runners cache them
        passes ``None`` blobs with the tokens the runner already knows.
        """


class StepLauncher(abc.ABC):
    """Runs step attempts somewhere and reports their outcomes (see the module docs)."""

    #: short name shown in errors and warnings
    name = "launcher"
    capabilities = LauncherCapabilities(process_local_values=False, needs_importable=True)

    def open(self, context: LaunchContext, expected: int = 0) -> None:
        """Called once per run before the first :meth:`launch` and before the run starts any thread.

        Keep ``context`` to report outcomes (the default stores it as
        ``self.context``). ``expected`` is how many steps of the run the
        scheduler routes here (a sizing hint: e.g. how many workers to start
        while forking is still safe).
        """
        self.context = context

    def has_room(self) -> bool:
        """Whether another attempt may be launched now (the scheduler queues steps otherwise)."""
        return True

    @abc.abstractmethod
    def launch(self, attempt: StepAttempt) -> None:
        """Start ``attempt``; its outcome is reported through the context, exactly once.

        An exception raised here (e.g. the cluster refused the Job) fails
        only this attempt, as an infrastructure failure the step's retry
        policy may retry.
        """

    def terminate(self, attempt: StepAttempt) -> None:
        """Stop an attempt in flight after a stop request; it must not report afterwards.

        The default does nothing (the attempt runs to its end and its report
        is ignored).
        """

    def adopt(self, attempt: StepAttempt) -> bool:
        """On resume: take over ``attempt`` if the crashed controller's runner for it still runs.

        Return True when the launcher will report its outcome (e.g. a
        Kubernetes Job still running for that step), False to have the
        scheduler launch it anew (the default).
        """
        return False

    def close(self) -> None:
        """Release what the run used (workers, threads, loops); called once, whatever happened."""


__all__ = ["LaunchContext", "LauncherCapabilities", "StepAttempt", "StepLauncher"]


def run_here(attempt: StepAttempt, state: RunState) -> StepOutcome:
    """Run ``attempt`` in this thread with ``state``; its outcome (whatever the step raised)."""
    from rivers.execution.step_runner import failed_outcome, run_attempt

    planned = attempt.planned
    try:
        return run_attempt(planned.runtime, state, planned.selected, attempt.attempt, attempt.announce)
    except BaseException as error:  # noqa: BLE001 - run_attempt only lets BaseExceptions through
        return failed_outcome(planned.runtime, state, error, announce=attempt.announce)
