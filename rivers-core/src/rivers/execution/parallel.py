"""The parallel executor's scheduler: worker processes for sync steps, an event loop for async ones.

Each step starts as soon as the steps it depends on are done. Where it runs:

* **worker** — a sync step whose IO handlers can cross processes runs in a
  leased worker process (:mod:`rivers.execution.worker_pool`); it loads its
  inputs and writes its outputs there, only events come back;
* **async** — ``async def`` steps run concurrently on one event loop of the
  controller (at most ``max_async_concurrent`` at a time);
* **local** — sync steps that must stay in the controller (in-memory IO
  handler, ``rivers/executor: in_process`` metadata) run one at a time on a
  controller thread.

The scheduler thread is the only one that records outcomes
(:meth:`RunCoordinator.record`), so the coordinator needs no locking.
"""

from __future__ import annotations

import collections
import os
import pickle
import queue
import select
import threading
import time
import warnings
from typing import TYPE_CHECKING, Any

from rivers.execution import payload as _payload
from rivers.execution.outcome import StepOutcome
from rivers.execution.step_runner import run_step, skip_step
from rivers.execution.worker_pool import Worker, WorkerLostError, get_pool
from rivers.graph.model import GRAPH_TASK
from rivers.io_handlers.memory import InMemoryIOHandler

if TYPE_CHECKING:
    from rivers.execution.coordinator import RunCoordinator
    from rivers.execution.executors import ParallelExecutor
    from rivers.execution.plan import PlannedStep

WORKER = "worker"
LOCAL = "local"
ASYNC = "async"

#: How long the scheduler sleeps at most between checks of cancellation and pool claims.
_TICK_S = 0.5


def execute_parallel(executor: ParallelExecutor, run: RunCoordinator, *, default_local: bool = False) -> None:
    """Execute ``run`` with ``executor``'s limits (in-process when already inside a worker).

    ``default_local``: the in-process executor with some steps overridden to
    ``parallel`` — only those go to workers.
    """
    if _payload.IN_WORKER:
        from rivers.execution.executors import InProcessExecutor

        if default_local:
            for planned in run.plan.steps:
                if run.cancel_requested():
                    break
                run.run_here(planned)
        else:
            InProcessExecutor().execute(run)
        return
    _ParallelRun(executor, run, default_local=default_local).execute()


def executor_override(runtime: Any) -> str | None:
    """``rivers/executor`` metadata of the step (graph-internal tasks read ``rivers/node/executor`` first)."""
    metadata = runtime.spec.metadata
    if not metadata:
        return None
    if runtime.kind == GRAPH_TASK:
        value = metadata.get("rivers/node/executor")
        if value is not None:
            return value
    return metadata.get("rivers/executor")


def uses_memory_handler(runtime: Any) -> bool:
    """Whether the step reads or writes a value through an in-memory handler."""
    handlers = [load.handler for load in runtime.inputs]
    handlers.extend(write.handler for write in runtime.outputs.values())
    if runtime.self_handler is not None:
        handlers.append(runtime.self_handler)
    return any(isinstance(handler, InMemoryIOHandler) for handler in handlers)


def placement(runtime: Any, default_local: bool = False) -> str:
    """Where a step runs: ``worker``, ``local`` or ``async``.

    Under the parallel executor sync steps go to workers unless they use the
    in-memory handler or say ``rivers/executor: in_process``; with
    ``default_local`` (the in-process executor) only steps saying
    ``rivers/executor: parallel`` leave the controller.
    """
    override = executor_override(runtime)
    if default_local and override != "parallel":
        return LOCAL
    if runtime.is_async:
        return ASYNC
    if override == "in_process" or uses_memory_handler(runtime):
        return LOCAL
    return WORKER


# --------------------------------------------------------------------------
# Shared per-process caches of encoded runtimes
# --------------------------------------------------------------------------

_runtime_tokens: dict[int, tuple[Any, int, bytes | Exception, int]] = {}
_token_lock = threading.Lock()
_next_token = [0]
_run_tokens = [0]
_MAX_CACHED = 8192


def _encoded_runtime(runtime: Any, run_token: int) -> tuple[int, bytes | Exception]:
    """A process-unique token for ``runtime`` and its bytes (or why it cannot be sent).

    Encoded once per process; runtimes with notebook functions sent by value
    once per run (a cell may have redefined them since).
    """
    entry = _runtime_tokens.get(id(runtime))
    if entry is not None and entry[0] is runtime and entry[3] in (0, run_token):
        return entry[1], entry[2]
    volatile = False
    try:
        blob, volatile = _payload.encode_runtime(runtime)
    except Exception as error:  # noqa: BLE001 - recorded as the step's failure
        blob = error
    with _token_lock:
        _next_token[0] += 1
        token = _next_token[0]
        if len(_runtime_tokens) >= _MAX_CACHED:
            _runtime_tokens.pop(next(iter(_runtime_tokens)))
        _runtime_tokens[id(runtime)] = (runtime, token, blob, run_token if volatile else 0)
    return token, blob


class _LoopThread:
    """An event loop on its own thread; steps' coroutines are submitted to it from step threads."""

    def __init__(self) -> None:
        import asyncio

        self._asyncio = asyncio
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="rivers-async-steps", daemon=True)
        self._thread.start()

    def run(self, awaitable: Any) -> Any:
        """Called by :meth:`RunState.run_coroutine` on a step thread: await on the shared loop."""

        async def wrapper() -> Any:
            return await awaitable

        return self._asyncio.run_coroutine_threadsafe(wrapper(), self.loop).result()

    run_until_complete = run

    def close(self) -> None:
        """Per-step states call this; the loop itself is stopped by :meth:`stop`."""

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join()
        self.loop.run_until_complete(self.loop.shutdown_asyncgens())
        self.loop.close()


class _InFlight:
    """A step running in a worker."""

    __slots__ = ("planned", "retries_used", "dispatched_ns")

    def __init__(self, planned: PlannedStep, retries_used: int) -> None:
        self.planned = planned
        self.retries_used = retries_used
        self.dispatched_ns = time.time_ns()


class _ParallelRun:
    """Schedules one run's steps over workers, the controller thread and the event loop."""

    def __init__(self, executor: ParallelExecutor, run: RunCoordinator, *, default_local: bool = False) -> None:
        self.executor = executor
        self.default_local = default_local
        self.run = run
        self.state = run.state
        self.max_workers = executor.max_workers
        self.max_async = executor.max_async_concurrent
        steps = run.plan.steps
        self.steps = {planned.key: planned for planned in steps}
        self.placement = {planned.key: placement(planned.runtime, default_local) for planned in steps}
        producer = {}
        for planned in steps:
            for node in planned.runtime.node_names:
                producer[node] = planned.key
        self.waiting_on: dict[str, int] = {}
        self.dependants: dict[str, list[str]] = collections.defaultdict(list)
        for planned in steps:
            upstream = {producer[n] for n in planned.runtime.upstream_nodes if n in producer} - {planned.key}
            self.waiting_on[planned.key] = len(upstream)
            for key in upstream:
                self.dependants[key].append(planned.key)
        self.ready: collections.deque[str] = collections.deque(k for k, n in self.waiting_on.items() if n == 0)
        self.remaining = len(steps)
        self.worker_queue: collections.deque[tuple[str, int]] = collections.deque()
        self.local_queue: collections.deque[str] = collections.deque()
        self.async_queue: collections.deque[str] = collections.deque()
        self.idle: list[Worker] = []
        self.leased: list[Worker] = []
        self.in_flight: dict[Worker, _InFlight] = {}
        self.threads_busy = 0
        self.local_busy = False
        self.async_busy = 0
        self.results: queue.SimpleQueue[tuple[str, StepOutcome]] = queue.SimpleQueue()
        self._wake_r, self._wake_w = -1, -1
        self._local_thread: Any = None
        self._loop_thread: _LoopThread | None = None
        self._run_token = 0
        self._run_blob: bytes | None = None
        self._local_state: Any = None
        self.pools = run.step_pools
        self.claims = run.pool_claims() if self.pools else None
        #: steps waiting for pool slots: [due (monotonic), queue, key, retries_used]
        self.pool_waiting: list[list[Any]] = []
        #: workers in a retry's backoff: [due (monotonic), worker, key]
        self.backoffs: list[list[Any]] = []
        self.cancelled = False
        self._replaced = 0
        self._poller = select.poll()
        self._watched: dict[int, Worker] = {}  # pipe fd -> worker
        self._sentinels: dict[int, Worker] = {}  # process sentinel -> worker

    # ------------------------------------------------------------------ main
    def execute(self) -> None:
        self._warn_local_steps()
        worker_steps = sum(1 for key in self.steps if self.placement[key] == WORKER
                           and key not in self.run.completed)
        try:
            if worker_steps:
                # lease before any thread starts, so that workers can be forked cheaply and safely
                self.leased = get_pool().lease(min(self.max_workers, worker_steps))
                self.idle = list(self.leased)
            self._loop()
        finally:
            self._cleanup()

    def _loop(self) -> None:
        run = self.run
        while self.remaining:
            while self.ready:
                self._route(self.ready.popleft())
            if not self.cancelled and run.cancel_requested():
                self.cancelled = True
            if self.cancelled:
                self._drop_queued()
                if run.stop_reason in ("interrupted", "terminated"):
                    break  # _cleanup terminates the steps in flight; the run records them as not run
            else:
                self._wake_due_pool_waiters()
                self._dispatch()
            self._answer_due_backoffs()
            if not self.in_flight and not self.threads_busy and not self.pool_waiting:
                if self.ready:
                    continue
                break  # cancelled, or nothing left that can start
            self._wait()

    def _drop_queued(self) -> None:
        """After cancellation: steps that have not started never will."""
        self.worker_queue.clear()
        self.local_queue.clear()
        self.async_queue.clear()
        if self.claims is not None:
            for _, _, key, _ in self.pool_waiting:
                self.claims.abandon(key)
        self.pool_waiting.clear()

    def _route(self, key: str) -> None:
        run = self.run
        planned = self.steps[key]
        if key in run.completed:
            self._done(key)
            return
        cause = run.upstream_failure(planned)
        if cause is not None:
            run.record(skip_step(planned.runtime, self.state, cause))
            self._done(key)
            return
        where = self.placement[key]
        if where == WORKER:
            self.worker_queue.append((key, 0))
        elif where == ASYNC:
            self.async_queue.append(key)
        else:
            self.local_queue.append(key)

    def _done(self, key: str) -> None:
        self.remaining -= 1
        for dependant in self.dependants.get(key, ()):
            count = self.waiting_on[dependant] - 1
            self.waiting_on[dependant] = count
            if count == 0:
                self.ready.append(dependant)

    def _record(self, outcome: StepOutcome) -> None:
        self.run.record(outcome)
        if self.claims is not None and outcome.key in self.pools:
            self.claims.release(outcome.key)
        self._done(outcome.key)

    def _step_started(self, key: str) -> None:
        observers = self.run.observers
        if observers.active:
            from rivers.plugins.events import StepStarted

            observers.step_started(StepStarted(self.run.run_id, key))

    # -------------------------------------------------------------- dispatch
    def _dispatch(self) -> None:
        if self.worker_queue and not self.idle and len(self.leased) < self.max_workers:
            fresh = get_pool().lease(min(self.max_workers - len(self.leased), len(self.worker_queue)))
            self.leased.extend(fresh)
            self.idle.extend(fresh)
        while self.worker_queue and self.idle:
            worker = self.idle[-1]
            if not worker.alive():  # died while idle
                self._forget_worker(worker)
                self._replace_worker()
                continue
            key, retries_used = self.worker_queue.popleft()
            if self._claimed(key, WORKER, retries_used):
                self._submit(self.idle.pop(), self.steps[key], retries_used)
        while self.async_queue and (self.max_async is None or self.async_busy < self.max_async):
            key = self.async_queue.popleft()
            if self._claimed(key, ASYNC, 0):
                self._start_async(self.steps[key])
        while self.local_queue and not self.local_busy:
            key = self.local_queue.popleft()
            if self._claimed(key, LOCAL, 0):
                self._start_local(self.steps[key])

    # ----------------------------------------------------------------- pools
    def _claimed(self, key: str, where: str, retries_used: int) -> bool:
        """Whether ``key`` may start now: no pools, or its slots were just claimed (else it waits)."""
        pools = self.pools.get(key) if self.pools else None
        if pools is None or self.claims.holds(key):
            return True
        from rivers.execution.pools import claim_timed_out, claim_timeout, poll_interval

        status = self.claims.try_claim(key, pools)
        if status.is_claimed:
            return True
        waited = self.claims.waited(key)
        if waited >= claim_timeout():
            self.claims.abandon(key)
            planned = self.steps[key]
            self._step_started(key)
            self._record(_payload.failed_outcome(planned.runtime, self.state,
                                                 claim_timed_out(key, pools, waited, status.reason)))
            return False
        self.pool_waiting.append([time.monotonic() + poll_interval(), where, key, retries_used])
        return False

    def _wake_due_pool_waiters(self) -> None:
        """Put steps whose next claim attempt is due back at the front of their queue."""
        if not self.pool_waiting:
            return
        now = time.monotonic()
        due = [entry for entry in self.pool_waiting if entry[0] <= now]
        if not due:
            return
        self.pool_waiting = [entry for entry in self.pool_waiting if entry[0] > now]
        for _, where, key, retries_used in reversed(due):
            if where == WORKER:
                self.worker_queue.appendleft((key, retries_used))
            elif where == ASYNC:
                self.async_queue.appendleft(key)
            else:
                self.local_queue.appendleft(key)

    def _answer_due_backoffs(self) -> None:
        """Tell workers whose retry backoff is over to go on (once their pool slots are back)."""
        if not self.backoffs:
            return
        now = time.monotonic()
        waiting = []
        for entry in self.backoffs:
            due, worker, key = entry
            if due > now and not self.cancelled:
                waiting.append(entry)
                continue
            answer = "go"
            if self.cancelled:
                answer = "stop"
            elif self.claims is not None and key in self.pools:
                from rivers.execution.pools import claim_timeout, poll_interval

                if not self.claims.try_claim(key, self.pools[key]).is_claimed:
                    if self.claims.waited(key) < claim_timeout():
                        waiting.append([now + poll_interval(), worker, key])
                        continue
                    self.claims.abandon(key)
                    answer = "stop"
            try:
                worker.send(pickle.dumps(answer))
            except OSError:
                pass  # the worker died: its sentinel reports it
        self.backoffs = waiting

    def _submit(self, worker: Worker, planned: PlannedStep, retries_used: int) -> None:
        runtime = planned.runtime
        if self._run_blob is None:
            with _token_lock:
                _run_tokens[0] += 1
                self._run_token = _run_tokens[0]
            self._run_blob = _payload.dumps_run_header(self.state)
        token, blob = _encoded_runtime(runtime, self._run_token)
        if isinstance(blob, Exception):
            self.idle.append(worker)
            self._step_started(planned.key)
            self._record(_payload.failed_outcome(runtime, self.state, blob))
            return
        versions, persisted = _payload.step_inputs(runtime, self.state)
        known = worker.known_runtimes
        message = _payload.step_message(
            token, None if token in known else blob,
            self._run_token, None if worker.run_token == self._run_token else self._run_blob,
            runtime.key, planned.selected, versions, persisted, retries_used,
            _payload.new_event_prefix(self.state.run_id),
        )
        if not retries_used:
            self._step_started(planned.key)
        try:
            worker.send(message)
        except OSError:
            self._fly(worker, _InFlight(planned, retries_used))
            self._worker_died(worker)
            return
        known.add(token)
        worker.run_token = self._run_token
        self._fly(worker, _InFlight(planned, retries_used))

    def _fly(self, worker: Worker, flight: _InFlight) -> None:
        """Mark ``worker`` busy with ``flight`` and watch its pipe and process."""
        self.in_flight[worker] = flight
        conn_fd, sentinel = worker.fd, worker.sentinel
        self._watched[conn_fd] = worker
        self._sentinels[sentinel] = worker
        self._poller.register(conn_fd, select.POLLIN)
        self._poller.register(sentinel, select.POLLIN)

    def _land(self, worker: Worker) -> _InFlight:
        """Stop watching ``worker``; its flight."""
        for fd, table in ((worker.fd, self._watched), (worker.sentinel, self._sentinels)):
            if table.pop(fd, None) is not None:
                try:
                    self._poller.unregister(fd)
                except (KeyError, ValueError):
                    pass
        return self.in_flight.pop(worker)

    def _start_local(self, planned: PlannedStep) -> None:
        if self._local_thread is None:
            from concurrent.futures import ThreadPoolExecutor

            self._local_thread = ThreadPoolExecutor(1, thread_name_prefix="rivers-local-steps")
            self._local_state = _payload.PrefixedRunState.derive(self.state, _payload.new_event_prefix(
                self.state.run_id))
        self.local_busy = True
        self.threads_busy += 1
        self._step_started(planned.key)
        self._ensure_wakeup()
        self._local_thread.submit(self._run_in_thread, planned, self._local_state, LOCAL)

    def _start_async(self, planned: PlannedStep) -> None:
        if self._loop_thread is None:
            self._loop_thread = _LoopThread()
        state = _payload.PrefixedRunState.derive(self.state, _payload.new_event_prefix(self.state.run_id))
        state.loop = self._loop_thread
        self.async_busy += 1
        self.threads_busy += 1
        self._step_started(planned.key)
        self._ensure_wakeup()
        threading.Thread(target=self._run_in_thread, args=(planned, state, ASYNC), daemon=True,
                         name=f"rivers-async-{planned.key}").start()

    def _run_in_thread(self, planned: PlannedStep, state: Any, where: str) -> None:
        try:
            outcome = run_step(planned.runtime, state, planned.selected)
        except BaseException as error:  # noqa: BLE001 - run_step only lets BaseExceptions through
            outcome = _payload.failed_outcome(planned.runtime, state, error)
        self.results.put((where, outcome))
        os.write(self._wake_w, b"x")

    def _ensure_wakeup(self) -> None:
        if self._wake_r < 0:
            self._wake_r, self._wake_w = os.pipe()
            self._poller.register(self._wake_r, select.POLLIN)

    # ------------------------------------------------------------------ wait
    def _wait(self) -> None:
        timeout = _TICK_S
        if self.pool_waiting or self.backoffs:
            now = time.monotonic()
            soonest = min(entry[0] for entry in self.pool_waiting + self.backoffs)
            timeout = min(timeout, max(soonest - now, 0.0))
        if not self.in_flight and self._wake_r < 0:
            time.sleep(timeout)
            return
        try:
            events = self._poller.poll(timeout * 1000)
        except InterruptedError:  # pragma: no cover - PEP 475 retries; kept for safety
            return
        exited = []
        wake = False
        for fd, _ in events:
            worker = self._watched.get(fd)
            if worker is not None:
                if worker in self.in_flight:
                    self._read_worker(worker)
                continue
            worker = self._sentinels.get(fd)
            if worker is not None:
                exited.append(worker)
            elif fd == self._wake_r:
                wake = True
        for worker in exited:
            if worker in self.in_flight:
                self._worker_exited(worker)
            elif worker in self.idle:  # it sent its result, then died: never give it another step
                self._forget_worker(worker)
                self._replace_worker()
        if wake:
            os.read(self._wake_r, 4096)
            self._drain_threads()

    def _drain_threads(self) -> None:
        while True:
            try:
                where, outcome = self.results.get_nowait()
            except queue.Empty:
                return
            self.threads_busy -= 1
            if where == LOCAL:
                self.local_busy = False
            else:
                self.async_busy -= 1
            self._record(outcome)

    def _read_worker(self, worker: Worker) -> None:
        try:
            data = worker.conn.recv_bytes()
        except (EOFError, OSError):
            self._worker_died(worker)
            return
        kind = data[:1]
        if kind == b"M":
            self._answer(worker, pickle.loads(data[1:]))
            return
        flight = self._land(worker)
        self.idle.append(worker)
        result = pickle.loads(data[1:])
        planned = flight.planned
        if "load_error" in result:
            error = _payload.error_from_info(result["load_error"])
            self._record(_payload.failed_outcome(planned.runtime, self.state, _cannot_load(planned.key, error)))
            return
        outcome = _payload.outcome_from_result(result)
        if flight.retries_used:
            # the first attempt's StepStart was recorded when its worker died
            outcome.events = [e for e in outcome.events if e.event_type != "StepStart"]
        if outcome.data_versions:
            self.state.data_versions.update(outcome.data_versions)
        if result["self_persisted"]:
            self.state.self_persisted.update(result["self_persisted"])
        self._record(outcome)

    def _answer(self, worker: Worker, request: tuple[Any, ...]) -> None:
        kind = request[0]
        if kind == "retry_wait":
            _, key, delay = request
            if self.claims is not None:
                self.claims.release(key)  # nobody waits on our slots while we back off
            self.backoffs.append([time.monotonic() + delay, worker, key])
            return
        worker.send(pickle.dumps(None))  # pragma: no cover - unknown requests get an empty answer

    def _worker_exited(self, worker: Worker) -> None:
        # a worker may have sent its result just before exiting
        try:
            if worker.conn.poll():
                self._read_worker(worker)
                if worker not in self.in_flight:
                    self._forget_worker(worker)
                    return
        except (EOFError, OSError):
            pass
        self._worker_died(worker)

    def _forget_worker(self, worker: Worker) -> None:
        if worker in self.idle:
            self.idle.remove(worker)
        if worker in self.leased:
            self.leased.remove(worker)
        worker.kill()

    def _worker_died(self, worker: Worker) -> None:
        flight = self._land(worker)
        self.backoffs = [entry for entry in self.backoffs if entry[1] is not worker]
        description = worker.exit_description()
        self._forget_worker(worker)
        if self.claims is not None:
            self.claims.release(flight.planned.key)
        planned = flight.planned
        runtime = planned.runtime
        error = WorkerLostError(
            f"worker process {worker.pid} {description} while running step '{runtime.key}'; "
            "the step failed, the pool replaces the worker"
        )
        from rivers.execution.retry import FailureReason

        reason = FailureReason.INFRASTRUCTURE
        policy = runtime.retry if runtime.retry is not None else self.state.retry_default
        attempt = flight.retries_used + 1
        if flight.retries_used == 0:
            start = self.state.event("StepStart", runtime.key)
            start = start._replace(timestamp=flight.dispatched_ns)
        else:
            start = None
        if (policy is not None and attempt <= policy.max_retries and not runtime.is_generator_multi
                and policy.admits(error, reason)):
            delay = policy.delay(attempt)
            outcome = StepOutcome(runtime.key)
            if start is not None:
                outcome.events.append(start)
            outcome.events.append(self.state.event("StepRetry", runtime.key, metadata=[
                ("rivers/attempt", str(attempt)),
                ("rivers/failure_reason", reason.value),
                ("rivers/next_delay_ms", str(int(delay * 1000))),
            ]))
            self.run._writer.add(outcome.events, outcome.logs)
            self.pool_waiting.append([time.monotonic() + delay, WORKER, runtime.key, attempt])  # retried when due
            self._replace_worker()
            return
        from rivers.execution.step_runner import _record_failure

        outcome = StepOutcome(runtime.key)
        if start is not None:
            outcome.events.append(start)
        _record_failure(runtime, self.state, outcome, error, reason)
        self._record(outcome)
        self._replace_worker()

    def _replace_worker(self) -> None:
        """Keep the run's width: lease a fresh worker if steps still wait for one."""
        if len(self.leased) < self.max_workers and self.remaining:
            self._replaced += 1
            if self._replaced > 4 * self.max_workers + 2 * len(self.steps):
                from rivers.exceptions import ExecutionError

                raise ExecutionError(
                    f"worker processes keep dying ({self._replaced} replaced in this run); last exit: see the "
                    "failed steps. Check that `python -c 'import rivers'` works in this environment"
                )
            fresh = get_pool().lease(1)
            self.leased.extend(fresh)
            self.idle.extend(fresh)

    # --------------------------------------------------------------- cleanup
    def _cleanup(self) -> None:
        while self.threads_busy:
            # a step thread is still running (an error in the scheduler): wait for it
            where, outcome = self.results.get()
            self.threads_busy -= 1
            self.run.record(outcome)
        for worker in list(self.in_flight):
            # an error in the scheduler left steps running: stop them, never reuse those workers
            self._land(worker)
            self._forget_worker(worker)
        if self.leased:
            get_pool().give_back(self.leased)
            self.leased = []
        if self._local_thread is not None:
            self._local_thread.shutdown(wait=True)
        if self._local_state is not None:
            self._local_state.close()
        if self._loop_thread is not None:
            self._loop_thread.stop()
        if self._wake_r >= 0:
            os.close(self._wake_r)
            os.close(self._wake_w)

    def _warn_local_steps(self) -> None:
        if not self.executor._warn_in_memory:
            return
        names = [key for key, where in self.placement.items()
                 if where == LOCAL and executor_override(self.steps[key].runtime) != "in_process"
                 and key not in self.run.completed
                 and (not self.default_local or executor_override(self.steps[key].runtime) == "parallel")]
        if names:
            listed = ", ".join(f"'{name}'" for name in names)
            warnings.warn(
                f"Executor.parallel(): steps {listed} use the in-memory IO handler, which cannot cross processes; "
                "they run in the controller process, one at a time. Give them a file-backed IO handler "
                "(e.g. rs.io_handler('fs', base_dir=...)) to run them in worker processes, or set "
                "metadata={'rivers/executor': 'in_process'} to silence this warning",
                UserWarning,
                stacklevel=7,
            )


def _cannot_load(key: str, error: BaseException) -> BaseException:
    from rivers.exceptions import ExecutionError

    if isinstance(error, ExecutionError):
        return error
    return ExecutionError(
        f"Asset '{key}' could not be loaded in the worker process: {type(error).__name__}: {error}. "
        "Its function, IO handler and resources must be importable there (module-level definitions in a module "
        "on sys.path)"
    )


__all__ = ["execute_parallel", "executor_override", "placement", "uses_memory_handler"]
