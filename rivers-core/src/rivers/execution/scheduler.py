"""The step scheduler: the one loop that decides *when* each step of a run runs.

:func:`execute_run` drives a :class:`~rivers.execution.coordinator.RunCoordinator`
over its plan. The scheduler owns everything about timing; the launchers
(:mod:`rivers.execution.launcher`) only own *where* an attempt runs:

* **ready set** — a step starts as soon as the planned steps it depends on
  are done (``PlannedStep.upstream_steps``, computed at planning);
* **skips** — a step whose upstream failed is recorded as skipped, never
  launched; independent branches go on;
* **routing** — each step goes to the launcher of its executor (the run's,
  or the one its ``rivers/executor`` metadata names); async steps go to an
  asyncio launcher unless the launcher runs them itself, steps whose values
  live in this process to the executor's local launcher unless the
  launcher runs steps here;
* **capacity** — a launcher without room (all workers busy) gets its steps
  queued in ready order;
* **pools** — a step claims its pool slots before each attempt, waits
  (polling) while a pool is full, fails after the claim timeout, and gives
  the slots back when the attempt ends and during a retry's backoff;
* **retries** — a failed attempt that its policy admits (reported by the
  runner as ``retry``, or an attempt whose runner was lost) gets a
  ``StepRetry`` event and is launched again after its backoff;
* **stop** — :meth:`RunCoordinator.request_stop` (or a cancellation
  recorded in storage) stops launching; a stop request also terminates the
  attempts in flight through their launchers;
* **resume** — steps completed in the crashed run are not run again; a step
  it had started is offered to its launcher for adoption
  (:meth:`StepLauncher.adopt`) before being launched anew, without a second
  ``StepStart``;
* **expansion** — a step with an ``expander`` (the collect step of a
  mapped task, :mod:`rivers.execution.fanout`) learns its work when it
  becomes ready, i.e. when the list it maps over exists: the scheduler adds
  the expansion's instances as ordinary steps (same launcher, retries,
  pools, resume), caps how many run at once (``max_concurrency``), and runs
  the rewired step once they are all done; a failed instance skips it;
* **recording** — every outcome goes through :meth:`RunCoordinator.record`
  on the scheduler's thread, so the coordinator needs no locking.
"""

from __future__ import annotations

import collections
import itertools
import os
import threading
import time
import warnings
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from rivers._registry import registry
from rivers.definitions.failures import FailureReason
from rivers.exceptions import PluginNotFoundError
from rivers.execution.coordinator import StopReason
from rivers.execution.launcher import LaunchContext, StepAttempt, StepLauncher
from rivers.execution.outcome import RETRY, StepOutcome
from rivers.execution.step_runner import (
    PrefixedRunState,
    RunState,
    failed_outcome,
    may_retry,
    new_event_prefix,
    record_failure,
    retry_policy,
    skip_step,
)

if TYPE_CHECKING:  # (protocols only type checkers need: building a Protocol class costs every process's first run)
    import select
    from typing import Protocol

    from rivers.definitions.retry import RetryPolicy
    from rivers.execution.coordinator import RunCoordinator
    from rivers.execution.plan import PlannedExpansion, PlannedStep
    from rivers.execution.pools import RunPoolClaims
    from rivers.execution.runtime import InputLoad
    from rivers.storage.records import StoredEvent

    class Executor(Protocol):
        """An executor as the scheduler uses it: the launchers of a run (:class:`rivers.Executor` is one)."""

        #: the name its plugin registers it under (steps naming it in their metadata use this one)
        plugin_name: str

        def launcher(self) -> StepLauncher:
            """A new launcher for the steps of one run."""

        def local_launcher(self) -> StepLauncher:
            """A new launcher for steps whose values live only in this process."""

        def async_launcher(self) -> StepLauncher:
            """A new launcher for ``async def`` steps."""


def executor_named(name: str, key: str) -> Executor:
    """The registered executor ``name`` named by step ``key``'s metadata (default configuration).

    :raises PluginNotFoundError: naming the step, when no plugin registers ``name``.
    """
    try:
        executor: Executor = registry().create_executor(name)
        return executor
    except PluginNotFoundError as error:
        raise PluginNotFoundError(
            f"Unknown executor in rivers/executor metadata of asset '{key}': '{name}'. {error}"
        ) from None

#: Longest wait between two checks of stop requests, cancellation, backoffs and pool claims.
_TICK_S = 0.5
#: How often (s) the serial loop gives up the GIL between steps. CPython hands a waiting thread the GIL only
#: after ``sys.getswitchinterval()`` (5 ms); the run's event writer and storage threads give it up for
#: every SQLite statement they run, so without a yield each statement would wait that long while quick
#: steps follow one another, and their writes would pile up for the run's end instead of overlapping it.
_YIELD_EVERY_S = 0.0005
_LOST = object()  # inbox marker: the attempt's runner was lost
_MAIN_THREAD = threading.main_thread().ident
#: tie-breaker of delayed attempts due at the same time
_SEQUENCE = itertools.count()
#: launcher sizing hint for a step that expands into instances at run time (their count is not known yet)
_EXPANSION_HINT = 64


class _MappedGroup:
    """The instances of one expansion: their cap on running attempts, and the attempts held back by it."""

    __slots__ = ("expansion", "cap", "running", "held")

    def __init__(self, expansion: PlannedExpansion) -> None:
        self.expansion = expansion
        self.cap = expansion.limit
        self.running = 0
        self.held: collections.deque[StepAttempt] = collections.deque()


class RunEnd:
    """How the scheduling of a run ended.

    ``stopped``: the :class:`StopReason` when the run was stopped (a
    cancellation recorded in storage counts as ``CANCELED``), None when every
    step was run or skipped. ``not_run``: keys of the steps that were never
    launched (nor skipped). ``terminated``: keys of the steps stopped while
    they ran. :meth:`RunCoordinator.finish` records both as ``StepNotRun``.
    """

    __slots__ = ("stopped", "not_run", "terminated")

    def __init__(self, stopped: str | None, not_run: tuple[str, ...], terminated: tuple[str, ...]) -> None:
        self.stopped = stopped
        self.not_run = not_run
        self.terminated = terminated

    def __repr__(self) -> str:
        return f"RunEnd(stopped={self.stopped!r}, not_run={list(self.not_run)}, terminated={list(self.terminated)})"


def execute_run(run: RunCoordinator, executor: Executor) -> RunEnd:
    """Run every step of ``run`` with ``executor``'s launchers; how it ended."""
    return StepScheduler(run, executor).execute()


class StepScheduler(LaunchContext):
    """Schedules one run's steps over the launchers of its executor(s)."""

    # rarely changed: class-level defaults keep a short run's setup cheap
    _serial: StepLauncher | None = None  # the one launcher of a uniform plan whose launcher is blocking
    _local: StepLauncher | None = None
    _async: StepLauncher | None = None
    _poller: select.poll | None = None
    _wake_r = _wake_w = -1
    _stopped: str | None = None
    _claims: RunPoolClaims | None = None
    #: instance key (and expanded step key) -> its group; None until a step expands
    _groups: dict[str, _MappedGroup] | None = None

    def __init__(self, run: RunCoordinator, executor: Executor) -> None:
        self.run = run
        self.state = run.state
        self.run_id = run.run_id
        self.plan = run.plan
        self.executor = executor
        self._thread = threading.get_ident()
        self._inline_here = self._thread == _MAIN_THREAD
        self._steps = self.plan.by_key
        self.remaining = 0
        self.in_flight: dict[str, StepAttempt] = {}
        self._inbox: collections.deque[tuple[StepAttempt, Any]] = collections.deque()
        #: (due, sequence, attempt): retries in backoff and steps waiting for pool slots
        self._delayed: list[tuple[float, int, StepAttempt]] = []
        self._launchers: list[StepLauncher] = []
        self._terminated: list[str] = []
        self._not_run: list[str] = []
        self._watched: dict[int, Callable[[], None]] = {}
        if self.plan.has_pools:
            self._claims = run.pool_claims()

    def _prepare_routing(self) -> None:
        """The structures of concurrent scheduling (not needed when steps go one by one in plan order)."""
        self._waiting: dict[str, int] = {}
        self.ready: collections.deque[str] = collections.deque()
        self._routes: dict[str, StepLauncher] = {}
        self._by_executor: dict[int, StepLauncher] = {}
        self._queues: dict[StepLauncher, collections.deque[StepAttempt]] = {}
        self._other_executors: dict[str, Executor] = {}

    # ------------------------------------------------------------------ main
    def execute(self) -> RunEnd:
        run = self.run
        launcher = self.executor.launcher()
        if self.plan.uniform and launcher.capabilities.blocking:
            # one launcher running steps in this thread: plan order is the ready order
            # (no attach_scheduler: nothing waits on a pipe here, a stop is seen before the next step)
            self._serial = launcher
            self._launchers.append(launcher)
            self.remaining = len(self.plan.steps)
            try:
                launcher.open(self, self.remaining - len(run.completed))
                self._serial_loop()
            finally:
                self._close()
            return RunEnd(self._stopped, tuple(self._not_run), tuple(self._terminated))
        self._prepare_routing()
        completed = run.completed
        waiting = self._waiting
        for planned in self.plan.steps:
            count = len(planned.upstream_steps)
            waiting[planned.key] = count
            if not count:
                self.ready.append(planned.key)
        self.remaining = len(self.plan.steps)
        counts = self._route(completed, launcher)
        run.attach_scheduler(self)
        try:
            for launcher in self._launchers:
                launcher.open(self, counts.get(launcher, 0))
                if not launcher.capabilities.blocking and self._wake_r < 0:
                    self._wake_r, self._wake_w = os.pipe()
                    self._register(self._wake_r)
            self._loop()
        finally:
            run.attach_scheduler(None)
            self._close()
        return RunEnd(self._stopped, tuple(self._not_run), tuple(self._terminated))

    def _serial_loop(self) -> None:
        """Every step on one blocking launcher: launch in plan order, wait out retries' backoffs here."""
        run = self.run
        steps = self.plan.steps
        clock = time.perf_counter
        yield_at = clock() + _YIELD_EVERY_S
        last = len(steps) - 1
        for position, planned in enumerate(steps):
            if run.cancel_requested():
                self._stop_as_requested()
            if self._stopped is not None:
                self._not_run.extend(p.key for p in steps[position:] if p.key not in run.completed)
                return
            self._serial_step(planned.key)
            now = clock()
            # let the run's background writers have the GIL (see _YIELD_EVERY_S); not after the last step: the run
            # ends and waits for them anyway, and a yield to a busy thread can cost up to a switch interval
            if now >= yield_at and position < last:
                time.sleep(0)
                yield_at = now + _YIELD_EVERY_S

    def _serial_step(self, key: str) -> None:
        """Run ``key`` (and its retries, after their backoffs) on the serial launcher."""
        self._begin(key)
        run = self.run
        while self._delayed:  # the step's next attempt, after its backoff
            self._wait()
            if run.cancel_requested():
                self._stop_as_requested()
            self._wake_due()

    def _loop(self) -> None:
        run = self.run
        ready = self.ready
        while self.remaining:
            while ready and self._stopped is None:
                if run.cancel_requested():
                    self._stop_as_requested()
                    break
                self._begin(ready.popleft())
            if self._inbox:
                self._drain()
                continue
            if self._stopped is None and run.cancel_requested():
                self._stop_as_requested()
            if self._stopped is not None and not self.in_flight:
                break
            self._dispatch_queues()
            if not self.in_flight and not self._delayed:
                if ready or self._inbox:
                    continue
                break  # nothing left that can start
            self._wait()
            self._wake_due()

    # ---------------------------------------------------------------- routing
    def _route(self, completed: set[str], main: StepLauncher) -> dict[StepLauncher, int]:
        """Choose every step's launcher (``main``: the run executor's); how many steps each gets."""
        executor = self.executor
        self._by_executor[id(executor)] = self._add(main)
        in_memory: list[str] = []
        routes = self._routes
        for planned in self.plan.steps:
            name = planned.executor
            chosen = executor if name is None or name == executor.plugin_name else self._named(name, planned.key)
            launcher = self._launcher_of(chosen)
            capabilities = launcher.capabilities
            if planned.runtime.is_async and not capabilities.runs_async:
                launcher = self._async_launcher()
            elif planned.process_local and not capabilities.process_local_values:
                launcher = self._local_launcher()
                if name is None and planned.key not in completed:
                    in_memory.append(planned.key)
            routes[planned.key] = launcher
        if len(self._launchers) > 1 and any(not launcher.capabilities.blocking for launcher in self._launchers):
            # a launcher running steps in the scheduler's thread would hold up the others' steps
            local = self._local_launcher()
            if not local.capabilities.blocking:
                for key, launcher in routes.items():
                    if launcher.capabilities.blocking:
                        routes[key] = local
                self._launchers = [launcher for launcher in self._launchers if launcher in routes.values()]
        if in_memory:
            listed = ", ".join(f"'{key}'" for key in in_memory)
            warnings.warn(
                f"{executor!r}: steps {listed} use the in-memory IO handler, which cannot cross processes; "
                "they run in the controller process. Give them a file-backed IO handler "
                "(e.g. rs.io_handler('fs', base_dir=...)) to run them in worker processes, or set "
                "metadata={'rivers/executor': 'in_process'} to silence this warning",
                UserWarning,
                stacklevel=8,
            )
        counts: dict[StepLauncher, int] = collections.Counter()
        steps = self._steps
        for key, launcher in routes.items():
            if key not in completed:
                counts[launcher] += _EXPANSION_HINT if steps[key].expander is not None else 1
        for launcher in self._launchers:
            self._queues[launcher] = collections.deque()
        return counts

    def _named(self, name: str, key: str) -> Executor:
        found = self._other_executors.get(name)
        if found is None:
            found = self._other_executors[name] = executor_named(name, key)
        return found

    def _launcher_of(self, executor: Executor) -> StepLauncher:
        launcher = self._by_executor.get(id(executor))
        if launcher is None:
            launcher = self._by_executor[id(executor)] = self._add(executor.launcher())
        return launcher

    def _local_launcher(self) -> StepLauncher:
        if self._local is None:
            self._local = self._add(self.executor.local_launcher())
        return self._local

    def _async_launcher(self) -> StepLauncher:
        if self._async is None:
            self._async = self._add(self.executor.async_launcher())
        return self._async

    def _add(self, launcher: StepLauncher) -> StepLauncher:
        self._launchers.append(launcher)
        return launcher

    # ---------------------------------------------------------------- starts
    def _begin(self, key: str) -> None:
        """``key`` is ready: skip it, adopt it, or launch its first attempt."""
        run = self.run
        planned = self._steps[key]
        if key in run.completed:
            self._done(key)
            return
        cause = run.upstream_failure(planned) if run.failed_nodes else None
        if cause is not None:
            run.record(skip_step(planned.runtime, self.state, cause))
            self._done(key)
            return
        if planned.expander is not None:
            if not self._expand(planned):  # no instance left to wait for: begin the rewired step
                self._begin(key)
            return
        if self._groups is not None and key in self._groups and self._groups[key].expansion.step is planned:
            planned = self._groups[key].expansion.collect_step()
        started_before = key in run.started_before
        attempt = StepAttempt(planned, 1, not started_before)
        run.step_started(key)
        if started_before:
            launcher = self._serial or self._routes[key]
            attempt.launcher = launcher
            self.in_flight[key] = attempt  # before adopt(): the launcher may report at once
            if launcher.adopt(attempt):
                return
            if self.in_flight.get(key) is attempt:
                del self.in_flight[key]
        self._submit(attempt)

    # ------------------------------------------------------------- expansion
    def _expand(self, planned: PlannedStep) -> bool:
        """Plan the instances of ``planned``; True when they must run before it (it waits for them)."""
        key = planned.key
        try:
            expansion = planned.expander(  # type: ignore[misc]  # (_begin expands steps that have an expander)
                planned, lambda load: self._load_upstream(planned, load))
        except Exception as error:  # noqa: BLE001 - a bad list fails the expanded step, like user code
            self._final(StepAttempt(planned, 1, True), failed_outcome(planned.runtime, self.state, error))
            return True
        if self._steps is self.plan.by_key:
            self._steps = dict(self._steps)  # the plan is shared: this run's steps only
        steps = self._steps
        steps[key] = expansion.step
        if self._groups is None:
            self._groups = {}
        group = self._groups[key] = _MappedGroup(expansion)
        instances = expansion.instances
        self.remaining += len(instances)
        self.run.expanded_steps.extend(instance.key for instance in instances)
        for instance in instances:
            instance.dependants = (key,)
            steps[instance.key] = instance
            self._groups[instance.key] = group
        if not instances:
            return False
        if self._serial is not None:
            run = self.run
            for position, instance in enumerate(instances):
                if self._stopped is None and run.cancel_requested():
                    self._stop_as_requested()
                if self._stopped is not None:
                    self._not_run.extend(i.key for i in instances[position:] if i.key not in self.run.completed)
                    self.remaining -= len(instances) - position
                    self._not_run.append(key)
                    return True  # the expanded step is recorded as not run by the serial loop
                self._serial_step(instance.key)
            return False
        route = self._routes[key]
        self._waiting[key] = len(instances)
        for instance in instances:
            self._routes[instance.key] = route
            self.ready.append(instance.key)
        return True

    def _load_upstream(self, planned: PlannedStep, load: InputLoad) -> Any:
        """An upstream value the expander of ``planned`` needs, loaded here through its handler."""
        from rivers.context import InputContext
        from rivers.execution.partition_scope import input_partition, step_partition

        runtime = planned.runtime
        state = self.state
        partition = step_partition(runtime, state) if state.partition is not None else None
        upstream = None if load.upstream_def is None and load.mapping is None else \
            input_partition(load, runtime, state, partition)
        return load.handler.load_input(InputContext(load.upstream, runtime.key, load.metadata, upstream,
                                                    load.type_hint))

    def _left(self, attempt: StepAttempt) -> None:
        """An attempt of a mapped instance stopped running: let a held one of its group start."""
        group = self._groups.get(attempt.key) if self._groups is not None else None
        if group is None or group.cap is None or group.expansion.step is attempt.planned:
            return
        group.running -= 1
        if group.held:
            _heappush(self._delayed, (0.0, next(_SEQUENCE), group.held.popleft()))

    def _submit(self, attempt: StepAttempt) -> None:
        if self._stopped is not None:
            self._not_run.append(attempt.key)
            return
        if self._groups is not None:
            group = self._groups.get(attempt.key)
            if group is not None and group.cap is not None and group.expansion.step is not attempt.planned:
                if group.running >= group.cap:
                    group.held.append(attempt)
                    return
                group.running += 1
        launcher = self._serial
        if launcher is None:
            launcher = self._routes[attempt.key]
            queue = self._queues[launcher]
            if queue or not launcher.has_room():
                queue.append(attempt)
                return
        self._launch(attempt, launcher)

    def _launch(self, attempt: StepAttempt, launcher: StepLauncher) -> None:
        if attempt.planned.pools and not self._claimed(attempt):
            return
        attempt.launcher = launcher
        attempt.launched_ns = time.time_ns()
        self.in_flight[attempt.key] = attempt
        try:
            if self._inline_here and launcher.capabilities.blocking:
                run = self.run
                run.inline_step = attempt.key  # a signal handler may interrupt it (see RunCoordinator.inline_step)
                try:
                    launcher.launch(attempt)
                finally:
                    run.inline_step = None
            else:
                launcher.launch(attempt)
        except Exception as error:  # noqa: BLE001 - a launcher that cannot start a step fails only that step
            if self.in_flight.get(attempt.key) is attempt:
                self._lost(attempt, error, FailureReason.INFRASTRUCTURE)

    def _dispatch_queues(self) -> None:
        for launcher, queue in self._queues.items():
            while queue and self._stopped is None and launcher.has_room():
                self._launch(queue.popleft(), launcher)

    # ------------------------------------------------------------------ pools
    def _claimed(self, attempt: StepAttempt) -> bool:
        """Whether the attempt holds its pool slots now (else it waits, or failed after the timeout)."""
        from rivers.execution.pools import claim_timed_out, claim_timeout, poll_interval

        claims: RunPoolClaims = self._claims  # type: ignore[assignment]  # (a plan with pools has its claims)
        key = attempt.key
        if claims.holds(key):
            return True
        pools = list(attempt.planned.pools)
        status = claims.try_claim(key, pools)
        if status.is_claimed:
            return True
        waited = claims.waited(key)
        if waited >= claim_timeout():
            claims.abandon(key)
            error = claim_timed_out(key, pools, waited, status.reason)
            self._final(attempt, failed_outcome(attempt.planned.runtime, self.state, error, announce=attempt.announce))
            return False
        _heappush(self._delayed, (time.monotonic() + poll_interval(), next(_SEQUENCE), attempt))
        return False

    def _release(self, key: str) -> None:
        if self._claims is not None:
            self._claims.release(key)

    # --------------------------------------------------------------- reports
    def report(self, attempt: StepAttempt, outcome: StepOutcome) -> None:
        if threading.get_ident() == self._thread:
            self._finish(attempt, outcome)
        else:
            self._inbox.append((attempt, outcome))
            self._wake()

    def report_lost(self, attempt: StepAttempt, error: BaseException, reason: FailureReason | None = None) -> None:
        reason = reason or FailureReason.INFRASTRUCTURE
        if threading.get_ident() == self._thread:
            self._lost(attempt, error, reason)
        else:
            self._inbox.append((attempt, (_LOST, error, reason)))
            self._wake()

    def _drain(self) -> None:
        inbox = self._inbox
        while inbox:
            attempt, outcome = inbox.popleft()
            if type(outcome) is tuple and outcome[0] is _LOST:
                self._lost(attempt, outcome[1], outcome[2])
            else:
                self._finish(attempt, outcome)

    def _finish(self, attempt: StepAttempt, outcome: StepOutcome) -> None:
        if self.in_flight.get(attempt.key) is not attempt:
            return  # terminated after a stop request: its report comes too late
        del self.in_flight[attempt.key]
        if self._groups is not None:
            self._left(attempt)
        if outcome.status == RETRY:
            self._retry(attempt, outcome.error, outcome.reason, outcome)  # type: ignore[arg-type]  # (RETRY has one)
            return
        self._final(attempt, outcome)

    def _final(self, attempt: StepAttempt, outcome: StepOutcome) -> None:
        key = attempt.key
        self.run.record(outcome)
        if attempt.planned.pools:
            self._release(key)
        self._done(key)

    def _lost(self, attempt: StepAttempt, error: BaseException, reason: FailureReason) -> None:
        """The runner of ``attempt`` disappeared (infrastructure, memory, deadline): retried if the policy admits it."""
        key = attempt.key
        if self.in_flight.get(key) is not attempt:
            return
        del self.in_flight[key]
        if self._groups is not None:
            self._left(attempt)
        runtime = attempt.planned.runtime
        if may_retry(runtime, retry_policy(runtime, self.state.retry_default), attempt.attempt, error, reason):
            self._retry(attempt, error, reason, None)
            return
        outcome = StepOutcome(key)
        if attempt.announce:
            outcome.events.append(self._start_event(attempt))
        record_failure(runtime, self.state, outcome, error, reason)
        self._final(attempt, outcome)

    def _start_event(self, attempt: StepAttempt) -> StoredEvent:
        """The ``StepStart`` of an attempt whose runner never reported (stamped with its launch time)."""
        return self.state.event("StepStart", attempt.key)._replace(timestamp=attempt.launched_ns or time.time_ns())

    def _retry(self, attempt: StepAttempt, error: BaseException | None, reason: FailureReason,
               outcome: StepOutcome | None) -> None:
        """Record the failed attempt and its ``StepRetry``; launch the next attempt after the backoff."""
        runtime = attempt.planned.runtime
        key = attempt.key
        policy: RetryPolicy = retry_policy(runtime, self.state.retry_default)  # type: ignore[assignment]  # (retried)
        delay = policy.delay(attempt.attempt)
        events = list(outcome.events) if outcome is not None else []
        logs = list(outcome.logs) if outcome is not None else []
        if outcome is None and attempt.announce:
            events.append(self._start_event(attempt))
        events.append(self.state.event("StepRetry", key, metadata=[
            ("rivers/attempt", str(attempt.attempt)),
            ("rivers/failure_reason", reason.value),
            ("rivers/next_delay_ms", str(int(delay * 1000))),
        ]))
        self.run.record_attempt(events, logs)
        if attempt.planned.pools:
            self._release(key)  # nobody waits on our slots while we back off
        following = StepAttempt(attempt.planned, attempt.attempt + 1, False)
        _heappush(self._delayed, (time.monotonic() + delay, next(_SEQUENCE), following))

    def _done(self, key: str) -> None:
        self.remaining -= 1
        if self._groups is not None:
            group = self._groups.get(key)
            if group is not None and group.expansion.step.key != key:
                group.expansion.completed_order.append(key)
        if self._serial is not None:
            return  # plan order: nothing waits on counts
        waiting = self._waiting
        for dependant in self._steps[key].dependants:
            count = waiting[dependant] - 1
            waiting[dependant] = count
            if not count:
                self.ready.append(dependant)

    # ------------------------------------------------------------------ stop
    def _stop_as_requested(self) -> None:
        """The run was asked to stop (``cancel_requested()``): stop for its reason (canceled when it gave none)."""
        self._stop(self.run.stop_reason or StopReason.CANCELED)

    def _stop(self, reason: str) -> None:
        """Launch nothing more; unless the run was only canceled, also terminate the attempts in flight."""
        self._stopped = reason
        if self._serial is None:
            for queue in self._queues.values():
                self._not_run.extend(attempt.key for attempt in queue)
                queue.clear()
            self._not_run.extend(self.ready)
            self.ready.clear()
        for group in (self._groups or {}).values():
            self._not_run.extend(attempt.key for attempt in group.held)
            group.held.clear()
        for _, _, attempt in self._delayed:
            self._not_run.append(attempt.key)
            if self._claims is not None:
                self._claims.abandon(attempt.key)
        self._delayed.clear()
        if reason == StopReason.CANCELED:
            return  # cooperative cancellation: steps in flight finish
        for key, attempt in list(self.in_flight.items()):
            launcher = attempt.launcher
            if launcher is not None:
                launcher.terminate(attempt)
            del self.in_flight[key]
            self._terminated.append(key)
            if attempt.planned.pools:
                self._release(key)

    def wake(self) -> None:
        """Interrupt the scheduler's wait (safe from signal handlers and other threads)."""
        self._wake()

    def _wake(self) -> None:
        if self._wake_w >= 0:
            try:
                os.write(self._wake_w, b"x")
            except OSError:  # pragma: no cover - the pipe is full: the scheduler wakes anyway
                pass

    # ------------------------------------------------------------------ wait
    def watch(self, fd: int, callback: Callable[[], None]) -> None:
        self._watched[fd] = callback
        self._register(fd)

    def unwatch(self, fd: int) -> None:
        if self._watched.pop(fd, None) is not None:
            try:
                self._poller.unregister(fd)  # type: ignore[union-attr]  # (watch() registered fd with the poller)
            except (KeyError, ValueError):
                pass

    def _register(self, fd: int) -> None:
        import select  # only runs with a launcher reporting through a pipe wait on one

        if self._poller is None:
            self._poller = select.poll()
        self._poller.register(fd, select.POLLIN)

    def _wait(self) -> None:
        timeout = _TICK_S
        if self._delayed:
            timeout = min(timeout, max(self._delayed[0][0] - time.monotonic(), 0.0))
        if self._poller is None:
            time.sleep(timeout)
            return
        for fd, _ in self._poller.poll(timeout * 1000):
            if fd == self._wake_r:
                os.read(self._wake_r, 4096)
                continue
            callback = self._watched.get(fd)
            if callback is not None:
                callback()

    def _wake_due(self) -> None:
        delayed = self._delayed
        if not delayed:
            return
        now = time.monotonic()
        while delayed and delayed[0][0] <= now:
            _, _, attempt = _heappop(delayed)
            self._submit(attempt)

    # ------------------------------------------------------- launch context
    def concurrent_state(self) -> RunState:
        return PrefixedRunState.derive(self.state, new_event_prefix(self.run_id))

    def request(self, attempt: StepAttempt, *, runtime_token: int = 0, runtime_blob: bytes | None = None,
                run_token: int = 0, run_blob: bytes | None = None) -> bytes:
        from rivers.execution.wire import step_request

        return step_request(attempt.planned, self.state, attempt.attempt, attempt.announce,
                            runtime_token=runtime_token, runtime_blob=runtime_blob, run_token=run_token,
                            run_blob=run_blob).encode()

    # --------------------------------------------------------------- cleanup
    def _close(self) -> None:
        error: BaseException | None = None
        routed = self._serial is None  # a concurrent run: _prepare_routing made its structures
        for key, attempt in list(self.in_flight.items()):
            # an error in the scheduler (or KeyboardInterrupt) left attempts running: stop them
            if attempt.launcher is not None:
                try:
                    attempt.launcher.terminate(attempt)
                except Exception as raised:  # noqa: BLE001 - closing the launchers matters more
                    error = error or raised
        for launcher in self._launchers:
            try:
                launcher.close()
            except Exception as raised:  # noqa: BLE001 - every launcher gets closed; the first error is raised
                error = error or raised
        if self._inbox:
            self._drain_late_reports()
        if self._wake_r >= 0:
            os.close(self._wake_r)
            os.close(self._wake_w)
            self._wake_r = self._wake_w = -1
        # launchers point back at the scheduler (their context): drop our side, so that the run's objects are
        # freed by reference counting when the run ends instead of waiting for the cycle collector
        self._launchers = []
        self._serial = self._local = self._async = None
        if self._watched:
            self._watched = {}
        if routed:
            self._routes = {}
            self._by_executor = {}
            self._queues = {}
        if error is not None:
            raise error

    def _drain_late_reports(self) -> None:
        """Outcomes reported while the launchers closed (an aborted run): record them, launch nothing."""
        inbox = self._inbox
        while inbox:
            attempt, outcome = inbox.popleft()
            if self.in_flight.pop(attempt.key, None) is attempt and not (type(outcome) is tuple):
                if outcome.status != RETRY:
                    self.run.record(outcome)


__all__ = ["RunEnd", "StepScheduler", "StopReason", "execute_run"]


def _heappush(heap: list[tuple[float, int, StepAttempt]], item: tuple[float, int, StepAttempt]) -> None:
    """``heapq.heappush``, imported on first use: most runs never delay a step."""
    import heapq

    heapq.heappush(heap, item)


def _heappop(heap: list[tuple[float, int, StepAttempt]]) -> tuple[float, int, StepAttempt]:
    """``heapq.heappop``, imported on first use."""
    import heapq

    return heapq.heappop(heap)
