"""The runner's side of the wire protocol: decode a step request, run the attempt, report.

A pool worker process, ``python -m rivers.worker`` and (next) a Kubernetes
pod all call :func:`run_request`: it decodes the
:class:`~rivers.execution.wire.StepRequest` (with the runtimes and run
headers the process has cached), sets up the step's resources, runs one
attempt with :func:`~rivers.execution.step_runner.run_attempt` — inputs
loaded and outputs written here, through the IO handlers — and returns the
:class:`~rivers.execution.wire.StepReport`.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

from rivers.execution import wire
from rivers.execution.pickling import loads
from rivers.execution.runtime_transport import runtime_from_state

if TYPE_CHECKING:
    from rivers.execution.runtime import StepRuntime


class RunnerCache:
    """Runtimes and run headers a runner process has already decoded, by token."""

    def __init__(self, max_runtimes: int = 4096, *, sync_environment: bool = False) -> None:
        #: make cwd, environment and sys.path match each run's controller (pool workers only)
        self.sync_environment = sync_environment
        self.runtimes: dict[int, StepRuntime] = {}
        self.runs: dict[int, wire.RunHeader] = {}
        self.max_runtimes = max_runtimes

    def runtime(self, token: int, blob: bytes | None) -> StepRuntime:
        if blob is None:
            return self.runtimes[token]
        runtime = runtime_from_state(loads(blob))
        if token:
            if len(self.runtimes) >= self.max_runtimes:
                self.runtimes.pop(next(iter(self.runtimes)))
            self.runtimes[token] = runtime
        return runtime

    def run(self, token: int, blob: bytes | None) -> wire.RunHeader:
        if blob is None:
            return self.runs[token]
        header = wire.RunHeader.from_bytes(blob)
        if self.sync_environment:
            header.apply()
        if token:
            if len(self.runs) >= 16:
                self.runs.pop(next(iter(self.runs)))
            self.runs[token] = header
        return header


def run_request(data: bytes, cache: RunnerCache | None = None) -> wire.StepReport:
    """Run the attempt ``data`` asks for and report it (never raises for step or request errors)."""
    decoded = _decode(data, cache or RunnerCache())
    if isinstance(decoded, wire.StepReport):
        return decoded
    return _run_decoded(*decoded)


def run_chain(requests: Sequence[bytes], cache: RunnerCache | None = None) -> Iterator[wire.StepReport]:
    """Run a bundle of attempts in order, yielding each one's report as soon as it is made.

    The requests are of a chain of steps (each later one may read what the
    earlier ones wrote): each attempt sees the data versions and
    self-persisted outputs the earlier ones reported, which its controller
    could not know when it built the requests. It stops after the first
    attempt that did not succeed (its dependants are the scheduler's to
    retry, skip or run elsewhere). Never raises for step or request errors.
    """
    cache = cache or RunnerCache()
    versions: dict[str, str] = {}
    persisted: set[str] = set()
    for data in requests:
        decoded = _decode(data, cache)
        if isinstance(decoded, wire.StepReport):
            yield decoded
            return
        runtime, header, request = decoded
        upstreams = [load.upstream for load in runtime.inputs]
        request.data_versions = {**request.data_versions,
                                 **{name: versions[name] for name in upstreams if name in versions}}
        known = request.self_persisted
        request.self_persisted = [*known, *(name for name in upstreams if name in persisted and name not in known)]
        report = _run_decoded(runtime, header, request)
        yield report
        if report.status != "success":
            return
        versions.update(report.data_versions)
        persisted.update(report.self_persisted)


def _decode(data: bytes, cache: RunnerCache) -> tuple[StepRuntime, wire.RunHeader, wire.StepRequest] | wire.StepReport:
    """The runtime, run header and request of ``data``, or the ``load_error`` report saying why not."""
    started = time.perf_counter()
    key = "?"
    try:
        request = wire.decode(data, wire.StepRequest)
        key = request.key
        header = cache.run(request.run_token, request.run)
        runtime = cache.runtime(request.runtime_token, request.runtime)
    except BaseException as error:  # noqa: BLE001 - reported to the controller, which fails the step
        return wire.load_error_report(key, error, time.perf_counter() - started)
    return runtime, header, request


def _run_decoded(runtime: StepRuntime, header: wire.RunHeader, request: wire.StepRequest) -> wire.StepReport:
    from rivers.execution.log_capture import StepLogCapture
    from rivers.execution.step_runner import PrefixedRunState, RunState, failed_outcome, run_attempt
    from rivers.resources import Resource

    state = PrefixedRunState.__new__(PrefixedRunState)
    RunState.__init__(state, header.run_id, None, header.config, header.retry_default, header.partition)
    state.event_prefix = request.event_prefix
    state.data_versions.update(request.data_versions)
    persisted = request.self_persisted
    state.self_persisted.update(persisted)
    state.log_capture = StepLogCapture.install()
    resources = [value for _, value in runtime.resource_args if isinstance(value, Resource)]
    ready: list[Resource] = []
    try:
        try:
            for resource in resources:
                resource.setup()
                ready.append(resource)
            outcome = run_attempt(runtime, state, request.selected, request.attempt, request.announce)
        except BaseException as error:  # noqa: BLE001 - a resource's setup, SystemExit & co.: the step failed
            outcome = failed_outcome(runtime, state, error, announce=request.announce)
    finally:
        for resource in ready:
            try:
                resource.teardown()
            except Exception:  # noqa: BLE001 - like CodeRepository.shutdown(): logged, not raised
                logging.getLogger("rivers").exception("teardown of a resource of step '%s' failed", request.key)
        state.close()
        sys.stdout.flush()
        sys.stderr.flush()
    new_persisted = [name for name in state.self_persisted if name not in persisted]
    return wire.report_of(outcome, new_persisted)


def encode_report(report: wire.StepReport) -> bytes:
    """The report's bytes; a report that cannot be pickled (e.g. an odd log object) becomes a load error."""
    try:
        return report.encode()
    except Exception as error:  # noqa: BLE001 - the controller fails the step with this error
        return wire.load_error_report(report.key, error).encode()


__all__ = ["RunnerCache", "encode_report", "run_chain", "run_request"]
