"""The parallel executor's launcher: step attempts in warm worker processes.

Each attempt goes to a leased worker of the process-wide
:mod:`~rivers.execution.worker_pool` as a wire
:class:`~rivers.execution.wire.StepRequest`; the worker loads the step's
inputs and writes its outputs itself, through the IO handlers, and answers
with a :class:`~rivers.execution.wire.StepReport`. Workers cache decoded
runtimes and run headers by token, so a step's definition crosses the pipe
once per worker. The scheduler watches each busy worker's pipe and process
sentinel (poll style): a worker that dies mid-step is reported lost, which
fails (or retries) only that step, and a fresh worker takes its place.

Inside a worker process (a daemon, which may not start processes) the
launcher runs attempts inline instead.
"""

from __future__ import annotations

import itertools
import multiprocessing
import threading
from typing import TYPE_CHECKING

from rivers.exceptions import ExecutionError
from rivers.execution import wire
from rivers.execution.launcher import LaunchContext, LauncherCapabilities, StepAttempt, StepLauncher
from rivers.execution.runtime_transport import encode_runtime
from rivers.execution.outcome import StepOutcome
from rivers.execution.step_runner import failed_outcome
from rivers.execution.worker_pool import Worker, WorkerLostError, get_pool

if TYPE_CHECKING:
    from rivers.execution.local_launchers import InlineLauncher
    from rivers.execution.runtime import StepRuntime

_tokens = itertools.count(1)
_token_lock = threading.Lock()


def _next_token() -> int:
    with _token_lock:
        return next(_tokens)


def encoded_runtime(runtime: StepRuntime, run_token: int) -> tuple[int, bytes | Exception]:
    """A process-unique token for ``runtime`` and its bytes (or why it cannot be sent), cached on the runtime.

    Encoded once per process; runtimes with notebook functions sent by value
    once per run (a cell may have redefined them since).
    """
    cached = runtime.wire_cache
    if cached is not None and cached[2] in (0, run_token):
        return cached[0], cached[1]
    volatile = False
    blob: bytes | Exception
    try:
        blob, volatile = encode_runtime(runtime)
    except Exception as error:  # noqa: BLE001 - recorded as the step's failure
        blob = error
    token = _next_token()
    runtime.wire_cache = (token, blob, run_token if volatile else 0)
    return token, blob


def outcome_of_report(context: LaunchContext, attempt: StepAttempt, report: wire.StepReport) -> StepOutcome:
    """The outcome a runner's :class:`~rivers.execution.wire.StepReport` stands for.

    A runner that could not load the step gives a failed outcome (:func:`cannot_load`); otherwise the
    values it persisted and its data versions are recorded in the run's state. For every launcher whose
    runners answer with wire reports (worker processes, pods).
    """
    if report.status == "load_error":
        error = cannot_load(attempt.key, wire.report_error(report))
        return failed_outcome(attempt.planned.runtime, context.state, error, announce=attempt.announce)
    if report.self_persisted:
        context.state.self_persisted.update(report.self_persisted)
    outcome = wire.outcome_of(report)
    if outcome.data_versions:
        context.state.data_versions.update(outcome.data_versions)
    return outcome


def cannot_load(key: str, error: BaseException) -> BaseException:
    """The error of a step whose request a worker could not decode."""
    if isinstance(error, ExecutionError):
        return error
    return ExecutionError(
        f"Asset '{key}' could not be loaded in the worker process: {type(error).__name__}: {error}. "
        "Its function, IO handler and resources must be importable there (module-level definitions in a module "
        "on sys.path)"
    )


class ProcessLauncher(StepLauncher):
    """Runs attempts in up to ``max_workers`` leased worker processes."""

    name = "processes"
    capabilities = LauncherCapabilities(process_local_values=False, needs_importable=True)

    def __init__(self, max_workers: int) -> None:
        self.max_workers = max_workers
        self._inline: InlineLauncher | None = None
        self.idle: list[Worker] = []
        self.leased: list[Worker] = []
        self.busy: dict[Worker, StepAttempt] = {}
        self._replaced = 0
        self._run_token = 0
        self._run_blob: bytes | None = None
        self._expected = 0

    def open(self, context: LaunchContext, expected: int = 0) -> None:
        super().open(context, expected)
        self._expected = expected
        if multiprocessing.current_process().daemon:
            # a worker process running a nested run: daemons may not start processes, steps run here
            from rivers.execution.local_launchers import InlineLauncher

            self._inline = InlineLauncher()
            self._inline.open(context, expected)
            return
        if expected:
            # lease before any thread of the run starts, so that workers can be forked cheaply and safely
            self.leased = get_pool().lease(min(self.max_workers, expected))
            self.idle = list(self.leased)

    def has_room(self) -> bool:
        return self._inline is not None or bool(self.idle) or len(self.leased) < self.max_workers

    # ---------------------------------------------------------------- launch
    def launch(self, attempt: StepAttempt) -> None:
        if self._inline is not None:
            self._inline.launch(attempt)
            return
        context = self.context
        runtime = attempt.planned.runtime
        if not self._run_token:
            self._run_token = _next_token()
            self._run_blob = wire.RunHeader.of(context.state).to_bytes()
        token, blob = encoded_runtime(runtime, self._run_token)
        if isinstance(blob, Exception):
            context.report(attempt, failed_outcome(runtime, context.state, blob, announce=attempt.announce))
            return
        worker = self._idle_worker()
        data = context.request(
            attempt, runtime_token=token, runtime_blob=None if token in worker.known_runtimes else blob,
            run_token=self._run_token, run_blob=None if worker.run_token == self._run_token else self._run_blob,
        )
        attempt.handle = worker
        self.busy[worker] = attempt
        context.watch(worker.fd, lambda: self._readable(worker))
        context.watch(worker.sentinel, lambda: self._exited(worker))
        try:
            worker.send(data)
        except OSError:
            self._lost(worker)
            return
        worker.known_runtimes.add(token)
        worker.run_token = self._run_token

    def _idle_worker(self) -> Worker:
        while True:
            if not self.idle:
                fresh = get_pool().lease(1)
                self.leased.extend(fresh)
                self.idle.extend(fresh)
            worker = self.idle.pop()
            if worker.alive():
                return worker
            self._forget(worker)  # died while idle

    # --------------------------------------------------------------- reports
    def _readable(self, worker: Worker) -> None:
        if worker not in self.busy:
            return
        try:
            data = worker.conn.recv_bytes()
        except (EOFError, OSError):
            self._lost(worker)
            return
        attempt = self._land(worker)
        self.idle.append(worker)
        context = self.context
        runtime = attempt.planned.runtime
        try:
            report = wire.decode(data, wire.StepReport)
        except Exception as error:  # noqa: BLE001 - e.g. a worker of another rivers version
            context.report(attempt, failed_outcome(runtime, context.state, error, announce=attempt.announce))
            return
        context.report(attempt, outcome_of_report(context, attempt, report))

    def _exited(self, worker: Worker) -> None:
        if worker not in self.busy:
            return
        try:
            if worker.conn.poll():  # it sent its report just before exiting
                self._readable(worker)
                if worker not in self.busy:
                    self._forget(worker)
                    return
        except (EOFError, OSError):
            pass
        self._lost(worker)

    def _lost(self, worker: Worker) -> None:
        attempt = self._land(worker)
        description = worker.exit_description()
        self._forget(worker)
        self._replaced += 1
        if self._replaced > 4 * self.max_workers + 2 * max(self._expected, 1):
            raise ExecutionError(
                f"worker processes keep dying ({self._replaced} replaced in this run); last exit: see the "
                "failed steps. Check that `python -c 'import rivers'` works in this environment"
            )
        self.context.report_lost(attempt, WorkerLostError(
            f"worker process {worker.pid} {description} while running step '{attempt.key}'; "
            "the step failed, the pool replaces the worker"
        ))

    def _land(self, worker: Worker) -> StepAttempt:
        self.context.unwatch(worker.fd)
        self.context.unwatch(worker.sentinel)
        return self.busy.pop(worker)

    def _forget(self, worker: Worker) -> None:
        if worker in self.idle:
            self.idle.remove(worker)
        if worker in self.leased:
            self.leased.remove(worker)
        worker.kill()

    # -------------------------------------------------------------- teardown
    def terminate(self, attempt: StepAttempt) -> None:
        worker = attempt.handle
        if worker in self.busy:
            self._land(worker)
            self._forget(worker)

    def close(self) -> None:
        for worker in list(self.busy):
            # steps still running (a stop request, or an error in the scheduler): never reuse those workers
            self._land(worker)
            self._forget(worker)
        if self.leased:
            get_pool().give_back(self.leased)
            self.leased = []
            self.idle = []
        if self._inline is not None:
            self._inline.close()


__all__ = ["ProcessLauncher", "cannot_load", "encoded_runtime", "outcome_of_report"]
